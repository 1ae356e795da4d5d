"""The in-place, month-major forecast gives the previous implementation's answers bit for bit.

The reference below is ``supply_paths``, ``first_covered`` and ``simulate`` copied verbatim from
src/raretrace/world/forecast.py at commit 874d3cc (main; the file last changed in c016a89), before the
supply was summed in place and the bands came from one quantile call. The draws (``draw``), the demand
line and the result type are unchanged and shared. Compared: the months path by path and every band's
floats byte for byte, on the shipped plan (both bases, every line), the benchmark's model, hand-made
models that reach the no-ramp-up and cancellation branches, with and without progress chunks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from raretrace.world import forecast
from raretrace.world.data import WorldData
from raretrace.world.forecast import (
    Draws,
    FloatArray,
    ForecastModel,
    ForecastProject,
    ForecastResult,
    IntArray,
    _starts,
    demand_curve,
    draw,
)
from raretrace.world.independence import Plan
from raretrace.world.production import ProductionData

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

import bench_forecast

# --- reference: verbatim from 874d3cc:src/raretrace/world/forecast.py ---------------------------------


def supply_paths(model: ForecastModel, draws: Draws) -> FloatArray:
    """Allied supply per path and month, shape (paths, months); vectorized over paths and months."""
    t = np.arange(model.months, dtype=float)[None, :]
    supply = np.full((draws.delay.shape[0], model.months), model.baseline_t_per_month)
    for k, (project, start) in enumerate(zip(model.projects, _starts(model), strict=True)):
        online = start + draws.delay[:, k : k + 1]
        ramp = draws.ramp[:, k : k + 1]
        since = t - online
        with np.errstate(divide="ignore", invalid="ignore"):
            frac = np.where(ramp > 0, np.clip(since / np.where(ramp > 0, ramp, 1.0), 0.0, 1.0), since >= 0)
        supply += project.t_per_month * draws.alive[:, k : k + 1] * frac
    return supply


def first_covered(supply: FloatArray, demand: FloatArray) -> IntArray:
    """Per path, the first month from which supply >= demand through the horizon end (-1 if none)."""
    covered = supply >= demand[None, :] - 1e-12
    holds = np.flip(np.logical_and.accumulate(np.flip(covered, axis=1), axis=1), axis=1)
    first = np.argmax(holds, axis=1).astype(np.int64)
    result: IntArray = np.where(holds.any(axis=1), first, -1).astype(np.int64)
    return result


def simulate(
    model: ForecastModel,
    paths: int = 10_000,
    seed: int = 0,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 2_000,
) -> ForecastResult:
    """Monte Carlo distribution of the month allied supply covers the demand line (vectorized).

    With ``progress``, paths are computed ``chunk`` at a time and ``progress(done, paths)`` is called after
    each chunk; the draws are made once up front, so the result is the same with or without it."""
    draws = draw(model, paths, seed)
    if progress is None:
        supply = supply_paths(model, draws)
    else:
        parts = []
        for lo in range(0, paths, max(1, chunk)):
            hi = min(paths, lo + max(1, chunk))
            part = Draws(draws.delay[lo:hi], draws.ramp[lo:hi], draws.alive[lo:hi])
            parts.append(supply_paths(model, part))
            progress(hi, paths)
        supply = np.concatenate(parts, axis=0)
    demand = demand_curve(model)
    bands = {q: np.quantile(supply, q, axis=0) for q in quantiles}
    return ForecastResult(model.start, model.months, first_covered(supply, demand), bands, demand)


# --- end of the reference ---------------------------------------------------------------------------


def _same(new: ForecastResult, old: ForecastResult) -> None:
    assert new.first_covered.dtype == old.first_covered.dtype == np.int64
    assert np.array_equal(new.first_covered, old.first_covered)
    assert list(new.supply_quantiles) == list(old.supply_quantiles)
    for q, band in old.supply_quantiles.items():
        assert new.supply_quantiles[q].dtype == band.dtype
        assert new.supply_quantiles[q].tobytes() == band.tobytes(), q  # bit for bit, -0.0 included
    assert new.demand.tobytes() == old.demand.tobytes()
    assert (new.start, new.months) == (old.start, old.months)


def _plan_models() -> list[ForecastModel]:
    plan, data, production = Plan.load(), WorldData.load(), ProductionData.load()
    return [
        plan.model(data, c, t, basis)
        for basis in (production, None)
        for c in plan.commodities
        for t in plan.targets
    ]


def _bench_model() -> ForecastModel:
    """The benchmark's workload (benchmarks/bench_forecast.py): planned magnet plants, 9 +- 6 months."""
    return bench_forecast.model(120)


