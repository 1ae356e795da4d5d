"""The server's fast paths answer exactly as the general ones: the trace route's shortcut against
FastAPI's own handling of the same request, the event loop's own read connection against pooled
ones (a token revoked elsewhere is refused on the next request), and one-step JSON answers against
pydantic's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import fastapi.routing
import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from raretrace.ledger.participants import authenticate, revoke_tokens
from raretrace.server import shortcut
from raretrace.server.answers import json_answer
from raretrace.server.app import create_app
from raretrace.server.deps import Caller
from raretrace.server.settings import Settings
from raretrace.store import reading as reads
from raretrace.store import schema as t
from tests.test_server_support import (
    JP_MAGNET,
    JP_METAL,
    US_MAGNET,
    ServerWorld,
    shared_fixture,  # noqa: F401 (fixtures)
    world_fixture,  # noqa: F401 (fixtures)
)

PLAIN = ["", "direction=up", "direction=down", "max_paths=0", "max_paths=1", "max_paths=007"]
PLAIN += ["max_paths=10000", "direction=up&max_paths=3", "max_paths=2&direction=down"]
NOT_PLAIN = ["max_paths=10001", "max_paths=-1", "max_paths=1e3", "max_paths=", "max_paths"]
NOT_PLAIN += ["direction=sideways", "direction=UP", "direction=up&direction=down", "direction=%75p"]
NOT_PLAIN += ["direction=up&other=1", "max_paths=+5", "max_paths=%C3%A9", "&", "max_paths=99999999999999999"]


@pytest.fixture(name="served")
def served_fixture(shared: ServerWorld) -> Iterator[TestClient]:
    """The shared world's app with its lifespan run, so the event loop holds its own connection."""
    with TestClient(
        create_app(Settings(), registry=shared.registry), raise_server_exceptions=False
    ) as client:
        yield client


def _answer(response: Any) -> tuple[int, str, Any]:
    return response.status_code, response.headers["content-type"], response.json()


