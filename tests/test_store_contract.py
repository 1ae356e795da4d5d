"""The storage boundary holds: the same batches judged over the SQL store (SQLite and PostgreSQL) and
over ``MemoryStore`` give the same state and the same refusals, so tests of the custody rules can run
without a database and the memory double cannot drift from what the registry really does."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raretrace.custody.namespaces import namespaced
from raretrace.errors import NotFoundError, RaretraceError, ValidationError
from raretrace.ledger.certificates import revoke_recorded
from raretrace.ledger.judging import Parsed, judge, load_state
from raretrace.ledger.lot_details import read_lot_details
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, chain_lots, lot, mine_to_magnet, two_reference_chains
from raretrace.model import Lot
from raretrace.pricing import PriceTable
from raretrace.store.certificates import CertificateRecord
from raretrace.store.db import write_transaction
from raretrace.store.memory import MemoryStore
from raretrace.store.protocol import CertificateRecords, LedgerStore
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


def _replayed(db_url: str, build: Callable[[ScriptedChain], None]) -> tuple[Recording, MemoryStore]:
    """A registry on ``db_url`` that ``build`` filled, and a memory store given the same batches."""
    registry = new_registry(db_url)
    recording = Recording(registry)
    build(ScriptedChain(registry))
    memory = MemoryStore(meta={"tree_size": "0"})
    # the registry's own first entry (if any) is not a batch it was asked for: replay from its size 0
    for batch in recording.batches:
        _memory_append(memory, registry, batch)
    return recording, memory


def _four_facilities(chain: ScriptedChain) -> None:
    for facility, country, stages in (
        ("AU-MINE", "AU", ["mining"]),
        ("MY-SEP", "MY", ["separation"]),
        ("JP-METAL", "JP", ["metallization"]),
        ("JP-MAG", "JP", ["magnet"]),
    ):
        chain.add_facility(facility, country=country, stages=stages, technology={stages[0]: country})
    mine_to_magnet(chain, "contract", *CONTRACT_MAKERS, 64000.0)


@pytest.fixture
def recorded(db_url: str) -> tuple[Recording, MemoryStore]:
    return _replayed(db_url, _four_facilities)


@pytest.fixture
def reference(db_url: str) -> tuple[Recording, MemoryStore]:
    """Two chains, an assay and the facilities' registrations: every kind of row the reads return."""
    return _replayed(db_url, two_reference_chains)


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


# --- the read Protocols: a lot's history, the lineage graph, certificates ----------------------------


def test_a_lots_history_reads_the_same_from_both_stores(reference: tuple[Recording, MemoryStore]) -> None:
    recording, memory = reference
    registry = recording.registry
    lot_ids = sorted(memory.lot_table)
    # the chains hold every kind of row: inputs, shipments (received), an assay
    assert any(memory.inputs_of(None, i) for i in lot_ids)
    assert any(s.received_seq is not None for i in lot_ids for s in memory.shipments_of(None, i))
    assert any(memory.assays_of(None, i) for i in lot_ids)
    table = PriceTable.load()
    with registry.engine.connect() as conn:
        for lot_id in lot_ids:
            on_sql = read_lot_details(registry.store, conn, lot_id, table)
            assert read_lot_details(memory, None, lot_id, table) == on_sql
        assert memory.assay_results(None, lot_ids) == registry.store.assay_results(conn, lot_ids)
        unknown = "urn:raretrace:lot:never-recorded"
        with pytest.raises(NotFoundError) as in_sql:
            read_lot_details(registry.store, conn, unknown, table)
    with pytest.raises(NotFoundError) as in_memory:
        read_lot_details(memory, None, unknown, table)
    assert str(in_memory.value) == str(in_sql.value)