def _hand_model(months: int = 60, growth: float = 0.02) -> ForecastModel:
    """Gamma delays, constant delays, no ramp-up at all (the step branch), cancellations, growth; every
    project starts after some months of nothing and ends at full capacity on some paths."""
    return ForecastModel(
        "2026-01",
        months,
        1.0,
        9.0,
        growth,
        (
            ForecastProject("a", 5.0, "2026-06", 12.0, 8.0, 6.0, 18.0, 0.1),
            ForecastProject("b", 4.0, "2027-01", 6.0, 6.0, 0.0, 12.0, 0.2),
            ForecastProject("c", 3.0, "2028-01", 0.0, 0.0, 0.0, 0.0, 0.0),
            ForecastProject("d", 2.5, "2025-07", 3.0, 0.0, 1.0, 1.0, 0.5),
            ForecastProject("e", 1.5, "2026-03", 0.0, 0.0, 6.0, 6.0, 0.3),  # full exactly at 2026-09
        ),
    )


def test_shipped_plan_lines_as_before() -> None:
    models = _plan_models()
    assert len(models) >= 8 and any(m.projects for m in models)
    for k, model in enumerate(models):
        for seed in (0, 1, 17):
            _same(forecast.simulate(model, 1_500, seed + k), simulate(model, 1_500, seed + k))


@pytest.mark.parametrize("seed", [0, 1, 5, 42, 2026])
def test_benchmark_model_as_before(seed: int) -> None:
    model = _bench_model()
    new = forecast.simulate(model, 4_000, seed, quantiles=(0.1, 0.5, 0.9))
    _same(new, simulate(model, 4_000, seed, quantiles=(0.1, 0.5, 0.9)))
    assert 0 < new.p_covered < 1  # not a trivial case


@pytest.mark.parametrize(
    ("paths", "seed", "quantiles", "months"),
    [
        (1, 0, (0.5,), 36),
        (2, 3, (0.0, 1.0), 12),
        (7, 4, (0.25, 0.75, 1 / 3), 60),
        (999, 8, (0.05, 0.1, 0.5, 0.9, 0.95, 0.99), 60),
        (2_500, 9, (0.9, 0.1, 0.5, 0.1), 300),
        (300, 10, (), 24),
    ],
)
def test_hand_models_as_before(paths: int, seed: int, quantiles: tuple[float, ...], months: int) -> None:
    for growth in (0.0, 0.02, -0.01):
        model = _hand_model(months, growth)
        _same(
            forecast.simulate(model, paths, seed, quantiles=quantiles),
            simulate(model, paths, seed, quantiles=quantiles),
        )


def test_progress_chunks_as_before() -> None:
    model = _hand_model()
    seen_new: list[tuple[int, int]] = []
    seen_old: list[tuple[int, int]] = []
    for chunk in (1, 300, 1_000, 5_000):
        new = forecast.simulate(model, 1_000, 3, progress=lambda d, t: seen_new.append((d, t)), chunk=chunk)
        old = simulate(model, 1_000, 3, progress=lambda d, t: seen_old.append((d, t)), chunk=chunk)
        _same(new, old)
        _same(new, forecast.simulate(model, 1_000, 3))  # and the same as without progress
    assert seen_new == seen_old


def test_supply_with_mixed_ramps_in_one_project_as_before() -> None:
    """Ramp-ups of 0 beside positive ones in the same project (the draws cannot make that mix), online
    exactly on a month (where the step gives 1 and the ramp gives 0), and cancelled paths."""
    model = _hand_model(months=40)
    rng = np.random.default_rng(11)
    paths, n = 500, len(model.projects)
    delay = rng.integers(0, 8, (paths, n)).astype(float)  # whole months: online exactly on a month
    delay[::3] += rng.random((len(delay[::3]), n))
    ramp = np.where(rng.random((paths, n)) < 0.4, 0.0, rng.uniform(0.5, 20.0, (paths, n)))
    alive = (rng.random((paths, n)) >= 0.2).astype(float)
    draws = Draws(delay, ramp, alive)
    new = forecast.supply_by_month(model, draws)
    old = supply_paths(model, draws)
    assert new.T.tobytes() == np.ascontiguousarray(old).tobytes()
    assert (ramp == 0).any(axis=0).all() and (ramp > 0).any(axis=0).all()
    demand = demand_curve(model)
    assert np.array_equal(forecast.first_covered(new, demand), first_covered(old, demand))


def test_signed_zeros_as_before() -> None:
    """A baseline and a capacity of -0.0 pass validation; the zero shares added before a project is
    online turn a -0.0 running sum into +0.0, and the bands keep the sign."""
    late = ForecastProject("late", 2.0, "2027-01", 4.0, 2.0, 3.0, 9.0, 0.2)
    nothing = ForecastProject("nothing", -0.0, "2026-06", 0.0, 0.0, 0.0, 0.0, 0.0)
    for baseline in (-0.0, 0.0):
        model = ForecastModel("2026-01", 48, baseline, 1.0, 0.0, (late, nothing))
        new, old = forecast.simulate(model, 200, 1), simulate(model, 200, 1)
        _same(new, old)
        assert old.supply_quantiles[0.5][0] == 0.0 and not np.signbit(old.supply_quantiles[0.5][0])
