"""Forecast benchmark: the vectorized Monte Carlo against a straightforward per-path Python loop, same run.

    python benchmarks/bench_forecast.py [--paths 10000] [--months 120] [--loop-paths N] [--repeat N]

The model takes the planned magnet plants of the shipped capacity table (t NdFeB) with illustrative
uncertainty (delay gamma mean 9, sd 6 months; ramp-up 12-36 months; 10% cancellation) against an
illustrative flat demand line; the numbers are a workload, not a forecast. The vectorized code runs
``--paths`` paths; the loop runs ``--loop-paths`` (default: the same count). The vectorized code is also
run on the loop's draws, and the two must agree path by path. The vectorized time is the median of
``--repeat`` runs (the machine is shared); the target is 10,000 paths x 120 months in under 30 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from raretrace.world.data import WorldData
from raretrace.world.forecast import ForecastModel, projects_from_data, simulate, simulate_loop


def model(months: int) -> ForecastModel:
    projects = projects_from_data(
        WorldData.load(),
        "magnet",
        "t NdFeB",
        delay_mean_months=9.0,
        delay_sd_months=6.0,
        ramp_months_min=12.0,
        ramp_months_max=36.0,
        p_cancel=0.1,
    )
    return ForecastModel("2026-01", months, 0.0, 800.0, 0.0, projects)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--loop-paths", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.loop_paths is None:
        args.loop_paths = args.paths
    m = model(args.months)
    print(f"{len(m.projects)} projects, {args.months} months")

    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        result = simulate(m, paths=args.paths, seed=args.seed)
        times.append(time.perf_counter() - t0)
    vec_s = statistics.median(times)
    t0 = time.perf_counter()
    loop = simulate_loop(m, paths=args.loop_paths, seed=args.seed)
    loop_s = time.perf_counter() - t0
    same = np.array_equal(simulate(m, paths=args.loop_paths, seed=args.seed).first_covered, loop)

    vec_rate, loop_rate = args.paths / vec_s, args.loop_paths / loop_s
    print(f"vectorized: {args.paths:>7} paths in {vec_s:8.3f} s = {vec_rate:12,.0f} paths/s")
    print(f"loop      : {args.loop_paths:>7} paths in {loop_s:8.3f} s = {loop_rate:12,.0f} paths/s")
    print(f"speed-up  : {vec_rate / loop_rate:.0f}x; loop == vectorized on {args.loop_paths} paths: {same}")
    target = "met" if vec_s < 30 else "NOT met"
    print(f"target    : {args.paths} paths x {args.months} months < 30 s: {target} ({vec_s:.3f} s)")
    print(f"load avg  : {' / '.join(f'{x:.2f}' for x in os.getloadavg())} (1 / 5 / 15 min, 2 cores)")
    print(
        f"covered within horizon: {result.p_covered:.1%}; months p10/p50/p90: "
        f"{result.quantile_month(0.1)} / {result.quantile_month(0.5)} / {result.quantile_month(0.9)}"
    )
    if not same:
        raise SystemExit("vectorized and loop results differ")


if __name__ == "__main__":
    main()
