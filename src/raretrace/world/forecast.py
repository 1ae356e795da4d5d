"""When does allied supply cover a demand line? Monte Carlo over project delays and ramp-ups.

Each path draws, for every project, a delay (gamma distribution with the given mean and standard deviation,
in months; a constant when the deviation is 0), a ramp-up length (uniform between a minimum and a maximum,
in months) and whether the project is cancelled (probability ``p_cancel``). A project delivers nothing
before its planned start plus delay, then ramps linearly to its capacity over the ramp-up:

    supply[t] = baseline + sum_p capacity_p * clip((t - start_p - delay_p) / ramp_p, 0, 1)   (0 if cancelled)
    demand[t] = demand_0 * (1 + growth) ** (t / 12)

The answer for a path is the first month from which supply >= demand holds through the end of the horizon
(-1 when that never happens). All parameters are the caller's: the lead times in docs/reference/world.md
(e.g. separation greenfield ≈5 years with ≈50% overruns; magnet plants ≈2–3.5 years) are ranges to choose
from, not defaults baked in here.

``simulate`` is vectorized over paths and months (the supply summed in place, month-major, the bands from
one quantile call); ``simulate_loop`` is the straightforward per-path loop kept as the
reference the vectorized code is tested (and benchmarked) against. Both use the same seeded draws.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from raretrace.errors import ValidationError
from raretrace.world.data import WorldData
from raretrace.world.lines import month_index, month_text

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

_BLOCK = 1 << 16  # numbers in the supply's scratch block (512 KiB of float64: it stays in L2)


@dataclass(frozen=True)
class ForecastProject:
    id: str
    t_per_month: float
    planned_start: str  # YYYY-MM
    delay_mean_months: float
    delay_sd_months: float
    ramp_months_min: float
    ramp_months_max: float
    p_cancel: float = 0.0

    def __post_init__(self) -> None:
        where = f"forecast.projects[{self.id}]"
        month_index(self.planned_start, f"{where}.planned_start")
        for name in (
            "t_per_month",
            "delay_mean_months",
            "delay_sd_months",
            "ramp_months_min",
            "ramp_months_max",
        ):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ValidationError("must be a non-negative number", field=f"{where}.{name}")
        if self.ramp_months_max < self.ramp_months_min:
            raise ValidationError("must not be below ramp_months_min", field=f"{where}.ramp_months_max")
        if self.delay_sd_months > 0 and self.delay_mean_months == 0:
            raise ValidationError("a spread needs a positive mean delay", field=f"{where}.delay_mean_months")
        if not 0.0 <= self.p_cancel <= 1.0:
            raise ValidationError("must be a probability between 0 and 1", field=f"{where}.p_cancel")


@dataclass(frozen=True)
class ForecastModel:
    start: str  # first month of the horizon, YYYY-MM
    months: int
    baseline_t_per_month: float  # allied supply already running
    demand_t_per_month: float  # demand in the first month
    demand_growth_per_year: float
    projects: tuple[ForecastProject, ...]

    def __post_init__(self) -> None:
        month_index(self.start, "forecast.start")
        if self.months < 1:
            raise ValidationError("must be at least 1", field="forecast.months")
        if self.baseline_t_per_month < 0 or self.demand_t_per_month < 0:
            raise ValidationError(
                "supply and demand must not be negative", field="forecast.demand_t_per_month"
            )

    @classmethod
    def from_dict(cls, data: object) -> ForecastModel:
        if not isinstance(data, dict):
            raise ValidationError("a forecast model is a JSON object", field="forecast")
        try:
            projects = tuple(
                ForecastProject(
                    str(p["id"]),
                    float(p["t_per_month"]),
                    str(p["planned_start"]),
                    float(p["delay_mean_months"]),
                    float(p["delay_sd_months"]),
                    float(p["ramp_months_min"]),
                    float(p["ramp_months_max"]),
                    float(p.get("p_cancel", 0.0)),
                )
                for p in data.get("projects", [])
            )
            return cls(
                str(data["start"]),
                int(data["months"]),
                float(data["baseline_t_per_month"]),
                float(data["demand_t_per_month"]),
                float(data.get("demand_growth_per_year", 0.0)),
                projects,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ValidationError(f"missing or malformed field: {e}", field="forecast") from e


@dataclass(frozen=True)
class Draws:
    delay: FloatArray  # (paths, projects) months
    ramp: FloatArray  # (paths, projects) months
    alive: FloatArray  # (paths, projects) 1.0, or 0.0 when cancelled


@dataclass(frozen=True)
class ForecastResult:
    start: str
    months: int
    first_covered: IntArray  # per path: month offset from start, -1 when never covered in the horizon
    supply_quantiles: dict[float, FloatArray]  # quantile level -> supply per month (uncertainty bands)
    demand: FloatArray

    @property
    def p_covered(self) -> float:
        """Probability that supply covers demand within the horizon."""
        return float(np.mean(self.first_covered >= 0))

    def quantile_month(self, q: float) -> str | None:
        """The month by which a fraction ``q`` of paths are covered (None if fewer are in the horizon)."""
        ordered = np.sort(np.where(self.first_covered >= 0, self.first_covered, np.iinfo(np.int64).max))
        value = int(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))])
        return None if value == np.iinfo(np.int64).max else month_text(month_index(self.start) + value)

    def histogram(self) -> dict[str, int]:
        """Number of paths first covered in each month ("never" for the rest)."""
        counts = np.bincount(self.first_covered[self.first_covered >= 0], minlength=self.months)
        out = {month_text(month_index(self.start) + i): int(c) for i, c in enumerate(counts) if c}
        never = int(np.sum(self.first_covered < 0))
        if never:
            out["never"] = never
        return out


def draw(model: ForecastModel, paths: int, seed: int) -> Draws:
    """The random inputs of ``paths`` paths, reproducible from ``seed``."""
    if paths < 1:
        raise ValidationError("must be at least 1", field="paths")
    rng = np.random.default_rng(seed)
    n = len(model.projects)
    delay = np.empty((paths, n))
    ramp = np.empty((paths, n))
    alive = np.empty((paths, n))
    for k, p in enumerate(model.projects):
        if p.delay_sd_months > 0:
            shape = (p.delay_mean_months / p.delay_sd_months) ** 2
            delay[:, k] = rng.gamma(shape, p.delay_sd_months**2 / p.delay_mean_months, paths)
        else:
            delay[:, k] = p.delay_mean_months
        ramp[:, k] = rng.uniform(p.ramp_months_min, p.ramp_months_max, paths)
        alive[:, k] = rng.random(paths) >= p.p_cancel
    return Draws(delay, ramp, alive)


def demand_curve(model: ForecastModel) -> FloatArray:
    t = np.arange(model.months, dtype=float)
    curve: FloatArray = model.demand_t_per_month * (1.0 + model.demand_growth_per_year) ** (t / 12.0)
    return curve


def _starts(model: ForecastModel) -> FloatArray:
    origin = month_index(model.start)
    return np.array([month_index(p.planned_start) - origin for p in model.projects], dtype=float)


def supply_by_month(model: ForecastModel, draws: Draws, out: FloatArray | None = None) -> FloatArray:
    """Allied supply per month and path, shape (months, paths), summed project by project in place.

    Month-major so that a project's per-path numbers broadcast along contiguous rows and the bands'
    partition runs along contiguous memory; the months go a block at a time (about ``_BLOCK`` numbers)
    through one scratch array that stays in cache, and each project is computed only over the months
    where some path is ramping up (``_ramping_months``). Every element still gets the per-path formula's
    operations in its order (``t - online``, ``/ ramp``, clipped, times ``capacity * alive``, added to
    the running sum project by project), so the floats are those of ``simulate_loop``. ``out`` (months x
    paths, e.g. a chunk's columns of a larger array) receives the result."""
    paths, months = draws.delay.shape[0], model.months
    supply = np.empty((months, paths)) if out is None else out
    supply.fill(model.baseline_t_per_month)
    if paths == 0:
        return supply
    t = np.arange(months, dtype=float)
    online = (_starts(model) + draws.delay).T.copy()  # (projects, paths), each row contiguous
    ramps = draws.ramp.T.copy()
    weights = [project.t_per_month * draws.alive[:, k] for k, project in enumerate(model.projects)]
    positive = [None if (ramp > 0).all() else ramp > 0 for ramp in ramps]
    spans = [_ramping_months(t, on, ramp) for on, ramp in zip(online, ramps, strict=True)]
    # a running sum that starts at +0.0 or above is never -0.0, so adding a zero share leaves it as it is
    if math.copysign(1.0, model.baseline_t_per_month) < 0:
        spans = [(0, hi) for _, hi in spans]
    block = max(1, _BLOCK // paths)
    part = np.empty((min(block, months), paths))
    for first in range(0, months, block):
        last = min(months, first + block)
        for k in range(len(model.projects)):
            lo, hi = max(spans[k][0], first), min(spans[k][1], last)
            if lo < hi:
                rows = part[: hi - lo]
                np.subtract(t[lo:hi, None], online[k], out=rows)  # months since the project came online
                _share(rows, ramps[k], positive[k])
                rows *= weights[k]
                supply[lo:hi] += rows
            full = max(spans[k][1], first)
            if full < last:  # the share is exactly 1 there: weight * 1.0 is the weight
                supply[full:last] += weights[k]
    return supply


def _share(since: FloatArray, ramp: FloatArray, positive: BoolArray | None) -> None:
    """In place, months since a project came online -> its share of capacity: ``since / ramp`` clipped to
    [0, 1], or 1 from the month it is online where there is no ramp-up (``positive`` is False there;
    None when every path has a ramp-up)."""
    if positive is None:
        since /= ramp
        np.clip(since, 0.0, 1.0, out=since)
    else:
        steps = since >= 0
        np.divide(since, ramp, out=since, where=positive)
        np.clip(since, 0.0, 1.0, out=since)
        np.copyto(since, steps, where=~positive)


def _ramping_months(t: FloatArray, online: FloatArray, ramp: FloatArray) -> tuple[int, int]:
    """The months ``lo:hi`` outside which a project's share is the same on every path: 0 or -0.0 before
    ``lo`` (``t - online < 0`` on every path), exactly 1 from ``hi`` (``t - online >= ramp`` on every
    path: rounding is monotone, so the latest path's difference bounds every path's, and a rounded
    quotient of at least 1 is at least 1)."""
    lo = int(np.count_nonzero(t - online.min() < 0))
    hi = len(t) - int(np.count_nonzero(t - online.max() >= ramp.max()))
    return lo, hi


def first_covered(supply: FloatArray, demand: FloatArray) -> IntArray:
    """Per path, the first month from which supply >= demand through the horizon end (-1 if none).

    ``supply`` is month-major (``supply_by_month``): the answer is the month after the last uncovered
    one, found as the largest ``month + 1`` over the uncovered months (0 when none is)."""
    months = supply.shape[0]
    uncovered = supply < (demand - 1e-12)[:, None]  # not (supply >= demand - 1e-12): the sums are finite
    after = np.max(uncovered * np.arange(1, months + 1, dtype=np.min_scalar_type(months))[:, None], axis=0)
    result: IntArray = after.astype(np.int64)
    result[result == months] = -1  # uncovered in the last month: never covered through the horizon
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
    supply = np.empty((model.months, paths))
    step = paths if progress is None else max(1, chunk)
    for lo in range(0, paths, step):
        hi = min(paths, lo + step)
        part = Draws(draws.delay[lo:hi], draws.ramp[lo:hi], draws.alive[lo:hi])
        supply_by_month(model, part, out=supply[:, lo:hi])
        if progress is not None:
            progress(hi, paths)
    demand = demand_curve(model)
    first = first_covered(supply, demand)
    levels = tuple(quantiles)
    bands: dict[float, FloatArray] = {}
    if levels:
        # one partition for all the bands; it reorders each month's paths in place, so it comes last
        rows = np.quantile(supply, levels, axis=1, overwrite_input=True)
        bands = dict(zip(levels, rows, strict=True))
    return ForecastResult(model.start, model.months, first, bands, demand)


def simulate_loop(model: ForecastModel, paths: int = 10_000, seed: int = 0) -> IntArray:
    """The same first-covered months computed one path and one month at a time (reference, benchmarks)."""
    draws = draw(model, paths, seed)
    demand = [float(d) for d in demand_curve(model)]
    starts = [float(s) for s in _starts(model)]
    out = np.empty(paths, dtype=np.int64)
    for i in range(paths):
        first = -1
        for t in range(model.months):
            supply = model.baseline_t_per_month
            for k, project in enumerate(model.projects):
                since = t - (starts[k] + float(draws.delay[i, k]))
                ramp = float(draws.ramp[i, k])
                frac = min(1.0, max(0.0, since / ramp)) if ramp > 0 else float(since >= 0)
                supply += project.t_per_month * float(draws.alive[i, k]) * frac
            if supply >= demand[t] - 1e-12:
                if first < 0:
                    first = t
            else:
                first = -1
        out[i] = first
    return out


def projects_from_data(
    data: WorldData, stage: str, unit: str, **uncertainty: float
) -> tuple[ForecastProject, ...]:
    """Forecast projects from the shipped capacity table: planned projects of one ``stage`` and ``unit``
    with a published capacity and start; ``uncertainty`` gives the delay/ramp/cancel parameters for all."""
    chosen = []
    for p in data.projects:
        month = p.start_month()
        if p.stage == stage and p.unit == unit and p.capacity_t_per_year is not None and month is not None:
            chosen.append(ForecastProject(p.id, p.capacity_t_per_year / 12.0, month, **uncertainty))
    return tuple(chosen)
