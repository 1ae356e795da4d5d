"""Forecast benchmark: raretrace's Monte Carlo against its limit, the same simulation in bare numpy with
all draws at once, and against a straightforward per-path Python loop, same run.

    python benchmarks/bench_forecast.py [--paths 10000] [--months 120] [--loop-paths N] [--repeat N]

The model takes the planned magnet plants of the shipped capacity table (t NdFeB) with illustrative
uncertainty (delay gamma mean 9, sd 6 months; ramp-up 12-36 months; 10% cancellation) against an
illustrative flat demand line; the numbers are a workload, not a forecast. The vectorized code runs
``--paths`` paths; the loop runs ``--loop-paths`` (default: the same count). The vectorized code is also
run on the loop's draws, and the two must agree path by path. The vectorized time is the median of
``--repeat`` runs (the machine is shared); the target is 10,000 paths x 120 months in under 30 s.

The baseline is the limit: ``bare`` below, the same model written as the least numpy can do it, with
nothing of raretrace around it (no validation, no dataclasses): every path's draws made at once (one
gamma, one uniform and one uniform-for-cancellation call over paths x projects), the supply summed
into one array in place, the first covered month from the last uncovered one, and all the supply
bands from one quantile call. Its CPU time (``time.thread_time``: numpy runs these in the calling
thread) is the median of as many runs, alternated with raretrace's, and ``raretrace / limit`` (paths
per second of CPU) is printed. Its draws come from the same seed in
another order, so two checks stand for "the same simulation": on raretrace's own draws its
computation must give the same months path by path and the same bands; on its own draws the
distribution must agree within Monte Carlo error (covered share within 4 standard errors, two-sample
Kolmogorov-Smirnov distance of the months below its 0.1% critical value).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import numpy as np
import numpy.typing as npt

from raretrace.world.data import WorldData
from raretrace.world.forecast import ForecastModel, draw, projects_from_data, simulate, simulate_loop
from raretrace.world.lines import month_index

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
QUANTILES = (0.1, 0.5, 0.9)


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


class Bare:
    """The model's numbers as plain arrays, prepared once (outside the timing): what the bare simulation
    reads."""

    def __init__(self, m: ForecastModel) -> None:
        p = m.projects
        self.months, self.baseline = m.months, m.baseline_t_per_month
        origin = month_index(m.start)
        self.start = np.array([month_index(x.planned_start) - origin for x in p], dtype=float)
        self.rate = np.array([x.t_per_month for x in p])
        mean, sd = np.array([x.delay_mean_months for x in p]), np.array([x.delay_sd_months for x in p])
        if not (sd > 0).all() or min(x.ramp_months_min for x in p) <= 0:
            raise SystemExit("the bare simulation assumes every delay uncertain and every ramp-up > 0")
        self.shape, self.scale = (mean / sd) ** 2, sd**2 / mean
        self.ramp_min = np.array([x.ramp_months_min for x in p])
        self.ramp_max = np.array([x.ramp_months_max for x in p])
        self.p_cancel = np.array([x.p_cancel for x in p])
        t = np.arange(m.months, dtype=float)
        self.t = t
        self.demand = m.demand_t_per_month * (1.0 + m.demand_growth_per_year) ** (t / 12.0) - 1e-12

    def draws(self, paths: int, seed: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        """(delay, ramp, alive), each paths x projects, every path's drawn at once."""
        rng = np.random.default_rng(seed)
        k = len(self.rate)
        delay = rng.gamma(self.shape, self.scale, (paths, k))
        ramp = rng.uniform(self.ramp_min, self.ramp_max, (paths, k))
        alive = (rng.random((paths, k)) >= self.p_cancel).astype(float)
        return delay, ramp, alive

    def run(self, delay: FloatArray, ramp: FloatArray, alive: FloatArray) -> tuple[IntArray, FloatArray]:
        """(first covered month per path, -1 if none; supply bands at QUANTILES, one row each)."""
        online, weight, inverse = self.start + delay, self.rate * alive, 1.0 / ramp
        supply = np.full((delay.shape[0], self.months), self.baseline)
        part = np.empty_like(supply)
        for k in range(delay.shape[1]):
            np.subtract(self.t, online[:, k : k + 1], out=part)
            part *= inverse[:, k : k + 1]
            np.clip(part, 0.0, 1.0, out=part)
            part *= weight[:, k : k + 1]
            supply += part
        short = supply < self.demand
        # covered from the month after the last uncovered one to the horizon's end
        last = self.months - 1 - np.argmax(short[:, ::-1], axis=1)
        first = np.where(short.any(axis=1), last + 1, 0)
        first = np.where(first == self.months, -1, first).astype(np.int64)
        return first, np.quantile(supply, QUANTILES, axis=0)

    def simulate(self, paths: int, seed: int) -> tuple[IntArray, FloatArray]:
        return self.run(*self.draws(paths, seed))


