"""Listing benchmark: one page of the lots a participant may see (``GET /api/v1/lots``), on a large
registry, against the query it replaced, measured in the same run on the same database.

    python benchmarks/bench_listing.py --db PATH|URL [--pages 20] [--limit 100]

Use a registry built by ``bench_lineage.py --keep`` (``--db`` given there). Three participants are
taken from the registry itself, each holding one facility: the one that produced the fewest lots, the
median one and the one that produced the most. For each, the first page and ``--pages`` − 1 pages
at random offsets within its lots are fetched with ``raretrace.server.queries.lots_for`` (an index
range per way a participant may be entitled to a lot, then only the page read from the lots table) and
with the baseline: the single ``OR`` over the lots table with the transfers in an ``IN`` subquery, as
the server did before migration 0010. Both must return the same page; the first page's time and the
p50 and max of the others are printed per participant, with the ratio baseline / ours, and the time of
the page after each one fetched by ``after`` (its last id) instead of an offset (one untimed
call of each first, so that statement compilation is not timed). Nothing is written.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, or_, select, text, union

from raretrace.ledger.participants import Principal
from raretrace.server.queries import LOT_COLUMNS, lots_for
from raretrace.store import schema as t
from raretrace.store.db import make_engine, resolve_url
from raretrace.store.store import Store

STORE = Store()  # the SQL store behind ``store.protocol.Listings``, as the server's registry holds it

Lister = Callable[[Connection, Principal, int, int], list[dict[str, Any]]]


def baseline(conn: Connection, principal: Principal, limit: int, offset: int) -> list[dict[str, Any]]:
    """The query before migration 0010: every lot tested against the caller's facilities."""
    lots = t.lots.c
    mine = sorted(principal.facilities)
    moved = union(
        select(t.transfers.c.lot_id).where(t.transfers.c.sender.in_(mine)),
        select(t.transfers.c.lot_id).where(t.transfers.c.receiver.in_(mine)),
    )
    query = (
        select(*(lots[c] for c in LOT_COLUMNS))
        .where(
            or_(
                lots.custodian.in_(mine),
                lots.producer.in_(mine),
                lots.in_transit_to.in_(mine),
                lots.id.in_(select(moved.subquery().c.lot_id)),
            )
        )
        .order_by(lots.id)
        .limit(limit)
        .offset(offset)
    )
    return [dict(zip(LOT_COLUMNS, row, strict=True)) for row in conn.execute(query)]


def ours(conn: Connection, principal: Principal, limit: int, offset: int) -> list[dict[str, Any]]:
    return lots_for(STORE, conn, principal, limit=limit, offset=offset)


def timed(fn: Lister, conn: Connection, who: Principal, limit: int, offset: int) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    rows = fn(conn, who, limit, offset)
    return (time.perf_counter() - start) * 1000, rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", required=True, help="a registry built by bench_lineage.py --keep")
    parser.add_argument("--pages", type=int, default=20, help="pages fetched per participant and method")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    engine = make_engine(resolve_url(args.db), must_exist=True)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT count(*) FROM lots")).scalar_one()
        produced = conn.execute(
            text("SELECT producer, count(*) FROM lots GROUP BY producer ORDER BY 2, 1")
        ).all()
        warm = Principal("bench-warm", "operator", facilities=frozenset([produced[0][0]]))
        ours(conn, warm, args.limit, 0)
        baseline(conn, warm, args.limit, 0)
        print(f"registry: {total:,} lots, {len(produced)} producing facilities; page size {args.limit}")
        picks = {"fewest": produced[0], "median": produced[len(produced) // 2], "most": produced[-1]}
        for label, (facility, count) in picks.items():
            who = Principal(f"bench-{label}", "operator", facilities=frozenset([facility]))
            offsets = [0, *(rng.randrange(max(1, count)) for _ in range(args.pages - 1))]
            times: dict[str, list[float]] = {"ours": [], "baseline": [], "after": []}
            for offset in offsets:
                took_ours, page = timed(ours, conn, who, args.limit, offset)
                took_base, expected = timed(baseline, conn, who, args.limit, offset)
                if page != expected:
                    raise SystemExit(f"{facility} offset {offset}: the two queries disagree")
                times["ours"].append(took_ours)
                times["baseline"].append(took_base)
                if page:  # the page after this one, by the last id seen (``after``, no offset)
                    start = time.perf_counter()
                    following = lots_for(STORE, conn, who, limit=args.limit, offset=0, after=page[-1]["id"])
                    times["after"].append((time.perf_counter() - start) * 1000)
                    if following and following[0]["id"] <= page[-1]["id"]:
                        raise SystemExit(f"{facility}: the page after {page[-1]['id']} starts before it")
            p50 = {k: statistics.median(v[1:]) for k, v in times.items()}
            first = {k: v[0] for k, v in times.items() if k != "after"}
            after = times["after"] or [0.0]
            print(
                f"  {label:<7} {facility} ({count:,} lots produced): first page ours {first['ours']:.1f} ms, "
                f"baseline {first['baseline']:.1f} ms ({first['baseline'] / first['ours']:.1f}x); "
                f"random offsets p50 ours {p50['ours']:.1f} ms (max {max(times['ours']):.1f}), baseline "
                f"{p50['baseline']:.1f} ms (max {max(times['baseline']):.1f}): "
                f"{p50['baseline'] / p50['ours']:.1f}x; the page after each by `after`: p50 "
                f"{statistics.median(after):.1f} ms (max {max(after):.1f})"
            )


if __name__ == "__main__":
    main()
