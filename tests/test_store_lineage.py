"""store/lineage.py: a generation of any width in one statement, on both back ends; a whole walk up or
down (``edges_reachable``) in one statement too.

The old IN lists were cut at 512 values and SQLite once allowed only 999 parameters; a set of
1,500 lots (wider than both) must come back whole, the edges with their exact values and no lot
twice, whatever the order of the ids or repeats among them.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from raretrace.ledger.lineage import walk_edges
from raretrace.store import schema as t
from raretrace.store.db import make_engine
from raretrace.store.lineage import edges_down, edges_reachable, edges_up, origins, summaries
from raretrace.store.store import Store

WIDE = 1_500
DEEP = 40  # generations: deeper than any real chain (~8)


def _lot(i: int) -> dict[str, object]:
    return {
        "id": f"lot-{i:05d}",
        "form": "magnet",
        "mass_kg": float(i) + 0.5,
        "composition": '{"Nd":0.3}',
        "custodian": "fac",
        "remaining_kg": 1.0,
        "produced_seq": i,
        "producer": "fac",
        "stage": "magnet",
        "created_time": "2026-01-01T00:00:00Z",
        "void": False,
        "origin": None if i % 2 else '{"Nd":{}}',
    }


def test_a_wide_generation_comes_back_whole(db_url: str) -> None:
    engine = make_engine(db_url)
    t.metadata.create_all(engine)
    children = [f"lot-{i:05d}" for i in range(WIDE)]
    with engine.begin() as conn:
        conn.execute(insert(t.lots), [_lot(i) for i in range(WIDE)])
        conn.execute(
            insert(t.lot_inputs),
            [{"seq": i, "child": c, "parent": "ore", "mass_kg": i / 4} for i, c in enumerate(children)],
        )
    asked = [*reversed(children), children[0], "no-such-lot"]  # any order, a repeat, a missing lot
    with engine.connect() as conn:
        up = edges_up(conn, asked)
        down = edges_down(conn, ["ore", "ore"])
        shown = summaries(conn, asked)
        vectors = origins(conn, children[:3])
        assert edges_up(conn, []) == []
    expected = sorted((c, "ore", i / 4, i) for i, c in enumerate(children))
    assert sorted(tuple(e) for e in up) == expected
    assert sorted(tuple(e) for e in down) == expected
    assert sorted(r[0] for r in shown) == children
    by_id = {r[0]: tuple(r) for r in shown}
    assert by_id["lot-01234"] == ("lot-01234", "magnet", 1234.5, "fac", "magnet", None, "fac")
    assert sorted(tuple(r) for r in vectors) == [
        ("lot-00000", '{"Nd":0.3}', '{"Nd":{}}'),
        ("lot-00001", '{"Nd":0.3}', None),
        ("lot-00002", '{"Nd":0.3}', '{"Nd":{}}'),
    ]
    engine.dispose()


def _deep_graph() -> list[tuple[str, str, float, int]]:
    """(child, parent, mass_kg, seq): ``g0`` made from ``a1`` and ``b1``, each made from ``g2``, and so
    on (a diamond every two generations: lots reached by two paths), a two-lot cycle hanging off the
    top (a corrupted graph the walk must still end on), and an edge that nothing traced reaches."""
    edges: list[tuple[str, str]] = []
    for g in range(0, DEEP, 2):
        edges += [
            (f"g{g}", f"a{g + 1}"),
            (f"g{g}", f"b{g + 1}"),
            (f"a{g + 1}", f"g{g + 2}"),
            (f"b{g + 1}", f"g{g + 2}"),
        ]
    edges += [(f"g{DEEP}", "loop-x"), ("loop-x", "loop-y"), ("loop-y", "loop-x"), ("elsewhere", "other")]
    return [(c, p, float(i) + 0.25, i) for i, (c, p) in enumerate(edges)]


def _reached(
    graph: list[tuple[str, str, float, int]], start: str, *, up: bool
) -> list[tuple[str, str, float, int]]:
    """The edges a walk from ``start`` reaches, found by following the list in Python."""
    seen, todo, found = {start}, [start], set()
    while todo:
        lot = todo.pop()
        for edge in graph:
            near, far = (edge[0], edge[1]) if up else (edge[1], edge[0])
            if near == lot:
                found.add(edge)
                if far not in seen:
                    seen.add(far)
                    todo.append(far)
    return sorted(found)


def test_a_whole_walk_is_one_statement_on_postgresql(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Up from the bottom and down from the top of a deep graph with diamonds and a cycle: every edge
    reached, once, exactly as stored, on both back ends; on PostgreSQL the statements are counted: one
    a walk, whatever its depth (a generation at a time, as SQLite still walks, took DEEP + 3)."""
    engine = make_engine(db_url)
    t.metadata.create_all(engine)
    graph = _deep_graph()
    with engine.begin() as conn:
        conn.execute(
            insert(t.lot_inputs), [{"child": c, "parent": p, "mass_kg": m, "seq": s} for c, p, m, s in graph]
        )
    statements: list[str] = []
    if engine.dialect.name == "postgresql":
        import psycopg

        execute = psycopg.Cursor.execute

        def counted(cursor: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
            statements.append(str(query))
            return execute(cursor, query, *args, **kwargs)

        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
    with engine.connect() as conn:
        up = edges_reachable(conn, "g0", up=True)
        walked, seen = walk_edges(Store(), conn, "g0", up=True)
        down = edges_reachable(conn, f"g{DEEP}", up=False)
        assert edges_reachable(conn, "no-such-lot", up=True) == []
    assert sorted(tuple(e) for e in up) == _reached(graph, "g0", up=True)
    assert len(up) == len(_reached(graph, "g0", up=True)) == 2 * DEEP + 3  # each edge once
    assert sorted(tuple(e) for e in down) == _reached(graph, f"g{DEEP}", up=False)
    assert sorted(walked) == sorted(up) and seen == {e[1] for e in up} | {"g0"}
    if engine.dialect.name == "postgresql":
        assert len([s for s in statements if "lot_inputs" in s]) == 4  # up, the walk's, down, no-such-lot
    engine.dispose()