def same_distribution(ours: IntArray, bare: IntArray) -> tuple[bool, str]:
    """Whether two samples of first-covered months agree within Monte Carlo error, and the figures."""
    a, b = (np.where(x >= 0, x, np.iinfo(np.int64).max) for x in (ours, bare))
    n, m = len(a), len(b)
    pa, pb = float(np.mean(ours >= 0)), float(np.mean(bare >= 0))
    se = math.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / m) or 1.0 / n
    grid = np.union1d(a, b)
    ks = float(np.max(np.abs(np.searchsorted(np.sort(a), grid, "right") / n
                             - np.searchsorted(np.sort(b), grid, "right") / m)))  # fmt: skip
    critical = 1.949 * math.sqrt((n + m) / (n * m))  # two-sample KS at alpha = 0.001
    ok = abs(pa - pb) <= 4 * se and ks <= critical
    quantiles = " · ".join(
        f"p{round(q * 100)} {'/'.join(_month(np.quantile(x, q, method='inverted_cdf')) for x in (a, b))}"
        for q in QUANTILES
    )
    return ok, (
        f"covered {pa:.2%} / {pb:.2%} (|diff| {abs(pa - pb) / se:.1f} s.e.), KS distance {ks:.4f} "
        f"(0.1% critical {critical:.4f}), month offsets {quantiles}"
    )


def _month(offset: np.int64) -> str:
    return "never" if offset == np.iinfo(np.int64).max else str(offset)


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

    bare = Bare(m)
    times, cpu, bare_cpu = [], [], []
    for _ in range(max(1, args.repeat)):  # alternated, so both see the same machine
        t0, c0 = time.perf_counter(), time.thread_time()
        result = simulate(m, paths=args.paths, seed=args.seed, quantiles=QUANTILES)
        times.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
        c0 = time.thread_time()
        bare_first, _ = bare.simulate(args.paths, args.seed)
        bare_cpu.append(time.thread_time() - c0)
    vec_s, vec_cpu, bare_s = statistics.median(times), statistics.median(cpu), statistics.median(bare_cpu)
    theirs = draw(m, args.paths, args.seed)
    first_on_ours, bands_on_ours = bare.run(theirs.delay, theirs.ramp, theirs.alive)
    same_paths = np.array_equal(first_on_ours, result.first_covered) and np.allclose(
        bands_on_ours, np.array([result.supply_quantiles[q] for q in QUANTILES]), rtol=1e-12, atol=1e-9
    )
    same_law, law = same_distribution(result.first_covered, bare_first)
    t0 = time.perf_counter()
    loop = simulate_loop(m, paths=args.loop_paths, seed=args.seed)
    loop_s = time.perf_counter() - t0
    same = np.array_equal(simulate(m, paths=args.loop_paths, seed=args.seed).first_covered, loop)

    vec_rate, loop_rate, bare_rate = args.paths / vec_s, args.loop_paths / loop_s, args.paths / bare_s
    print(f"vectorized: {args.paths:>7} paths in {vec_s:8.3f} s = {vec_rate:12,.0f} paths/s")
    print(
        f"limit     : {args.paths:>7} paths in {bare_s:8.3f} s of CPU = {bare_rate:12,.0f} paths/s "
        f"(bare numpy; raretrace's CPU: {vec_cpu:.3f} s)"
    )
    print(
        f"raretrace / limit: {bare_s / vec_cpu:.3f} by CPU time (thread, median of {len(cpu)} alternated "
        f"runs each: {', '.join(f'{x * 1000:.0f}' for x in cpu)} ms against "
        f"{', '.join(f'{x * 1000:.0f}' for x in bare_cpu)} ms)"
    )
    print(f"limit == raretrace on raretrace's draws (months path by path, bands): {same_paths}")
    print(f"limit's own draws against raretrace's, within Monte Carlo error: {same_law}; {law}")
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
    if not (same_paths and same_law):
        raise SystemExit("the bare numpy limit does not simulate the same model")


if __name__ == "__main__":
    main()
