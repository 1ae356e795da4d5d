"""store/lineage.py: a generation of any width in one statement, on both back ends.

The old IN lists were cut at 512 values and SQLite once allowed only 999 parameters; a set of
1,500 lots (wider than both) must come back whole, the edges with their exact values and no lot
twice, whatever the order of the ids or repeats among them.
"""

from __future__ import annotations

from sqlalchemy import insert

from raretrace.store import schema as t
from raretrace.store.db import make_engine
from raretrace.store.lineage import edges_down, edges_up, origins, summaries

WIDE = 1_500


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