def test_the_lineage_graph_reads_the_same_from_both_stores(reference: tuple[Recording, MemoryStore]) -> None:
    recording, memory = reference
    store = recording.registry.store
    lot_ids = [*sorted(memory.lot_table), "urn:raretrace:lot:never-recorded"]
    with recording.registry.engine.connect() as conn:
        answers = {
            "up": (memory.edges_up(None, lot_ids), store.edges_up(conn, lot_ids)),
            "down": (memory.edges_down(None, lot_ids), store.edges_down(conn, lot_ids)),
            "summaries": (memory.summaries(None, lot_ids), store.summaries(conn, lot_ids)),
            "origins": (memory.origins(None, lot_ids), store.origins(conn, lot_ids)),
        }
        assert store.edges_up(conn, []) == memory.edges_up(None, []) == []
    for question, (in_memory, on_sql) in answers.items():
        assert in_memory, question  # a comparison of two empty answers would prove nothing
        assert sorted(in_memory) == sorted(tuple(row) for row in on_sql), question


def _certificate(number: str, lots: tuple[str, ...], issued_at: str) -> CertificateRecord:
    return CertificateRecord(
        id=f"urn:raretrace:certificate:test:{number}",
        number=number,
        lots=lots,
        transfer_event=None,
        issued_at=issued_at,
        valid_until="2027-02-01T00:00:00Z",
        revoked_at=None,
        revocation_reason=None,
        credential='{"type":"test"}',
    )


def test_certificates_read_the_same_from_both_stores(reference: tuple[Recording, MemoryStore]) -> None:
    recording, memory = reference
    registry = recording.registry
    magnet, conc = "urn:raretrace:lot:us-magnet", "urn:raretrace:lot:us-conc"
    issued = [  # recorded out of issue order: certificates of a lot come back in issue order
        _certificate("US-2026-000002", (magnet,), "2026-02-02T00:00:00Z"),
        _certificate("US-2026-000001", (conc, magnet), "2026-02-01T00:00:00Z"),
    ]
    with write_transaction(registry.engine) as conn:
        for index, certificate in enumerate(issued):
            registry.store.record_certificate(conn, certificate, index)
            memory.record_certificate(None, certificate, index)
        sql_revoked = revoke_recorded(registry.store, conn, issued[1].id, "test", NOW)
    assert revoke_recorded(memory, None, issued[1].id, "test", NOW) == sql_revoked
    with registry.engine.connect() as conn:

        def answers(store: CertificateRecords[C], on: C) -> tuple[object, ...]:
            facilities = sorted(f.id for f in memory.all_facilities(None))
            transfer = next(iter(memory.transfer_table))
            return (
                store.certificate_count(on),
                store.find_certificate(on, "US-2026-000001"),
                store.find_certificate(on, issued[0].id),
                store.find_certificate(on, "US-2026-000009"),
                store.certificates_of_lot(on, magnet),
                store.revoked_indexes(on),
                store.parties(on, [*facilities, "NO-SUCH"]),
                store.logged_events(on, [0, 1, 2, 3, 999]),
                store.event_by_id(on, transfer),
                store.event_by_id(on, "no-such-event"),
            )

        on_sql = answers(registry.store, conn)
    assert answers(memory, None) == on_sql
    of_lot = on_sql[4]
    assert isinstance(of_lot, list) and [c.number for c in of_lot] == ["US-2026-000001", "US-2026-000002"]
    with pytest.raises(ValidationError) as again_in_memory:
        revoke_recorded(memory, None, issued[1].id, "again", NOW)
    with write_transaction(registry.engine) as conn, pytest.raises(ValidationError) as again_in_sql:
        revoke_recorded(registry.store, conn, issued[1].id, "again", NOW)
    assert "already revoked" in str(again_in_sql.value)
    assert str(again_in_memory.value) == str(again_in_sql.value)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_set_of_lots_reads_the_same_lineage_from_both_stores(
    reference: tuple[Recording, MemoryStore], data: st.DataObject
) -> None:
    """Whatever set a trace asks about (duplicates, unknown ids, the empty set), the rows are the same."""
    recording, memory = reference
    known = [*sorted(memory.lot_table), "urn:raretrace:lot:never-recorded"]
    asked = data.draw(st.lists(st.sampled_from(known), max_size=12))
    store = recording.registry.store
    with recording.registry.engine.connect() as conn:
        for question in ("edges_up", "edges_down", "summaries", "origins"):
            on_sql = sorted(tuple(row) for row in getattr(store, question)(conn, asked))
            assert sorted(getattr(memory, question)(None, asked)) == on_sql, question
