"""The registry's storage interface: reads of current state, and one write per appended batch.

``Store`` speaks SQLAlchemy Core only, so the same code serves SQLite and PostgreSQL; the few
dialect differences (locking the log head) sit in small methods here. Every method takes the
caller's connection: transactions belong to the service that runs the use case.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, insert, select, update

from raretrace.crypto.keys import PublicKey
from raretrace.custody.records import BatchWrite, KeyRecord, TransferRecord
from raretrace.errors import StoreError
from raretrace.model import Composition, Facility, Form, Lot, LotSpec, Stage, trusted
from raretrace.store import schema as t
from raretrace.store.certificates import SqlCertificates
from raretrace.store.envelopes import pack
from raretrace.store.lineage import SqlLineage
from raretrace.store.listings import SqlListings
from raretrace.store.lots import SqlLotHistory
from raretrace.store.participants import SqlParticipants
from raretrace.store.raw import (
    IN_CHUNK,
    RowUpdate,
    execute_many,
    execute_one,
    fetch_all,
    fetch_in,
    insert_many,
    pipelined,
    update_many,
)

_CHUNK = IN_CHUNK
T = TypeVar("T")
_FORMS = {form.value: form for form in Form}  # Enum(value) lookups cost more than the row itself
_STAGES = {stage.value: stage for stage in Stage}
_MUTABLE_LOT_COLUMNS = ("composition", "custodian", "in_transit_to", "remaining_kg", "void")

# The statements every appended batch runs whatever its size (the head, the tree size, the registry
# key, the checkpoint), built once and run through ``store.raw``: building a Core statement and going
# through ``Connection.execute`` cost more than the SQLite work, and a server appends a small batch
# per group commit (docs/server.md, the tails at 32 clients).
_META_VALUE = select(t.meta.c.value).where(t.meta.c.key == bindparam("key"))
_META_VALUE_LOCKED = _META_VALUE.with_for_update()
_META_SET = update(t.meta).where(t.meta.c.key == bindparam("v_key")).values(value=bindparam("v_value"))
_META_ADD = insert(t.meta)
_REGISTRY_KEY = select(t.registry_keys.c.seed, t.registry_keys.c.public_key).where(
    t.registry_keys.c.role == bindparam("role")
)
_CHECKPOINT_ADD = insert(t.checkpoints)


def chunks(items: Sequence[T], size: int = _CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: ``json.dumps(..., separators=(",", ":"))`` without building an encoder at every call (it does
#: when given separators): the same text, written for every new or changed lot of an append
_COMPACT_JSON = json.JSONEncoder(separators=(",", ":")).encode


def composition_text(lot: Lot) -> str:
    """The lot's composition as its column holds it (compact JSON)."""
    return _COMPACT_JSON(lot.spec.composition.to_dict())


def _lot_update(lot: Lot) -> dict[str, Any]:
    """Parameters of ``_UPDATE_LOT``: what an event can change about an existing lot."""
    return {
        "v_id": lot.id,
        "v_composition": composition_text(lot),
        "v_custodian": lot.custodian,
        "v_in_transit_to": lot.in_transit_to,
        "v_remaining_kg": lot.remaining_kg,
        "v_void": lot.void,
    }


def lot_row(lot: Lot) -> dict[str, Any]:
    return {
        "id": lot.id,
        "form": lot.spec.form.value,
        "mass_kg": lot.spec.mass_kg,
        "units": lot.spec.units,
        "composition": composition_text(lot),
        "custodian": lot.custodian,
        "in_transit_to": lot.in_transit_to,
        "remaining_kg": lot.remaining_kg,
        "produced_seq": lot.produced_seq,
        "producer": lot.producer,
        "stage": lot.stage.value,
        "deposit": lot.deposit,
        "declared_value": lot.spec.declared_value,
        "currency": lot.spec.currency,
        "created_time": lot.created_time,
        "void": lot.void,
        "origin": lot.origin_text,
    }


def lot_from_row(row: Any) -> Lot:
    """A lot as stored; trusted, because the registry validated it before writing it."""
    spec = trusted(
        LotSpec,
        id=row.id,
        form=_FORMS[row.form],
        mass_kg=row.mass_kg,
        composition=trusted(Composition, fractions=json.loads(row.composition)),
        units=row.units,
        declared_value=row.declared_value,
        currency=row.currency,
    )
    return trusted(
        Lot,
        spec=spec,
        custodian=row.custodian,
        remaining_kg=row.remaining_kg,
        producer=row.producer,
        stage=_STAGES[row.stage],
        produced_seq=row.produced_seq,
        created_time=row.created_time,
        in_transit_to=row.in_transit_to,
        deposit=row.deposit,
        void=bool(row.void),
        origin_text=row.origin,
    )


