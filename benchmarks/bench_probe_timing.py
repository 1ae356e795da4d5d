"""Does a refusal about another participant's lot take longer than one about a lot that does not
exist? The competitor arena (tests/test_competitor.py: a registry made with the defaults, the
reference chains, participants of every role), probed in one process through the in-process test
client: thousands of requests of each kind, alternating (ABBA order, so drift and load fall on both
alike), timed by the wall clock and by the process's CPU clock.

    python benchmarks/bench_probe_timing.py [--pairs 3000] [--resamples 2000] [--profile]

For each route it prints the medians, the differences of the 10/25/50/75/90th percentiles (another's
minus missing) and the median of the paired differences, each with a 95% bootstrap confidence interval
(percentile method, Efron & Tibshirani 1993, ch. 13), and the load average before and after. With
``--profile`` it also profiles 500 requests of each kind (cProfile) and prints the functions whose
cumulative time differs most between the two.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_competitor import NOT_VISIBLE, Arena, ask, build_arena, lot_probes, missing_like

QUANTILES = (10, 25, 50, 75, 90)
#: The probe routes timed: an index into ``lot_probes`` and the HTTP status both answers must have.
ROUTES = {"GET /api/v1/lots/{id}": (0, 404), "POST /api/v1/events (a process, refused)": (7, 404)}


def sample(arena: Arena, route: int, status: int, pairs: int) -> dict[str, np.ndarray]:
    """Wall and CPU seconds of ``pairs`` requests about another's lot and as many about a missing one."""
    real = NOT_VISIBLE["us"]["held"]
    probes = {
        "theirs": lot_probes(arena, "us", real)[route],
        "missing": lot_probes(arena, "us", missing_like(real))[route],
    }
    wall: dict[str, list[float]] = {"theirs": [], "missing": []}
    cpu: dict[str, list[float]] = {"theirs": [], "missing": []}
    for _ in range(50):  # warm both paths (caches, the connection pool, the first-call imports)
        for probe in probes.values():
            ask(arena, "us", probe)
    for i in range(pairs):
        order = ("theirs", "missing") if i % 4 in (0, 3) else ("missing", "theirs")  # ABBA
        for name in order:
            c0, w0 = time.process_time(), time.perf_counter()
            answer = ask(arena, "us", probes[name])
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(time.process_time() - c0)
            if answer.status_code != status:
                raise SystemExit(f"{name}: {answer.status_code} {answer.text}")
    return {
        f"{clock} {name}": np.array(values[name])
        for clock, values in (("wall", wall), ("cpu", cpu))
        for name in values
    }


def bootstrap(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    a: np.ndarray,
    b: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    paired: bool = False,
) -> tuple[float, float, float]:
    """(estimate, 2.5th, 97.5th percentile of the bootstrap distribution)."""
    estimates = np.empty(resamples)
    n = len(a)
    for r in range(resamples):
        i = rng.integers(0, n, n)
        j = i if paired else rng.integers(0, len(b), len(b))
        estimates[r] = statistic(a[i], b[j])
    low, high = np.percentile(estimates, [2.5, 97.5])
    return statistic(a, b), float(low), float(high)


def report(name: str, data: dict[str, np.ndarray], resamples: int) -> None:
    rng = np.random.default_rng(17)
    print(f"\n{name}: {len(data['wall theirs'])} requests of each kind")
    for clock in ("wall", "cpu"):
        theirs, missing = data[f"{clock} theirs"] * 1e3, data[f"{clock} missing"] * 1e3
        print(f"  {clock}: median another's {np.median(theirs):.3f} ms, missing {np.median(missing):.3f} ms")
        for q in QUANTILES:
            est, low, high = bootstrap(
                lambda a, b, q=q: float(np.percentile(a, q) - np.percentile(b, q)),
                theirs,
                missing,
                resamples,
                rng,
            )
            print(f"    p{q} difference {est:+.4f} ms  (95% CI {low:+.4f} to {high:+.4f})")
        est, low, high = bootstrap(
            lambda a, b: float(np.median(a - b)), theirs, missing, resamples, rng, paired=True
        )
        print(f"    median of paired differences {est:+.4f} ms  (95% CI {low:+.4f} to {high:+.4f})")


def profile(arena: Arena, route: int, requests: int = 500) -> None:
    """Cumulative time by function for each kind; the functions differing most between them."""
    real = NOT_VISIBLE["us"]["held"]
    totals: dict[str, dict[tuple[str, int, str], float]] = {}
    calls: dict[str, dict[tuple[str, int, str], int]] = {}
    for name, lot_id in (("theirs", real), ("missing", missing_like(real))):
        probe = lot_probes(arena, "us", lot_id)[route]
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(requests):
            ask(arena, "us", probe)
        profiler.disable()
        stats: Any = pstats.Stats(profiler).stats
        totals[name] = {k: v[3] for k, v in stats.items()}
        calls[name] = {k: v[1] for k, v in stats.items()}
    keys = set(totals["theirs"]) | set(totals["missing"])
    differing = sorted(
        keys, key=lambda k: abs(totals["theirs"].get(k, 0) - totals["missing"].get(k, 0)), reverse=True
    )
    print(f"  profile, {requests} requests each: cumulative ms a request (another's, missing), calls")
    for k in differing[:15]:
        t, m = totals["theirs"].get(k, 0) / requests * 1e3, totals["missing"].get(k, 0) / requests * 1e3
        ct, cm = calls["theirs"].get(k, 0), calls["missing"].get(k, 0)
        print(f"    {t:8.4f} {m:8.4f}  {ct:6d} {cm:6d}  {Path(k[0]).name}:{k[1]} {k[2]}")
    only = sorted(k for k in keys if calls["theirs"].get(k, 0) != calls["missing"].get(k, 0))
    print(f"  functions called a different number of times: {len(only)}")
    for k in only[:30]:
        ct, cm = calls["theirs"].get(k, 0), calls["missing"].get(k, 0)
        print(f"    {ct:6d} {cm:6d}  {Path(k[0]).name}:{k[1]} {k[2]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--route", choices=list(ROUTES), action="append")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        arena = build_arena(Path(folder))
        try:
            for name in args.route or list(ROUTES):
                route, status = ROUTES[name]
                before = os.getloadavg()
                data = sample(arena, route, status, args.pairs)
                after = os.getloadavg()
                report(name, data, args.resamples)
                print(f"  load average {before[0]:.1f} before, {after[0]:.1f} after")
                if args.profile:
                    profile(arena, route)
        finally:
            arena.w.client.close()


if __name__ == "__main__":
    main()