def test_trace_shortcut_answers_as_fastapi(
    served: TestClient, shared: ServerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every role, visible, hidden and missing lots, plain and odd query strings: the same status,
    content type and body with the shortcut as through FastAPI's dependency solving (forced by an
    overridden dependency, which the shortcut never bypasses)."""
    solved: list[str] = []  # requests that went through FastAPI's dependency solving
    solve = fastapi.routing.solve_dependencies

    async def spy(**kwargs: Any) -> Any:
        solved.append(str(kwargs["request"].url))
        return await solve(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", spy)
    headers: dict[str, dict[str, str]] = {
        "public": {},
        "bad token": {"Authorization": "Bearer rt_not-a-token"},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
    }
    headers |= {who: shared.as_(who) for who in ("jp", "us", "cn", "auditor", "secretariat")}
    app = served.app
    assert isinstance(app.dependency_overrides, dict)
    compared = 0
    for who, head in headers.items():
        for lot in (JP_MAGNET, US_MAGNET, JP_METAL, "urn:raretrace:lot:nowhere"):
            for query in PLAIN + NOT_PLAIN:
                url = f"/api/v1/lots/{lot}/trace" + (f"?{query}" if query else "")
                before = len(solved)
                fast = _answer(served.get(url, headers=head))
                assert len(solved) - before == (query not in PLAIN), url  # only odd ones solve
                app.dependency_overrides[_unused] = _unused
                try:
                    general = _answer(served.get(url, headers=head))
                finally:
                    app.dependency_overrides.clear()
                assert fast == general, (who, url)
                compared += 1
    assert compared == len(headers) * 4 * len(PLAIN + NOT_PLAIN)
    statuses = {
        _answer(served.get(f"/api/v1/lots/{JP_MAGNET}/trace?{q}", headers=shared.as_("jp")))[0] for q in PLAIN
    }
    assert statuses == {200}


def _unused() -> None:  # pragma: no cover - only its presence in dependency_overrides matters
    return None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", {}),
        (b"direction=down", {"direction": "down"}),
        (b"max_paths=10000&direction=up", {"max_paths": 10_000, "direction": "up"}),
        (b"max_paths=007", {"max_paths": 7}),
        (b"max_paths=10001", None),
        (b"max_paths=\xd9\xa3", None),  # a non-ASCII digit, which str.isdigit would take
        (b"max_paths=%31", None),
        (b"direction=up&direction=up", None),
        (b"direction", None),
        (b"limit=5", None),
        (b"direction=up&", None),
    ],
)
def test_plain_query(query: bytes, expected: dict[str, Any] | None) -> None:
    parsers = {"direction": shortcut.one_of("up", "down"), "max_paths": shortcut.whole_number(0, 10_000)}
    assert shortcut.plain_query(query, parsers) == expected


def test_a_route_the_shortcut_cannot_serve_is_refused_when_built() -> None:
    router = APIRouter()

    def sync_endpoint(lot_id: str, request: Request, caller: Caller, direction: str = "up") -> None:
        return None  # pragma: no cover

    with pytest.raises(TypeError, match="not async.*not exactly"):
        router.add_api_route(
            "/x/{lot_id}",
            sync_endpoint,
            route_class_override=shortcut.shortcut_route(max_paths=shortcut.whole_number(0, 5)),
        )

    async def no_caller(lot_id: int, request: Request) -> None:
        return None  # pragma: no cover

    with pytest.raises(TypeError, match="lot_id is not a plain str.*`caller: Caller`"):
        router.add_api_route("/y/{lot_id}", no_caller, route_class_override=shortcut.shortcut_route())


def test_a_token_revoked_elsewhere_is_refused_on_the_next_request(world: ServerWorld) -> None:
    """With the lifespan run, the token lookups use the event loop's own connection; a revocation
    committed through another connection (as the CLI or another worker would) still counts at once."""
    app = create_app(Settings(), registry=world.registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        me = client.get("/api/v1/me", headers=world.as_("cn"))
        assert me.status_code == 200 and me.json()["facilities"] == ["CN-MINE", "CN-SEP"]
        trace = client.get(f"/api/v1/lots/{JP_MAGNET}/trace", headers=world.as_("jp"))
        assert trace.status_code == 200
        assert revoke_tokens(world.registry.engine, "jp") == 1
        assert client.get("/api/v1/me", headers=world.as_("jp")).status_code == 401
        refused = client.get(f"/api/v1/lots/{JP_MAGNET}/trace", headers=world.as_("jp"))
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")


def test_the_loop_connection_is_one_thread_s_and_keeps_no_transaction(world: ServerWorld) -> None:
    engine = world.registry.engine
    reads.hold(engine)
    try:
        with reads.reading(engine) as first:
            pass
        with reads.reading(engine) as conn:
            assert conn is first
            conn.execute(text("SELECT 1"))  # SQLAlchemy begins a transaction
            with reads.reading(engine) as inner:
                assert inner is conn
            assert conn.in_transaction()  # the inner block does not end the outer one's
        assert not conn.in_transaction()  # the outermost block does
        others: list[Any] = []

        def elsewhere() -> None:
            with reads.reading(engine) as other:
                others.append(other)
                other.execute(text("SELECT 1"))

        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        assert others and others[0] is not conn  # another thread gets a pooled connection
        # a commit made through another connection is seen by the next read
        token = world.tokens["us"]
        with reads.reading(engine) as conn:
            assert authenticate(conn, token) is not None
        revoke_tokens(engine, "us")
        with reads.reading(engine) as conn:
            assert authenticate(conn, token) is None
            assert conn.execute(select(t.api_tokens.c.revoked_at)).first() is not None
    finally:
        reads.release(engine)
    assert engine not in reads._held()


def test_json_answers_mean_what_pydantic_s_did() -> None:
    from pydantic import TypeAdapter

    adapter: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])
    usual = {"lot": "urn:x", "share": 0.1 + 0.2, "n": 3, "ok": True, "none": None, "é": ["ü", 1e-7, 800.0]}
    wide = {"path_count": 2**70, "lots": {"a": {"mass_kg": 1.5}}}
    dated = {"at": datetime(2026, 11, 29, 12, 0, tzinfo=UTC)}
    for data in (usual, wide, dated):
        answer = json_answer(data)
        assert answer.media_type == "application/json"
        assert json.loads(bytes(answer.body)) == json.loads(adapter.dump_json(data))
    assert json.loads(bytes(json_answer(dated).body)) == {"at": "2026-11-29T12:00:00Z"}


def test_visibility_from_a_trace_s_summaries_is_the_looked_up_one(shared: ServerWorld) -> None:
    """``visible_among`` (which trusts the producer and custodian a trace read) finds exactly what
    ``visible_lots`` (which looks every lot up) finds, for every operator, every lot, both directions."""
    from raretrace.ledger.lineage import trace_down, trace_up
    from raretrace.server.access import visible_among, visible_lots
    from raretrace.server.deps import token_principal

    registry = shared.registry
    with registry.engine.connect() as conn:
        every_lot = list(conn.execute(select(t.lots.c.id)).scalars())
    checked = 0
    for who in ("cn", "jp", "us", "auditor"):
        caller = token_principal(registry, shared.tokens[who])
        for lot_id in every_lot:
            for result in (trace_up(registry, lot_id), trace_down(registry, lot_id)):
                with registry.engine.connect() as conn:
                    assert visible_among(conn, caller, result.lots) == visible_lots(
                        conn, caller, result.lots
                    ), (who, lot_id)
                checked += 1
    assert checked >= 4 * 2 * 6


def test_a_participant_s_lot_listing_is_what_the_lot_by_lot_check_allows(shared: ServerWorld) -> None:
    """``queries.lots_for`` (index lookups, one page) lists exactly the lots ``visible_lots`` allows
    one by one, in id order, and its pages neither skip nor repeat a lot."""
    from raretrace.server.access import visible_lots
    from raretrace.server.deps import token_principal
    from raretrace.server.queries import lots_for

    registry = shared.registry
    with registry.engine.connect() as conn:
        every_lot = list(conn.execute(select(t.lots.c.id)).scalars())
        for who in ("cn", "jp", "us", "auditor"):
            caller = token_principal(registry, shared.tokens[who])
            allowed = sorted(visible_lots(conn, caller, every_lot))
            listed: list[str] = []
            for offset in range(0, len(every_lot) + 2, 2):
                listed += [
                    row["id"] for row in lots_for(registry.store, conn, caller, limit=2, offset=offset)
                ]
            assert listed == allowed, who
            assert 0 < len(allowed) <= len(every_lot)
            walked: list[str] = []
            after = None
            while page := lots_for(registry.store, conn, caller, limit=2, offset=0, after=after):
                walked += [row["id"] for row in page]
                after = page[-1]["id"]
            assert walked == allowed, who
            whole = lots_for(registry.store, conn, caller, limit=1000, offset=0)
            assert [row["id"] for row in whole] == allowed
            facilities = set(conn.execute(select(t.facilities.c.id)).scalars())
            assert {row["producer"] for row in whole} <= facilities


def test_a_lot_in_transit_is_listed_for_its_receiver(tmp_path: Any) -> None:
    """The receiver of a transfer not yet received sees the lot (only the transfer names it) and a
    facility that never touched it does not; after the receipt the receiver holds it."""
    from raretrace.ledger.participants import Principal
    from raretrace.server.access import visible_lots
    from raretrace.server.queries import lots_for
    from tests.chain_fixtures import ORE_LOT, mine_and_separator

    chain = mine_and_separator(f"sqlite:///{tmp_path / 'r.db'}")
    chain.record("US-MINE", "transfer", to="US-SEP", lots=[ORE_LOT])

    def listed(*facilities: str) -> list[str]:
        caller = Principal("p", "operator", facilities=frozenset(facilities))
        with chain.registry.engine.connect() as conn:
            ids = [row["id"] for row in lots_for(chain.registry.store, conn, caller, limit=10, offset=0)]
            assert ids == sorted(visible_lots(conn, caller, [ORE_LOT]))
        return ids

    assert listed("US-SEP") == [ORE_LOT] == listed("US-MINE") == listed("CN-SEP", "US-SEP")
    assert listed("CN-SEP") == []
