"""Every Protocol of ``store.protocol`` in memory: the registry's state as dicts, for tests of the domain
and the services that should not need a database (and as the reference the SQL store is held to).

It keeps what the SQL store keeps for the append path, a lot's history, certificates and the lineage
graph, and reads it back the same way; it has no transactions (a test that needs rollback uses the SQL
store), so the connection argument is unused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from raretrace.crypto.keys import PublicKey
from raretrace.custody.records import BatchWrite, KeyRecord, TransferRecord
from raretrace.errors import StoreError
from raretrace.jsontypes import JSONValue
from raretrace.model import Facility, Lot
from raretrace.store.certificates import CertificateRecord, LoggedEvent, PartyRow
from raretrace.store.lineage import Edge, OriginRow, SummaryRow, walk_generations
from raretrace.store.listings import FacilityListing, LotListing
from raretrace.store.lots import AssayRow, InputRow, ShipmentRow
from raretrace.store.participants import ParticipantRow, TokenHolder
from raretrace.store.store import composition_text

NO_REGISTRY = "this store holds no raretrace registry; run `raretrace init --origin …` first"


@dataclass(frozen=True)
class Checkpoint:
    size: int
    root: bytes
    note: str
    created_at: str


@dataclass(frozen=True)
class Token:
    """An API token as stored (by its hash, the key it is kept under)."""

    participant_id: str
    label: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None = None


@dataclass
class MemoryStore:
    meta: dict[str, str] = field(default_factory=dict)
    registry_keys: dict[str, tuple[bytes | None, bytes]] = field(default_factory=dict)
    facility_table: dict[str, tuple[Facility, int]] = field(default_factory=dict)
    key_table: dict[str, KeyRecord] = field(default_factory=dict)
    lot_table: dict[str, Lot] = field(default_factory=dict)
    event_table: dict[str, tuple[int, str]] = field(default_factory=dict)
    transfer_table: dict[str, TransferRecord] = field(default_factory=dict)
    received: dict[tuple[int, str], int] = field(default_factory=dict)  # (transfer seq, lot) -> receive seq
    lot_inputs: list[tuple[int, str, str, float]] = field(default_factory=list)  # seq, child, parent, kg
    checkpoints: list[Checkpoint] = field(default_factory=list)
    envelopes: dict[int, bytes] = field(default_factory=dict)  # seq -> envelope as received
    shipments: list[tuple[int, str, str, str]] = field(default_factory=list)  # seq, lot, sender, receiver
    assays: list[tuple[int, str, str, str]] = field(default_factory=list)  # seq, lot, lab, data (JSON)
    certificates: dict[str, tuple[CertificateRecord, int]] = field(default_factory=dict)  # id -> (, index)
    participant_table: dict[str, ParticipantRow] = field(default_factory=dict)
    participant_links: list[tuple[str, str]] = field(default_factory=list)  # (participant, facility)
    tokens: dict[str, Token] = field(default_factory=dict)  # token hash -> token
    _event_ids_by_seq: dict[int, str] = field(default_factory=dict)

    # --- meta ---------------------------------------------------------------------------------
    def get_meta(self, conn: object, key: str) -> str | None:
        return self.meta.get(key)

    def require_meta(self, conn: object, key: str) -> str:
        value = self.meta.get(key)
        if value is None:
            raise StoreError(NO_REGISTRY, field="db")
        return value

    def set_meta(self, conn: object, key: str, value: str) -> None:
        self.meta[key] = value

    def lock_head(self, conn: object) -> int:
        return int(self.require_meta(conn, "tree_size"))

    def registry_key(self, conn: object, role: str = "log") -> tuple[bytes | None, bytes]:
        if role not in self.registry_keys:
            raise StoreError("the registry has no signing key; was it initialized?", field="db")
        return self.registry_keys[role]

    def save_registry_key(self, conn: object, role: str, seed: bytes | None, public: bytes, now: str) -> None:
        self.registry_keys[role] = (seed, public)

    # --- state reads ----------------------------------------------------------------------------
    def facilities(self, conn: object, ids: Sequence[str]) -> dict[str, Facility]:
        return {i: self.facility_table[i][0] for i in ids if i in self.facility_table}

    def all_facilities(self, conn: object) -> list[Facility]:
        return [self.facility_table[i][0] for i in sorted(self.facility_table)]

    def keys(self, conn: object, key_ids: Sequence[str]) -> dict[str, KeyRecord]:
        return {k: self.key_table[k] for k in key_ids if k in self.key_table}

    def all_keys(self, conn: object) -> dict[str, KeyRecord]:
        return dict(self.key_table)

    def lots(self, conn: object, ids: Sequence[str]) -> dict[str, Lot]:
        return {i: self.lot_table[i] for i in ids if i in self.lot_table}

    def existing_event_ids(self, conn: object, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        return {i: self.event_table[i] for i in ids if i in self.event_table}

    def transfers(self, conn: object, event_ids: Sequence[str]) -> dict[str, TransferRecord]:
        return {i: self.transfer_table[i] for i in event_ids if i in self.transfer_table}

    # --- the one write of a batch ---------------------------------------------------------------
    def write_batch(self, conn: object, batch: BatchWrite, tree_size: int) -> None:
        for spec, seq in batch.facilities:
            self.facility_table[spec.id] = (spec, seq)
        for row in batch.new_keys:
            self.key_table[row["key_id"]] = KeyRecord(
                row["key_id"],
                row["facility_id"],
                PublicKey(bytes(row["public_key"])),
                row["valid_from"],
                row["valid_until"],
                row["revoked_at"],
            )
        for key_id, values in batch.key_updates.items():
            self.key_table[key_id] = replace(self.key_table[key_id], **values)
        self.lot_table.update(batch.new_lots)
        self.lot_table.update(batch.changed_lots)
        for row in batch.events:
            self.event_table[row["event_id"]] = (row["seq"], row["kind"])
            self._event_ids_by_seq[row["seq"]] = row["event_id"]
            self.envelopes[row["seq"]] = bytes(row["envelope"])
        self.assays.extend((r["seq"], r["lot_id"], r["lab"], r["data"]) for r in batch.assays)
        self.lot_inputs.extend((r["seq"], r["child"], r["parent"], r["mass_kg"]) for r in batch.lot_inputs)
        grouped: dict[int, list[str]] = {}
        senders: dict[int, tuple[str, str]] = {}
        for row in batch.transfers:
            grouped.setdefault(row["seq"], []).append(row["lot_id"])
            senders[row["seq"]] = (row["sender"], row["receiver"])
            self.shipments.append((row["seq"], row["lot_id"], row["sender"], row["receiver"]))
        for seq, lots in grouped.items():
            event_id = self._event_ids_by_seq[seq]
            sender, receiver = senders[seq]
            self.transfer_table[event_id] = TransferRecord(event_id, seq, sender, receiver, tuple(lots))
        for transfer_seq, lot_id, receive_seq in batch.received:
            self.received[(transfer_seq, lot_id)] = receive_seq
        self.meta["tree_size"] = str(tree_size)

    def insert_checkpoint(self, conn: object, size: int, root: bytes, note: str, created_at: str) -> None:
        self.checkpoints.append(Checkpoint(size, root, note, created_at))

    # --- a lot's history (LotHistory) -----------------------------------------------------------
    def inputs_of(self, conn: object, lot_id: str) -> list[InputRow]:
        return [InputRow(parent, kg, seq) for seq, child, parent, kg in self.lot_inputs if child == lot_id]

    def shipments_of(self, conn: object, lot_id: str) -> list[ShipmentRow]:
        return [
            ShipmentRow(seq, sender, receiver, self.received.get((seq, lot)))
            for seq, lot, sender, receiver in sorted(self.shipments)
            if lot == lot_id
        ]

    def assays_of(self, conn: object, lot_id: str) -> list[AssayRow]:
        return [AssayRow(seq, lab, json.loads(data)) for seq, lot, lab, data in self.assays if lot == lot_id]

    def assay_results(self, conn: object, lot_ids: Sequence[str]) -> list[tuple[str, dict[str, JSONValue]]]:
        wanted = set(lot_ids)
        return [(lot, json.loads(data)) for _, lot, _, data in self.assays if lot in wanted]

    # --- certificates (CertificateRecords) ------------------------------------------------------
    def logged_events(self, conn: object, seqs: Sequence[int]) -> list[LoggedEvent]:
        return [self._logged(seq) for seq in sorted(set(seqs)) if seq in self.envelopes]

    def _logged(self, seq: int) -> LoggedEvent:
        return LoggedEvent(seq, self.event_table[self._event_ids_by_seq[seq]][1], self.envelopes[seq])

    def event_by_id(self, conn: object, event_id: str) -> LoggedEvent | None:
        found = self.event_table.get(event_id)
        return None if found is None else self._logged(found[0])

    def parties(self, conn: object, ids: Sequence[str]) -> dict[str, PartyRow]:
        found = (self.facility_table[i] for i in sorted(set(ids)) if i in self.facility_table)
        return {f.id: PartyRow(f.id, f.name, f.operator, f.country, seq) for f, seq in found}

    def certificate_count(self, conn: object) -> int:
        return len(self.certificates)

    def record_certificate(self, conn: object, certificate: CertificateRecord, status_index: int) -> None:
        self.certificates[certificate.id] = (certificate, status_index)

    def find_certificate(self, conn: object, id_or_number: str) -> CertificateRecord | None:
        return next(
            (c for c, _ in self.certificates.values() if id_or_number in {c.id, c.number}),
            None,
        )

    def certificates_of_lot(self, conn: object, lot_id: str) -> list[CertificateRecord]:
        naming = [(c.issued_at, index, c) for c, index in self.certificates.values() if lot_id in c.lots]
        return [c for _, _, c in sorted(naming, key=lambda item: item[:2])]

    def set_revoked(self, conn: object, certificate_id: str, revoked_at: str, reason: str) -> None:
        found, index = self.certificates[certificate_id]
        revoked = replace(found, revoked_at=revoked_at, revocation_reason=reason)
        self.certificates[certificate_id] = (revoked, index)

    def revoked_indexes(self, conn: object) -> list[int]:
        return sorted(index for c, index in self.certificates.values() if c.revoked_at is not None)

    # --- the lineage graph (LineageReads) -------------------------------------------------------
    def edges_up(self, conn: object, children: Sequence[str]) -> list[Edge]:
        wanted = set(children)
        return [(child, parent, kg, seq) for seq, child, parent, kg in self.lot_inputs if child in wanted]

    def edges_down(self, conn: object, parents: Sequence[str]) -> list[Edge]:
        wanted = set(parents)
        return [(child, parent, kg, seq) for seq, child, parent, kg in self.lot_inputs if parent in wanted]

    def edges_reachable(self, conn: object, start: str, *, up: bool) -> list[Edge]:
        fetch = self.edges_up if up else self.edges_down
        return walk_generations(lambda lots: fetch(conn, lots), start, up=up)

    def summaries(self, conn: object, lot_ids: Sequence[str]) -> list[SummaryRow]:
        found = (self.lot_table[i] for i in dict.fromkeys(lot_ids) if i in self.lot_table)
        return [
            (x.id, x.spec.form.value, x.spec.mass_kg, x.producer, x.stage.value, x.deposit, x.custodian)
            for x in found
        ]

    def origins(self, conn: object, lot_ids: Sequence[str]) -> list[OriginRow]:
        found = (self.lot_table[i] for i in dict.fromkeys(lot_ids) if i in self.lot_table)
        return [(x.id, composition_text(x), x.origin_text) for x in found]

    # --- participants and tokens (ParticipantReads; the writes as store.participants has them) -------
    def insert_participant(
        self,
        conn: object,
        participant_id: str,
        name: str,
        role: str,
        created_at: str,
        facility_ids: Sequence[str],
    ) -> None:
        if participant_id in self.participant_table:
            raise StoreError(f"participant {participant_id} is stored already", field="id")
        self.participant_table[participant_id] = ParticipantRow(participant_id, name, role, created_at, None)
        self.participant_links.extend((participant_id, f) for f in facility_ids)

    def insert_token(
        self,
        conn: object,
        *,
        token_hash: str,
        participant_id: str,
        label: str | None,
        created_at: str,
        expires_at: str | None,
    ) -> None:
        self.tokens[token_hash] = Token(participant_id, label, created_at, expires_at)

    def revoke_live_tokens(self, conn: object, participant_id: str, revoked_at: str) -> int:
        live = [
            h for h, t in self.tokens.items() if t.participant_id == participant_id and t.revoked_at is None
        ]
        for token_hash in live:
            self.tokens[token_hash] = replace(self.tokens[token_hash], revoked_at=revoked_at)
        return len(live)

    def participant_exists(self, conn: object, participant_id: str) -> bool:
        return participant_id in self.participant_table

    def participant_disabled_at(self, conn: object, participant_id: str) -> tuple[bool, str | None]:
        found = self.participant_table.get(participant_id)
        return (False, None) if found is None else (True, found.disabled_at)

    def registered_facilities(self, conn: object, facility_ids: Sequence[str]) -> set[str]:
        return {f for f in facility_ids if f in self.facility_table}

    def token_holder(self, conn: object, token_hash: str) -> TokenHolder | None:
        token = self.tokens.get(token_hash)
        if token is None:
            return None
        p = self.participant_table[token.participant_id]
        held = frozenset(f for owner, f in self.participant_links if owner == p.id)
        return TokenHolder(p.id, p.name, p.role, p.disabled_at, token.expires_at, token.revoked_at, held)

    def all_participants(self, conn: object) -> list[ParticipantRow]:
        return [self.participant_table[i] for i in sorted(self.participant_table)]

    def facilities_by_participant(self, conn: object) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for owner, facility in self.participant_links:
            out.setdefault(owner, []).append(facility)
        return out

    def live_token_counts(self, conn: object) -> dict[str, int]:
        counts: dict[str, int] = {}
        for token in self.tokens.values():
            if token.revoked_at is None:
                counts[token.participant_id] = counts.get(token.participant_id, 0) + 1
        return counts

    def secretariat_token_expiries(self, conn: object) -> list[str | None]:
        holders = self.participant_table
        return [
            t.expires_at
            for t in self.tokens.values()
            if t.revoked_at is None
            and holders[t.participant_id].role == "secretariat"
            and holders[t.participant_id].disabled_at is None
        ]

    # --- the API's listings (Listings) ----------------------------------------------------------
    def lot_page(
        self, conn: object, facilities: Set[str] | None, *, limit: int, offset: int, after: str | None = None
    ) -> list[LotListing]:
        if facilities is None:
            ids = sorted(self.lot_table)
        else:
            moved = {lot for _, lot, sender, receiver in self.shipments if {sender, receiver} & facilities}
            ids = sorted(
                i
                for i, x in self.lot_table.items()
                if x.custodian in facilities or x.producer in facilities or i in moved
            )
        if after is not None:
            ids = [i for i in ids if i > after]
        page = (self.lot_table[i] for i in ids[offset : offset + limit])
        return [
            LotListing(
                x.id,
                x.spec.form.value,
                x.spec.mass_kg,
                x.remaining_kg,
                x.custodian,
                x.in_transit_to,
                x.producer,
                x.stage.value,
            )
            for x in page
        ]

    def transfer_sender(self, conn: object, event_id: str) -> str | None:
        found = self.transfer_table.get(event_id)
        return None if found is None else found.sender

    def transfer_parties(self, conn: object, event_id: str) -> set[str]:
        found = self.transfer_table.get(event_id)
        return set() if found is None else {found.sender, found.receiver}

    def facility_listing(self, conn: object) -> list[FacilityListing]:
        return [
            FacilityListing(
                f.id, f.name, f.operator, f.country, sorted(f.activities), dict(f.technology), f.accreditation
            )
            for f in self.all_facilities(conn)
        ]


if TYPE_CHECKING:  # mypy holds both stores to every Protocol of the boundary
    from sqlalchemy import Connection

    from raretrace.store.protocol import (
        CertificateRecords,
        LedgerStore,
        LineageReads,
        Listings,
        LotHistory,
        ParticipantReads,
    )
    from raretrace.store.store import Store

    def _both_implement_every_protocol(sql: Store, memory: MemoryStore) -> None:
        on_sql: tuple[
            LedgerStore[Connection],
            LotHistory[Connection],
            CertificateRecords[Connection],
            LineageReads[Connection],
            ParticipantReads[Connection],
            Listings[Connection],
        ] = (sql, sql, sql, sql, sql, sql)
        in_memory: tuple[
            LedgerStore[None],
            LotHistory[None],
            CertificateRecords[None],
            LineageReads[None],
            ParticipantReads[None],
            Listings[None],
        ] = (memory, memory, memory, memory, memory, memory)
        del on_sql, in_memory