def facility_row(spec: Facility, seq: int) -> dict[str, Any]:
    return {
        "id": spec.id,
        "name": spec.name,
        "operator": spec.operator,
        "country": spec.country,
        "stages": json.dumps(sorted(spec.activities)),
        "technology": json.dumps(dict(spec.technology)),
        "accreditation": spec.accreditation,
        "registered_seq": seq,
    }


def facility_from_row(row: Any) -> Facility:
    return Facility(
        id=row.id,
        name=row.name,
        operator=row.operator,
        country=row.country,
        activities=frozenset(json.loads(row.stages)),
        technology=json.loads(row.technology),
        accreditation=row.accreditation,
    )


def _key_from_row(row: Any) -> KeyRecord:
    return KeyRecord(
        row.key_id,
        row.facility_id,
        PublicKey(bytes(row.public_key)),
        row.valid_from,
        row.valid_until,
        row.revoked_at,
    )


class Store(SqlLotHistory, SqlCertificates, SqlLineage, SqlParticipants, SqlListings):
    """Reads and bulk writes over the shared schema; stateless. It implements every Protocol of
    ``store.protocol``: the append path's methods are here, the others come from the modules of their
    concern (``store.lots``, ``store.certificates``, ``store.lineage``, ``store.participants``,
    ``store.listings``)."""

    # --- meta ---------------------------------------------------------------------------------
    def get_meta(self, conn: Connection, key: str) -> str | None:
        rows = fetch_all(conn, _META_VALUE, {"key": key})
        return str(rows[0][0]) if rows else None

    def require_meta(self, conn: Connection, key: str) -> str:
        value = self.get_meta(conn, key)
        if value is None:
            raise StoreError(
                "this database holds no raretrace registry; run `raretrace init --origin …` first", field="db"
            )
        return value

    def set_meta(self, conn: Connection, key: str, value: str) -> None:
        if execute_one(conn, _META_SET, {"v_key": key, "v_value": value}) == 0:
            execute_many(conn, _META_ADD, [{"key": key, "value": value}])

    def lock_head(self, conn: Connection) -> int:
        """Tree size, read under a lock that serializes appenders (SQLite already holds its write lock)."""
        query = _META_VALUE_LOCKED if conn.dialect.name == "postgresql" else _META_VALUE
        rows = fetch_all(conn, query, {"key": "tree_size"})
        if not rows:
            raise StoreError(
                "this database holds no raretrace registry; run `raretrace init --origin …` first", field="db"
            )
        return int(rows[0][0])

    # --- registry key -------------------------------------------------------------------------
    def registry_key(self, conn: Connection, role: str = "log") -> tuple[bytes | None, bytes]:
        """The registry key's seed (None when it is kept outside the database) and its public key."""
        rows = fetch_all(conn, _REGISTRY_KEY, {"role": role})
        if not rows:
            raise StoreError("the registry has no signing key; was it initialized?", field="db")
        seed, public = rows[0]
        return (None if seed is None else bytes(seed)), bytes(public)

    def save_registry_key(
        self, conn: Connection, role: str, seed: bytes | None, public: bytes, now: str
    ) -> None:
        conn.execute(insert(t.registry_keys).values(role=role, seed=seed, public_key=public, created_at=now))

    # --- state reads for the append pipeline --------------------------------------------------
    def facilities(self, conn: Connection, ids: Sequence[str]) -> dict[str, Facility]:
        rows = fetch_in(conn, list(t.facilities.c), t.facilities.c.id, ids)
        return {row.id: facility_from_row(row) for row in rows}

    def all_facilities(self, conn: Connection) -> list[Facility]:
        return [facility_from_row(r) for r in conn.execute(select(t.facilities).order_by(t.facilities.c.id))]

    def keys(self, conn: Connection, key_ids: Sequence[str]) -> dict[str, KeyRecord]:
        rows = fetch_in(conn, list(t.facility_keys.c), t.facility_keys.c.key_id, key_ids)
        return {row.key_id: _key_from_row(row) for row in rows}

    def all_keys(self, conn: Connection) -> dict[str, KeyRecord]:
        return {r.key_id: _key_from_row(r) for r in conn.execute(select(t.facility_keys))}

    def lots(self, conn: Connection, ids: Sequence[str]) -> dict[str, Lot]:
        return {row.id: lot_from_row(row) for row in fetch_in(conn, list(t.lots.c), t.lots.c.id, ids)}

    def existing_event_ids(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """event_id -> (seq, kind) for the ids that are already recorded."""
        columns = [t.events.c.event_id, t.events.c.seq, t.events.c.kind]
        rows = fetch_in(conn, columns, t.events.c.event_id, ids)
        return {row.event_id: (row.seq, row.kind) for row in rows}

    def transfers(self, conn: Connection, event_ids: Sequence[str]) -> dict[str, TransferRecord]:
        out: dict[str, TransferRecord] = {}
        for part in chunks(event_ids):
            query = (
                select(
                    t.events.c.event_id,
                    t.transfers.c.seq,
                    t.transfers.c.sender,
                    t.transfers.c.receiver,
                    t.transfers.c.lot_id,
                )
                .join(t.events, t.events.c.seq == t.transfers.c.seq)
                .where(t.events.c.event_id.in_(part))
                .order_by(t.transfers.c.seq)
            )
            grouped: dict[str, list[Any]] = {}
            for row in conn.execute(query):
                grouped.setdefault(row.event_id, []).append(row)
            for event_id, rows in grouped.items():
                first = rows[0]
                out[event_id] = TransferRecord(
                    event_id, first.seq, first.sender, first.receiver, tuple(r.lot_id for r in rows)
                )
        return out

    # --- the one write of a batch ---------------------------------------------------------------
    def write_batch(self, conn: Connection, batch: BatchWrite, tree_size: int) -> None:
        """Write a judged batch in bulk, in the caller's transaction (see ``store.raw`` for why raw)."""
        self.insert_batch(conn, batch)
        self.update_batch(conn, batch, tree_size)

    def insert_batch(
        self, conn: Connection, batch: BatchWrite, meanwhile: Callable[[], object] | None = None
    ) -> None:
        """The batch's new rows (and its key changes): the first half of ``write_batch``. ``meanwhile``
        is called as each table's rows are sent (``store.raw.insert_many``): the writer's own work
        while a server database takes them."""
        insert_many(conn, t.facilities, [facility_row(spec, seq) for spec, seq in batch.facilities])
        insert_many(conn, t.facility_keys, batch.new_keys)
        for key_id, values in batch.key_updates.items():
            conn.execute(update(t.facility_keys).where(t.facility_keys.c.key_id == key_id).values(**values))
        insert_many(conn, t.lots, [lot_row(lot) for lot in batch.new_lots.values()], meanwhile)
        # bulk rows bypass the column type, so the envelope's stored form is made here (from the
        # payload parsing decoded: not decoded again)
        insert_many(
            conn,
            t.events,
            [
                {**row, "envelope": pack(row["envelope"], payload)}
                for row, payload in zip(batch.events, batch.payloads, strict=True)
            ],
            meanwhile,
        )
        insert_many(conn, t.lot_inputs, batch.lot_inputs, meanwhile)
        insert_many(conn, t.transfers, batch.transfers, meanwhile)
        insert_many(conn, t.assays, batch.assays, meanwhile)

    def update_batch(self, conn: Connection, batch: BatchWrite, tree_size: int) -> None:
        """The batch's changes to rows that exist (after ``insert_batch``: a receipt may mark a transfer
        of the same batch) and the new tree size. Statements only, no reads and no row counts, so that
        ``pipelined`` can send them without waiting."""
        changed = [lot for lot_id, lot in batch.changed_lots.items() if lot_id not in batch.new_lots]
        update_many(conn, _UPDATE_LOT, [_lot_update(lot) for lot in changed])
        update_many(
            conn,
            _RECEIVED,
            [{"v_seq": s, "v_lot_id": lot, "v_received_seq": r} for s, lot, r in batch.received],
        )
        execute_one(conn, _META_SET, {"v_key": "tree_size", "v_value": str(tree_size)})  # the row exists

    def pipelined(self, conn: Connection) -> AbstractContextManager[None]:
        """``store.raw.pipelined``: the statements inside sent without waiting (PostgreSQL)."""
        return pipelined(conn)

    def insert_checkpoint(self, conn: Connection, size: int, root: bytes, note: str, created_at: str) -> None:
        """Record the signed checkpoint of the log at ``size`` (in the caller's transaction)."""
        execute_many(
            conn, _CHECKPOINT_ADD, [{"size": size, "root": root, "note": note, "created_at": created_at}]
        )


_UPDATE_LOT = RowUpdate(t.lots, ("id",), _MUTABLE_LOT_COLUMNS)
_RECEIVED = RowUpdate(t.transfers, ("seq", "lot_id"), ("received_seq",))
