"""store/visibility.py: which lots some facilities may see, the lots and their transfers read in one
statement, on both back ends; the same answer as the rule in ``raretrace.roles`` applied to each row."""

from __future__ import annotations

from sqlalchemy import insert

from raretrace.store import schema as t
from raretrace.store.db import make_engine
from raretrace.store.visibility import existing, touching
from tests.test_store_lineage import _lot

MINE = {"fac-a", "fac-b"}


def test_lots_seen_through_the_lot_or_a_transfer_in_one_statement(db_url: str) -> None:
    engine = make_engine(db_url)
    t.metadata.create_all(engine)
    lots = [_lot(i) | {"in_transit_to": None} for i in range(8)]  # every row the same keys
    lots[0] |= {"producer": "fac-a", "custodian": "other"}  # made by one of MINE
    lots[1] |= {"producer": "other", "custodian": "fac-b"}  # held by one
    lots[2] |= {"producer": "other", "custodian": "other", "in_transit_to": "fac-a"}  # coming to one
    for i in range(3, 8):
        lots[i] |= {"producer": "other", "custodian": "other"}
    transfers = [  # lot 3 sent by one of MINE, lot 4 received by one, lot 5 moved between others
        ("lot-00003", "fac-b", "other"),
        ("lot-00004", "other", "fac-a"),
        ("lot-00005", "other", "elsewhere"),
        ("lot-00000", "fac-a", "other"),  # a lot seen both ways is listed once
    ]
    with engine.begin() as conn:
        conn.execute(insert(t.lots), lots)
        conn.execute(
            insert(t.transfers),
            [{"seq": i, "lot_id": x, "sender": s, "receiver": r} for i, (x, s, r) in enumerate(transfers)],
        )
    asked = [f"lot-{i:05d}" for i in range(8)] + ["no-such-lot"]
    statements: list[str] = []
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.connection.driver_connection.set_trace_callback(statements.append)  # type: ignore[union-attr]
        seen = touching(conn, asked, MINE)
        assert existing(conn, asked) == {f"lot-{i:05d}" for i in range(8)}
        assert touching(conn, [], MINE) == set()
        assert touching(conn, ["no-such-lot"], MINE) == set()
    assert seen == {"lot-00000", "lot-00001", "lot-00002", "lot-00003", "lot-00004"}
    if engine.dialect.name == "sqlite":  # touching, existing, the unknown lot: one statement each
        assert len(statements) == 3, statements
    engine.dispose()
