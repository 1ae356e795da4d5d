"""Search benchmark: one lot search (count, facets, first page) on a registry of ``--lots`` lots, answered
in the database (``ledger.search.search_in_database``: COUNT, GROUP BY per facet, ORDER BY … LIMIT)
against the path that reads every matching row and counts in Python (``search_checked``, the only
path before issue 20, still used when an element, country, verdict or visibility test needs it),
measured in the same run on the same database. Both must give the same total, facets and page.

    python benchmarks/bench_search.py [--lots 1000000] [--db PATH] [--repeat 5]

The registry is made directly in the schema (``Registry.init``, then facilities and lots inserted as
rows, not as signed events: a search reads only those two tables), so a million lots take a minute,
not hours. Lots: forms, stages and producers spread evenly (8 forms, 60 producers in 6 countries),
masses and creation times varied. A query matching more than ``MAX_SCAN`` lots is refused by the
Python path; the database path answers it, and the table says "refused".
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from raretrace.errors import ValidationError
from raretrace.ledger.registry import Registry
from raretrace.ledger.search import LotQuery, SearchResult, search_checked, search_in_database
from raretrace.store import schema as t
from raretrace.store.db import make_engine

FORMS = ("ore", "concentrate", "mixed_oxide", "separated_oxide", "metal", "alloy", "magnet", "component")
STAGES = ("mining", "beneficiation", "separation", "separation", "metallization", "metallization", "magnet")
COUNTRIES = ("CN", "AU", "US", "MY", "JP", "VN")
QUERIES: dict[str, LotQuery] = {
    "form=magnet": LotQuery(forms=("magnet",)),
    "form=magnet sort=-mass_kg": LotQuery(forms=("magnet",), sort="-mass_kg"),
    "producer_country=JP": LotQuery(producer_countries=("JP",)),
    "every lot": LotQuery(),
}


def build(path: Path, lots: int, seed: int) -> Registry:
    registry = Registry.init(make_engine(f"sqlite:///{path}"), "bench.raretrace.example/search")
    rng = random.Random(seed)
    producers = [f"{COUNTRIES[i % len(COUNTRIES)]}-FAC-{i:02d}" for i in range(60)]
    with registry.engine.begin() as conn:
        conn.execute(
            t.facilities.insert(),
            [
                {
                    "id": p,
                    "name": p,
                    "operator": p,
                    "country": p[:2],
                    "stages": "[]",
                    "technology": "{}",
                    "registered_seq": 0,
                }
                for p in producers
            ],
        )
        batch: list[dict[str, object]] = []
        for i in range(lots):
            form = FORMS[i % len(FORMS)]
            producer = producers[rng.randrange(len(producers))]
            mass = round(rng.uniform(1, 50_000), 1)
            batch.append(
                {
                    "id": f"urn:raretrace:lot:bench-{i:08d}",
                    "form": form,
                    "mass_kg": mass,
                    "composition": json.dumps({"Nd": 0.2, "Pr": 0.06, "Fe": 0.5}),
                    "custodian": producer,
                    "remaining_kg": mass,
                    "produced_seq": i,
                    "producer": producer,
                    "stage": STAGES[i % len(STAGES)],
                    "created_time": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T00:00:00Z",
                    "void": False,
                }
            )
            if len(batch) == 50_000:
                conn.execute(t.lots.insert(), batch)
                batch.clear()
        if batch:
            conn.execute(t.lots.insert(), batch)
    return registry


def timed(work: Callable[[], SearchResult], repeat: int) -> tuple[float, SearchResult]:
    work()  # compile the statements, warm the page cache
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    assert result is not None
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lots", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="where to build it (default: a temporary file)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    path = args.db or Path(folder.name) / "search.db"
    start = time.perf_counter()
    registry = build(path, args.lots, args.seed)
    print(f"{args.lots:,} lots built in {time.perf_counter() - start:.1f} s ({path})")
    print(f"{'query':<28} {'matches':>10} {'database':>10} {'in Python':>10} {'ratio':>7}")
    for name, query in QUERIES.items():
        fast, answer = timed(lambda q=query: search_in_database(registry, q), args.repeat)
        try:
            slow, baseline = timed(lambda q=query: search_checked(registry, q), args.repeat)
        except ValidationError:
            print(f"{name:<28} {answer.total:>10,} {fast * 1000:>8.0f}ms {'refused':>10} {'':>7}")
            continue
        assert (answer.total, answer.facets, answer.lots) == (baseline.total, baseline.facets, baseline.lots)
        print(
            f"{name:<28} {answer.total:>10,} {fast * 1000:>8.0f}ms {slow * 1000:>8.0f}ms {slow / fast:>6.1f}x"
        )
    folder.cleanup()


if __name__ == "__main__":
    main()
