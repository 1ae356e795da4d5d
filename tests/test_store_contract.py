"""The storage boundary holds: the same batches judged over the SQL store (SQLite and PostgreSQL) and
over ``MemoryStore`` give the same state and the same refusals, so tests of the custody rules can run
without a database and the memory double cannot drift from what the registry really does."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from operator import itemgetter
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from raretrace.custody.namespaces import namespaced
from raretrace.errors import NotFoundError, RaretraceError, ValidationError
from raretrace.ledger.certificates import revoke_recorded
from raretrace.ledger.judging import Parsed, judge, load_state
from raretrace.ledger.lineage import trace_down, trace_down_on, trace_up, trace_up_on
from raretrace.ledger.lot_details import read_lot_details
from raretrace.ledger.participants import (
    authenticate_on,
    has_live_secretariat_on,
    list_participants_on,
    token_hash,
)
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, chain_lots, lot, mine_to_magnet, two_reference_chains
from raretrace.ledger.trace_answers import DownTrace, UpTrace
from raretrace.model import Lot
from raretrace.pricing import PriceTable
from raretrace.store import participants as participant_rows
from raretrace.store.certificates import CertificateRecord
from raretrace.store.db import write_transaction
from raretrace.store.memory import MemoryStore
from raretrace.store.protocol import CertificateRecords, LedgerStore, Listings, ParticipantReads
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
        walked = 0
        for up in (True, False):  # the whole walk from each lot, up and down
            for lot_id in lot_ids:
                on_sql_walk = sorted(tuple(e) for e in store.edges_reachable(conn, lot_id, up=up))
                assert sorted(memory.edges_reachable(None, lot_id, up=up)) == on_sql_walk, (lot_id, up)
                walked += len(on_sql_walk)
        assert walked  # some lot has a lineage to walk
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


# --- participants and tokens (``ParticipantReads``) and the API's listings (``Listings``) -------------

#: (id, name, role, facilities) written to both stores; then tokens (hash, holder, expiry), one revoked
PARTICIPANTS = (
    ("secretariat", "The secretariat", "secretariat", ()),
    ("jp-op", "JP operator", "operator", ("JP-MAG", "CN-SEP")),
    ("us-op", "US operator", "operator", ("US-MAG",)),
    ("auditor", "An auditor", "auditor", ()),
)
TOKENS = (  # (token in clear, holder, expiry): the stores keep the hash
    ("rt_sec", "secretariat", None),
    ("rt_sec-2", "secretariat", "2026-03-01T00:00:00Z"),
    ("rt_jp", "jp-op", "2026-06-01T00:00:00Z"),
    ("rt_jp-old", "jp-op", None),
    ("rt_us", "us-op", "2999-01-01T00:00:00Z"),
)


def _participants_in_both(registry: Registry, memory: MemoryStore) -> None:
    """The same participants and tokens written with ``store.participants``'s functions and with the
    memory store's methods of the same names; jp-op's tokens then revoked in both."""
    with write_transaction(registry.engine) as conn:
        for writer, on in ((participant_rows, conn), (memory, None)):
            for pid, name, role, facilities in PARTICIPANTS:
                writer.insert_participant(on, pid, name, role, NOW, facilities)
            for token, holder, expires in TOKENS:
                writer.insert_token(
                    on,
                    token_hash=token_hash(token),
                    participant_id=holder,
                    label=None,
                    created_at=NOW,
                    expires_at=expires,
                )
        assert participant_rows.revoke_live_tokens(conn, "jp-op", NOW) == 2
    assert memory.revoke_live_tokens(None, "jp-op", NOW) == 2


def _participant_answers(store: ParticipantReads[C], on: C) -> tuple[object, ...]:
    expiries = store.secretariat_token_expiries(on)
    return (
        [store.participant_exists(on, i) for i in ("jp-op", "nobody")],
        [store.participant_disabled_at(on, i) for i in ("jp-op", "nobody")],
        store.registered_facilities(on, ["JP-MAG", "NO-SUCH", "US-MAG"]),
        [store.token_holder(on, token_hash(t)) for t in ("rt_sec", "rt_jp", "rt_us", "rt_no-such")],
        store.all_participants(on),
        {k: sorted(v) for k, v in store.facilities_by_participant(on).items()},
        store.live_token_counts(on),
        sorted(expiries, key=lambda e: (e is None, e or "")),
        # the services over the Protocol: who each token is (None: revoked, expired or unknown), the listing
        [authenticate_on(store, on, token) for token, _, _ in (*TOKENS, ("rt_no-such", "", None))],
        list_participants_on(store, on),
        has_live_secretariat_on(store, on),
    )


def test_participants_read_the_same_from_both_stores(reference: tuple[Recording, MemoryStore]) -> None:
    recording, memory = reference
    registry = recording.registry
    _participants_in_both(registry, memory)
    with registry.engine.connect() as conn:
        on_sql = _participant_answers(registry.store, conn)
    assert _participant_answers(memory, None) == on_sql
    holders = on_sql[3]
    assert (
        isinstance(holders, list)
        and holders[1].revoked_at == NOW
        and holders[1].facilities == {"JP-MAG", "CN-SEP"}
    )
    assert on_sql[6] == {"secretariat": 2, "us-op": 1} and on_sql[7] == ["2026-03-01T00:00:00Z", None]
    who = on_sql[8]
    assert isinstance(who, list) and [p and p.id for p in who] == [
        "secretariat",
        None,
        None,
        None,
        "us-op",
        None,
    ]
    assert on_sql[10] is True


def _listing_answers(store: Listings[C], on: C, transfers: Sequence[str]) -> tuple[object, ...]:
    pages = [
        store.lot_page(on, seeing, limit=limit, offset=offset, after=after)
        for seeing in (None, {"JP-MAG"}, {"MY-SEP", "US-MAG"}, {"AU-MINE"}, {"NO-SUCH"})
        for limit, offset, after in ((100, 0, None), (2, 1, None), (3, 0, CONTRACT_AFTER))
    ]
    return (
        pages,
        [
            (store.transfer_sender(on, e), store.transfer_parties(on, e))
            for e in (*transfers, "no-such-event")
        ],
        store.facility_listing(on),
    )


#: a page "after" this id starts inside the reference chains' lots
CONTRACT_AFTER = "urn:raretrace:lot:CN-SEP"


def test_listings_read_the_same_from_both_stores(reference: tuple[Recording, MemoryStore]) -> None:
    recording, memory = reference
    registry = recording.registry
    transfers = sorted(memory.transfer_table)
    with registry.engine.connect() as conn:
        on_sql = _listing_answers(registry.store, conn, transfers)
    assert _listing_answers(memory, None, transfers) == on_sql
    pages, parties, facilities = on_sql
    assert isinstance(pages, list) and all(pages[:3]) and pages[0] != pages[3] and not pages[-1]
    assert len(transfers) >= 2 and isinstance(parties, list) and parties[-1] == (None, set())
    assert isinstance(facilities, list) and len(facilities) == 7


# --- the trace over ``LineageReads``: the same answer from the SQL store and from memory -------------

ORE_A, ORE_B = namespaced("lot", "MINE-A", "ore-a"), namespaced("lot", "MINE-B", "ore-b")
OX_A, OX_B, OX_AB = (namespaced("lot", "SEP", name) for name in ("ox-a", "ox-b", "ox-ab"))
MAGNETS = (namespaced("lot", "MAG", "magnet-1"), namespaced("lot", "MAG", "magnet-2"))
BLENDED = (ORE_A, ORE_B, OX_A, OX_B, OX_AB, *MAGNETS)


def _blends(chain: ScriptedChain) -> None:
    """Two ores, three oxides (one blending an ore with another oxide, so an ore is reached by paths of
    different lengths; one with untraced feed), two magnets blending the oxides: a trace with several
    paths per source, shares that differ by element, and lots reached down more than one way."""
    for facility, country, stages in (
        ("MINE-A", "AU", ["mining"]),
        ("MINE-B", "CA", ["mining"]),
        ("SEP", "JP", ["separation"]),
        ("MAG", "JP", ["magnet"]),
    ):
        chain.add_facility(facility, country=country, stages=stages)
    chain.record(
        "MINE-A", "extract", deposit="A", outputs=[lot(ORE_A, "ore", 100.0, {"Nd": 0.2, "Dy": 0.04})]
    )
    chain.record(
        "MINE-B", "extract", deposit="B", outputs=[lot(ORE_B, "ore", 100.0, {"Nd": 0.1, "Dy": 0.02})]
    )
    chain.ship("MINE-A", "SEP", [ORE_A])
    chain.ship("MINE-B", "SEP", [ORE_B])
    untraced = [{"material": "untraced Nd", "mass_kg": 10.0, "composition": {"Nd": 1.0}}]
    for inputs, output, additions in (
        ([(ORE_A, 60.0)], lot(OX_A, "separated_oxide", 24.0, {"Nd": 0.5, "Dy": 0.1}), []),
        ([(ORE_B, 100.0)], lot(OX_B, "separated_oxide", 100.0, {"Nd": 0.2, "Dy": 0.02}), untraced),
        ([(ORE_A, 40.0), (OX_B, 20.0)], lot(OX_AB, "separated_oxide", 40.0, {"Nd": 0.3, "Dy": 0.05}), []),
    ):
        chain.record(
            "SEP",
            "process",
            stage="separation",
            inputs=[{"lot": i, "mass_kg": kg} for i, kg in inputs],
            outputs=[output],
            additions=additions,
        )
    chain.ship("SEP", "MAG", [OX_A, OX_B, OX_AB])
    for magnet, inputs, kg, composition in (
        (MAGNETS[0], [(OX_A, 20.0), (OX_B, 50.0), (OX_AB, 30.0)], 100.0, {"Nd": 0.29, "Dy": 0.045}),
        (MAGNETS[1], [(OX_A, 4.0), (OX_AB, 10.0)], 10.0, {"Nd": 0.5, "Dy": 0.09}),
    ):
        chain.record(
            "MAG",
            "process",
            stage="magnet",
            inputs=[{"lot": i, "mass_kg": m} for i, m in inputs],
            outputs=[lot(magnet, "magnet", kg, composition)],
        )


_T = TypeVar("_T", UpTrace, DownTrace)


def _edges_in_one_order(answer: _T) -> _T:
    """The answer with its edges sorted: a trace lists them in the order the store gave the rows, which
    ``LineageReads`` leaves open (SQLite's index, PostgreSQL's plan and memory's list each have their own)."""
    edges = answer.edges
    key = itemgetter("child", "parent", "mass_kg", "event_index")
    return answer if edges is None else replace(answer, edges=tuple(sorted(edges, key=key)))


@pytest.fixture
def blended(db_url: str) -> tuple[Recording, MemoryStore]:
    return _replayed(db_url, _blends)


def test_a_trace_on_memory_is_the_trace_on_the_sql_store(blended: tuple[Recording, MemoryStore]) -> None:
    """``trace_up_on``/``trace_down_on`` over ``MemoryStore`` answer exactly what ``trace_up``/``trace_down``
    answer on the registry's database: every lot, every option, the same refusal for an unknown lot."""
    recording, memory = blended
    registry = recording.registry
    assert sorted(memory.lot_table) == sorted(BLENDED)
    # (graph, by_element, max_paths): every shape of the answer, a truncated path list among them
    options = [(True, False, 100), (False, False, 100), (True, True, 1), (False, True, 0)]
    for lot_id in BLENDED:
        for graph, by_element, max_paths in options:
            on_sql = trace_up(registry, lot_id, graph=graph, by_element=by_element, max_paths=max_paths)
            in_memory = trace_up_on(
                memory, None, lot_id, graph=graph, by_element=by_element, max_paths=max_paths
            )
            assert _edges_in_one_order(in_memory) == _edges_in_one_order(on_sql), (lot_id, graph, by_element)
        down = trace_down_on(memory, None, lot_id)
        assert _edges_in_one_order(down) == _edges_in_one_order(trace_down(registry, lot_id)), lot_id
    magnet = trace_up_on(memory, None, MAGNETS[0], by_element=True, max_paths=1)
    # the world is what the comparison needs: several paths, a truncated list, shares that differ by element
    assert magnet.path_count > len(magnet.sources) and magnet.paths_truncated
    nd, dy = (
        (magnet.sources[0].element_shares or {}).get("Nd"),
        (magnet.sources[0].element_shares or {}).get("Dy"),
    )
    assert nd is not None and dy is not None and not math.isclose(nd, dy)
    assert trace_down_on(memory, None, ORE_B).end_items == MAGNETS
    unknown = "urn:raretrace:lot:never-recorded"
    refusals: list[tuple[Callable[[], object], Callable[[], object]]] = [
        (lambda: trace_up(registry, unknown), lambda: trace_up_on(memory, None, unknown)),
        (lambda: trace_down(registry, unknown), lambda: trace_down_on(memory, None, unknown)),
    ]
    for sql_trace, memory_trace in refusals:
        with pytest.raises(NotFoundError) as sql_refused:
            sql_trace()
        with pytest.raises(NotFoundError) as memory_refused:
            memory_trace()
        assert str(memory_refused.value) == str(sql_refused.value)


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
