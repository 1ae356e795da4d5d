"""``LedgerStore`` in memory: the append path's state as dicts, for tests of the domain and the services
that should not need a database (and as the reference the SQL store is held to).

It keeps what the SQL store keeps for the append path and reads it back the same way; it has no
transactions (a test that needs rollback uses the SQL store), so the connection argument is unused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from raretrace.crypto.keys import PublicKey
from raretrace.custody.records import BatchWrite, KeyRecord, TransferRecord
from raretrace.errors import StoreError
from raretrace.model import Facility, Lot

NO_REGISTRY = "this store holds no raretrace registry; run `raretrace init --origin …` first"


@dataclass(frozen=True)
class Checkpoint:
    size: int
    root: bytes
    note: str
    created_at: str


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
        self.lot_inputs.extend((r["seq"], r["child"], r["parent"], r["mass_kg"]) for r in batch.lot_inputs)
        grouped: dict[int, list[str]] = {}
        senders: dict[int, tuple[str, str]] = {}
        for row in batch.transfers:
            grouped.setdefault(row["seq"], []).append(row["lot_id"])
            senders[row["seq"]] = (row["sender"], row["receiver"])
        for seq, lots in grouped.items():
            event_id = self._event_ids_by_seq[seq]
            sender, receiver = senders[seq]
            self.transfer_table[event_id] = TransferRecord(event_id, seq, sender, receiver, tuple(lots))
        for transfer_seq, lot_id, receive_seq in batch.received:
            self.received[(transfer_seq, lot_id)] = receive_seq
        self.meta["tree_size"] = str(tree_size)

    def insert_checkpoint(self, conn: object, size: int, root: bytes, note: str, created_at: str) -> None:
        self.checkpoints.append(Checkpoint(size, root, note, created_at))
