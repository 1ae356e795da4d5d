"""Demo-world benchmark: how long ``build_world`` takes to load the full world, signing included.

    python benchmarks/bench_demoworld.py [--scale 1.0] [--seed 0] [--repeat 3] [--db sqlite|URL]

Each run builds the world into a fresh registry (a new SQLite file in a temporary folder, or the
PostgreSQL database URL given with ``--db``, which must be empty), then computes the findings. It
reports lots, events, the time spent signing (Ed25519, in process) and appending (every registry check,
origin vectors, log tiles, checkpoints), the build's wall time and the findings' time, and the build's
CPU against its limit measured in the same run (``limits.py``: the world's signatures made and verified
by libsodium, its leaves hashed, its rows written by a raw sqlite3 executemany); the median of
``--repeat`` runs, since the machine is shared. The target is a full world (scale 1.0) in well under
a minute on 2 cores, so that ``raretrace demo`` can load it on start.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from limits import limit_seconds, ratio_line, registry_work

from raretrace.demoworld import build_world, findings
from raretrace.ledger.registry import Registry
from raretrace.store.db import make_engine


def one_run(scale: float, seed: int, db: str | None) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        url = db or str(Path(folder) / "world.db")
        registry = Registry.init(make_engine(url), "bench.raretrace.example/world")
        start, cpu = time.perf_counter(), time.process_time()
        summary = build_world(registry, seed=seed, scale=scale, folder=Path(folder) / "certificates")
        built, cpu = time.perf_counter() - start, time.process_time() - cpu
        start = time.perf_counter()
        found = findings(registry, summary)
        checked = time.perf_counter() - start
        caught = sum(c.caught for c in found.cases)
        work = registry_work(registry.engine)
        registry.engine.dispose()
    limit = limit_seconds(work)
    print(ratio_line("one build, CPU of this process", cpu, limit, work))
    return {
        "lots": summary.lots,
        "events": summary.events,
        "sign": summary.seconds["sign"],
        "append": summary.seconds["append"],
        "build": built,
        "build_cpu": cpu,
        "limit": limit,
        "findings": checked,
        "caught": caught,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", default=None, help="an empty database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    if args.db and args.repeat > 1:
        parser.error("--db takes one run (the database must be empty): use --repeat 1")
    runs = [one_run(args.scale, args.seed, args.db) for _ in range(max(1, args.repeat))]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    print(f"scale {args.scale}, seed {args.seed}, {len(runs)} run(s), {args.db or 'SQLite file'}")
    print(f"lots      : {med['lots']:,.0f} in {med['events']:,.0f} signed events")
    print(f"signing   : {med['sign']:.2f} s (median)")
    print(f"appending : {med['append']:.2f} s (median)")
    each = ", ".join(f"{r['build']:.2f}" for r in runs)
    print(f"build     : {med['build']:.2f} s wall (median; runs: {each})")
    print(
        f"limit     : {med['limit']:.2f} s CPU (median) against the build's {med['build_cpu']:.2f} s CPU: "
        f"ratio limit/build {med['limit'] / med['build_cpu']:.4f} (limits.py: libsodium signing and "
        "verifying every event, SHA-256 of its leaves and nodes, a raw sqlite3 executemany of every row)"
    )
    print(f"findings  : {med['findings']:.2f} s (median); cases caught: {med['caught']:.0f} of 4")
    target = "met" if med["build"] + med["findings"] < 60 else "NOT met"
    print(f"target    : build + findings < 60 s: {target}")
    print(f"load avg  : {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min, 2 cores)")


if __name__ == "__main__":
    main()
