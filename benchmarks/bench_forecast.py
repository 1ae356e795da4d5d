"""Forecast benchmark: raretrace's Monte Carlo against its limit, the same simulation in bare numpy with
all draws at once, and against a straightforward per-path Python loop, same run.

    python benchmarks/bench_forecast.py [--paths 10000] [--months 120] [--loop-paths N] [--repeat N]

The model takes the planned magnet plants of the shipped capacity table (t NdFeB) with illustrative
uncertainty (delay gamma mean 9, sd 6 months; ramp-up 12-36 months; 10% cancellation) against an
illustrative flat demand line; the numbers are a workload, not a forecast. The vectorized code runs
``--paths`` paths; the loop runs ``--loop-paths`` (default: the same count). The vectorized code is also
run on the loop's draws, and the two must agree path by path. The vectorized time is the median of
``--repeat`` runs (the machine is shared); the target is 10,000 paths x 120 months in under 30 s.

The baseline is the limit: ``Bare`` below, the same model written as the least numpy can do it, with
nothing of raretrace around it (no validation, no dataclasses, no progress chunks, no per-project
objects). The draws are project-major, (projects, paths): the gammas one project at a time into place,
the uniforms and the cancellations one call each. The supply is month-major, (months, paths), summed
in place a block of months at a time through one scratch block that stays in cache, with the same
arithmetic per month and path as raretrace (``t - online``, ``/ ramp``, clipped, times ``rate *
alive``, added project by project) and the same exact skipping of the months where a project's share
is the same on every path (0 before its earliest path is online; exactly 1 from the month its latest
is at full capacity: one add of the weight). The first covered month is the month after the last
uncovered one. The bands are ``np.quantile``'s floats, but selected one order statistic at a time:
numpy's vectorized (AVX-512/AVX2) select runs only for a single ``kth``, and ``np.quantile`` asks for
eight at once (the two neighbours of each level, the minimum and the maximum), which falls back to a
scalar introselect three to four times slower; ``bands`` below is the faster way to the same floats.

Its CPU time (``time.thread_time``: numpy runs these in the calling thread) is the median of as many
runs, alternated with raretrace's, and ``raretrace / limit`` (paths per second of CPU) is printed,
against the faster of the two in the run (the line names which): a limit slower than the product is
not a limit. Its draws come from the same seed in another order, so two checks stand for "the same
simulation": on raretrace's own draws its computation must give the same months path by path and the
same bands bit for bit; on its own draws the distribution must agree within Monte Carlo error
(covered share within 4 standard errors, two-sample Kolmogorov-Smirnov distance of the months below
its 0.1% critical value).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from raretrace.world.data import WorldData
from raretrace.world.forecast import ForecastModel, draw, projects_from_data, simulate, simulate_loop
from raretrace.world.lines import month_index

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
QUANTILES = (0.1, 0.5, 0.9)
BLOCK = 1 << 16  # numbers in the supply's scratch block (512 KiB of float64: it stays in L2)


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
    reads. Arrays are project-major, (projects, paths), and the supply month-major, (months, paths), so
    that every operation runs along contiguous rows."""

    def __init__(self, m: ForecastModel) -> None:
        p = m.projects
        self.months, self.baseline = m.months, m.baseline_t_per_month
        origin = month_index(m.start)
        column = np.array  # the per-project numbers as (projects, 1) columns that broadcast along paths
        self.start = column([[month_index(x.planned_start) - origin] for x in p], dtype=float)
        self.rate = column([[x.t_per_month] for x in p])
        mean, sd = column([[x.delay_mean_months] for x in p]), column([[x.delay_sd_months] for x in p])
        if (
            not (sd > 0).all()
            or min(x.ramp_months_min for x in p) <= 0
            or math.copysign(1.0, self.baseline) < 0
        ):
            raise SystemExit("the bare simulation assumes uncertain delays, ramp-ups > 0, baseline >= +0")
        self.shape, self.scale = (mean / sd) ** 2, sd**2 / mean
        self.ramp_min = column([[x.ramp_months_min] for x in p])
        self.ramp_width = column([[x.ramp_months_max] for x in p]) - self.ramp_min
        self.p_cancel = column([[x.p_cancel] for x in p])
        self.t = np.arange(m.months, dtype=float)
        self.demand = m.demand_t_per_month * (1.0 + m.demand_growth_per_year) ** (self.t / 12.0) - 1e-12
        self.after = np.arange(1, m.months + 1, dtype=np.min_scalar_type(m.months))[:, None]

    def draws(self, paths: int, seed: int) -> tuple[FloatArray, FloatArray, BoolArray]:
        """(delay, ramp, alive), each (projects, paths): the gammas one project at a time into place (a
        scalar shape is the fastest gamma), the uniforms and the cancellations one call each."""
        rng = np.random.default_rng(seed)
        delay = np.empty((len(self.rate), paths))
        for k, row in enumerate(delay):
            rng.standard_gamma(self.shape[k, 0], out=row)
        delay *= self.scale
        ramp = rng.random(delay.shape)
        ramp *= self.ramp_width
        ramp += self.ramp_min
        return delay, ramp, rng.random(delay.shape) >= self.p_cancel

    def run(self, delay: FloatArray, ramp: FloatArray, alive: BoolArray) -> tuple[IntArray, FloatArray]:
        """(first covered month per path, -1 if none; supply bands at QUANTILES, one row each), from
        (projects, paths) draws: each supply number gets ``(t - online) / ramp`` clipped to [0, 1], times
        ``rate * alive``, added project by project, except where that is the same on every path: 0 before
        the month the earliest path's project is online, ``rate * alive`` from the month the latest path
        is at full capacity."""
        months, paths = self.months, delay.shape[1]
        online = np.add(self.start, delay, order="C")
        weight = np.multiply(self.rate, alive, order="C")
        ramp = np.ascontiguousarray(ramp)
        t = self.t
        lows = np.count_nonzero(t - online.min(axis=1, keepdims=True) < 0, axis=1)
        highs = months - np.count_nonzero(
            t - online.max(axis=1, keepdims=True) >= ramp.max(axis=1, keepdims=True), axis=1
        )
        supply = np.full((months, paths), self.baseline)
        block = max(1, BLOCK // paths)
        part = np.empty((min(block, months), paths))
        for first in range(0, months, block):
            last = min(months, first + block)
            for k in range(len(online)):
                lo, hi = max(lows[k], first), min(highs[k], last)
                if lo < hi:
                    rows = part[: hi - lo]
                    np.subtract(t[lo:hi, None], online[k], out=rows)
                    rows /= ramp[k]
                    np.clip(rows, 0.0, 1.0, out=rows)
                    rows *= weight[k]
                    supply[lo:hi] += rows
                full = max(highs[k], first)
                if full < last:
                    supply[full:last] += weight[k]
        # covered from the month after the last uncovered one (1-based) to the horizon's end
        after = np.max((supply < self.demand[:, None]) * self.after, axis=0).astype(np.int64)
        after[after == months] = -1
        return after, bands(supply, QUANTILES)

    def simulate(self, paths: int, seed: int) -> tuple[IntArray, FloatArray]:
        return self.run(*self.draws(paths, seed))


def bands(supply: FloatArray, levels: Sequence[float]) -> FloatArray:
    """``np.quantile(supply, levels, axis=1)`` (linear interpolation, the same floats), reordering each
    row in place. numpy selects a single order statistic with its vectorized (AVX-512/AVX2) select, but
    falls back to a scalar introselect for several at once, which ``np.quantile`` asks for (the two
    neighbours of every level, the minimum and the maximum); so the order statistics below each level
    are selected one at a time, the middle first and each further one inside the part the previous
    left, and the one above each from the minimum of the part that follows it."""
    n = supply.shape[1]
    virtual = (n - 1) * np.asarray(levels, dtype=float)
    below = np.minimum(np.floor(virtual), n - 1).astype(np.intp)
    gamma = (virtual - below)[:, None]
    chosen = sorted(set(below.tolist()))
    _select(supply, 0, n, chosen)
    ends = dict(zip(chosen, [*chosen[1:], n - 1], strict=True))
    low = supply[:, below].T
    high = np.array(
        [supply[:, k + 1 : ends[k] + 1].min(axis=1) if k < n - 1 else supply[:, k] for k in below]
    )
    diff = high - low  # numpy's lerp, both of its branches
    out: FloatArray = low + diff * gamma
    np.subtract(high, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def _select(supply: FloatArray, lo: int, hi: int, ks: list[int]) -> None:
    """Put each row's order statistics ``ks`` (sorted, within ``lo:hi``) in place, one partition each."""
    if ks:
        middle = len(ks) // 2
        k = ks[middle]
        supply[:, lo:hi].partition(k - lo, axis=1)
        _select(supply, lo, k, ks[:middle])
        _select(supply, k + 1, hi, ks[middle + 1 :])


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
    first_on_ours, bands_on_ours = bare.run(theirs.delay.T, theirs.ramp.T, theirs.alive.T > 0)
    same_paths = np.array_equal(first_on_ours, result.first_covered) and np.array_equal(
        bands_on_ours, np.array([result.supply_quantiles[q] for q in QUANTILES])
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
    limit_s, limit_name = (bare_s, "bare numpy") if bare_s <= vec_cpu else (vec_cpu, "raretrace itself")
    print(
        f"raretrace / limit: {limit_s / vec_cpu:.3f} by CPU time, the limit being the faster of the two "
        f"here: {limit_name} (bare / raretrace {bare_s / vec_cpu:.3f}; thread, median of {len(cpu)} "
        f"alternated runs each: {', '.join(f'{x * 1000:.0f}' for x in cpu)} ms against "
        f"{', '.join(f'{x * 1000:.0f}' for x in bare_cpu)} ms)"
    )
    print(f"limit == raretrace on raretrace's draws (months path by path, bands bit for bit): {same_paths}")
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
