"""The storage boundary holds: the same batches judged over the SQL store (SQLite and PostgreSQL) and
over ``MemoryStore`` give the same state and the same refusals, so tests of the custody rules can run
without a database and the memory double cannot drift from what the registry really does."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pytest

from raretrace.custody.namespaces import namespaced
from raretrace.errors import RaretraceError
from raretrace.ledger.judging import Parsed, judge, load_state
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, chain_lots, lot, mine_to_magnet
from raretrace.model import Lot
from raretrace.store.memory import MemoryStore
from raretrace.store.protocol import LedgerStore
from tests.chain_fixtures import new_registry

#: The facilities of the recorded chain, and its lots (each in its maker's namespace)
CONTRACT_MAKERS = ("AU-MINE", "MY-SEP", "JP-METAL", "JP-MAG")
CONTRACT = chain_lots("contract", *CONTRACT_MAKERS)

NOW = "2026-02-01T00:00:00Z"
C = TypeVar("C")


class Recording:
    """A registry that keeps every batch it was asked to append, to replay them elsewhere."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.batches: list[list[bytes]] = []
        original = registry.append

        def append(envelopes: Sequence[bytes], **kwargs: object):  # type: ignore[no-untyped-def]  # a test spy
            self.batches.append(list(envelopes))
            return original(envelopes, **kwargs)  # type: ignore[arg-type]  # passes the caller's keywords on

        registry.append = append  # type: ignore[method-assign]  # a test spy


def _memory_append(store: MemoryStore, registry: Registry, envelopes: Sequence[bytes]) -> None:
    parsed: list[Parsed] = Registry.parse(envelopes)
    size = store.lock_head(None)
    state = load_state(store, None, parsed, registry_key=registry.public_key, tolerance=registry.tolerance)
    judge(state, parsed, size, NOW)
    store.write_batch(None, state.write, size + len(parsed))


def _lot_view(found: Lot) -> dict[str, object]:
    return {
        "spec": found.spec.to_dict(),
        "custodian": found.custodian,
        "remaining_kg": round(found.remaining_kg, 9),
        "producer": found.producer,
        "stage": found.stage.value,
        "produced_seq": found.produced_seq,
        "in_transit_to": found.in_transit_to,
        "deposit": found.deposit,
        "void": found.void,
        "origin": found.stored_origin() if found.origin_text else None,
    }


def _state(store: LedgerStore[C], conn: C, lot_ids: list[str]) -> dict[str, object]:
    keys = store.all_keys(conn)
    return {
        "facilities": [f.to_dict() for f in store.all_facilities(conn)],
        "keys": {k: (r.facility_id, r.valid_from, r.valid_until, r.revoked_at) for k, r in keys.items()},
        "lots": {i: _lot_view(v) for i, v in sorted(store.lots(conn, lot_ids).items())},
        "tree_size": store.require_meta(conn, "tree_size"),
    }


@pytest.fixture
def recorded(db_url: str) -> tuple[Recording, MemoryStore]:
    registry = new_registry(db_url)
    recording = Recording(registry)
    chain = ScriptedChain(registry)
    for facility, country, stages in (
        ("AU-MINE", "AU", ["mining"]),
        ("MY-SEP", "MY", ["separation"]),
        ("JP-METAL", "JP", ["metallization"]),
        ("JP-MAG", "JP", ["magnet"]),
    ):
        chain.add_facility(facility, country=country, stages=stages, technology={stages[0]: country})
    mine_to_magnet(chain, "contract", *CONTRACT_MAKERS, 64000.0)
    memory = MemoryStore(meta={"tree_size": "0"})
    # the registry's own first entry (if any) is not a batch it was asked for: replay from its size 0
    for batch in recording.batches:
        _memory_append(memory, registry, batch)
    return recording, memory


def _all_lot_ids(memory: MemoryStore) -> list[str]:
    return sorted(memory.lot_table)


def test_the_same_batches_give_the_same_state_in_both_stores(recorded: tuple[Recording, MemoryStore]) -> None:
    recording, memory = recorded
    registry = recording.registry
    lot_ids = _all_lot_ids(memory)
    assert len(lot_ids) == 4
    with registry.engine.connect() as conn:
        stored = _state(registry.store, conn, lot_ids)
    assert _state(memory, None, lot_ids) == stored
    assert (
        memory.transfer_table.keys()
        == registry.store.transfers(registry.engine.connect(), sorted(memory.transfer_table)).keys()
    )


def _replay_new(recording: Recording, memory: MemoryStore, since: int) -> None:
    for batch in recording.batches[since:]:
        _memory_append(memory, recording.registry, batch)


@pytest.mark.parametrize(
    ("source", "kg"),
    [
        (CONTRACT.concentrate, 1000.0),  # spent already by the separator: a double spend
        ("urn:raretrace:lot:no-such-lot", 10.0),  # never recorded
        (CONTRACT.magnet, 800.0),  # held by another facility
    ],
)
def test_refusals_read_the_same_from_both_stores(
    recorded: tuple[Recording, MemoryStore], source: str, kg: float
) -> None:
    recording, memory = recorded
    registry = recording.registry
    since = len(recording.batches)
    spender = ScriptedChain(registry, time="2026-01-06T08:00:00Z")
    spender.add_facility("MY-SEP-2", country="MY", stages=["separation"])
    _replay_new(recording, memory, since)
    again = spender.envelope(
        "MY-SEP-2",
        "process",
        stage="separation",
        inputs=[{"lot": source, "mass_kg": kg}],
        outputs=[lot(namespaced("lot", "MY-SEP-2", "contract-ox-2"), "separated_oxide", 300.0, {"Nd": 0.6})],
    )
    with pytest.raises(RaretraceError) as in_sql:
        registry.append([again])
    with pytest.raises(RaretraceError) as in_memory:
        _memory_append(memory, registry, [again])
    assert str(in_memory.value) == str(in_sql.value)
    assert type(in_memory.value) is type(in_sql.value)
