"""Monte Carlo forecast of when allied supply covers demand."""

from __future__ import annotations

import numpy as np
import pytest

from raretrace.errors import ValidationError
from raretrace.world.data import WorldData
from raretrace.world.forecast import (
    ForecastModel,
    ForecastProject,
    draw,
    projects_from_data,
    simulate,
    simulate_loop,
)


def _model(delay: float = 0.0, sd: float = 0.0, p_cancel: float = 0.0, growth: float = 0.0) -> ForecastModel:
    """Baseline 2 t/month, demand 10 t/month; an 8 t/month plant planned for 2026-06, 4-month ramp."""
    plant = ForecastProject("plant", 8.0, "2026-06", delay, sd, 4.0, 4.0, p_cancel)
    return ForecastModel("2026-01", 36, 2.0, 10.0, growth, (plant,))


def test_deterministic_path_by_hand() -> None:
    # online at offset 5, full at 5 + 4 = 9 -> 2026-10
    result = simulate(_model(), paths=5, seed=1)
    assert result.first_covered.tolist() == [9] * 5
    assert result.quantile_month(0.5) == "2026-10"
    assert result.p_covered == 1.0
    assert result.histogram() == {"2026-10": 5}
    delayed = simulate(_model(delay=3.0), paths=3, seed=1)
    assert delayed.quantile_month(0.9) == "2027-01"


def test_cancelled_or_outgrown_is_never_covered() -> None:
    cancelled = simulate(_model(p_cancel=1.0), paths=4, seed=0)
    assert cancelled.first_covered.tolist() == [-1] * 4
    assert cancelled.quantile_month(0.5) is None
    assert cancelled.histogram() == {"never": 4}
    # 10% a year growth: demand passes 10 t/month of supply soon after the plant is full
    outgrown = simulate(_model(growth=0.10), paths=4, seed=0)
    assert outgrown.p_covered == 0.0


def test_vectorized_equals_the_per_path_loop() -> None:
    model = ForecastModel(
        "2026-01",
        60,
        1.0,
        9.0,
        0.02,
        (
            ForecastProject("a", 5.0, "2026-06", 12.0, 8.0, 6.0, 18.0, 0.1),
            ForecastProject("b", 4.0, "2027-01", 6.0, 6.0, 0.0, 12.0, 0.2),
            ForecastProject("c", 3.0, "2028-01", 0.0, 0.0, 0.0, 0.0, 0.0),
        ),
    )
    fast = simulate(model, paths=400, seed=7).first_covered
    slow = simulate_loop(model, paths=400, seed=7)
    assert np.array_equal(fast, slow)
    assert 0 < np.mean(fast >= 0) < 1  # the case is not trivial


def test_seeded_and_distribution_sane() -> None:
    model = _model(delay=12.0, sd=6.0)
    a, b = simulate(model, paths=2000, seed=3), simulate(model, paths=2000, seed=3)
    assert np.array_equal(a.first_covered, b.first_covered)
    assert not np.array_equal(a.first_covered, simulate(model, paths=2000, seed=4).first_covered)
    d = draw(model, 20_000, 0).delay[:, 0]
    assert d.mean() == pytest.approx(12.0, rel=0.03)
    assert d.std() == pytest.approx(6.0, rel=0.05)
    months = [a.quantile_month(q) for q in (0.1, 0.5, 0.9)]
    assert months == sorted(months)  # type: ignore[type-var]
    low, mid, high = (a.supply_quantiles[q] for q in (0.1, 0.5, 0.9))
    assert np.all(low <= mid) and np.all(mid <= high)


def test_bad_parameters_name_the_field() -> None:
    with pytest.raises(ValidationError, match=r"projects\[x\]\.ramp_months_max"):
        ForecastProject("x", 1.0, "2026-01", 0.0, 0.0, 5.0, 4.0)
    with pytest.raises(ValidationError, match=r"p_cancel"):
        ForecastProject("x", 1.0, "2026-01", 0.0, 0.0, 0.0, 0.0, 2.0)
    with pytest.raises(ValidationError, match=r"planned_start"):
        ForecastProject("x", 1.0, "2026", 0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValidationError, match="forecast"):
        ForecastModel.from_dict({"start": "2026-01"})


def test_projects_from_shipped_capacity() -> None:
    projects = projects_from_data(
        WorldData.load(),
        "magnet",
        "t NdFeB",
        delay_mean_months=6.0,
        delay_sd_months=3.0,
        ramp_months_min=12.0,
        ramp_months_max=24.0,
    )
    ids = {p.id for p in projects}
    assert {"mp-10x", "evac-sumter", "neo-narva-1"} <= ids
    assert next(p for p in projects if p.id == "mp-10x").t_per_month == pytest.approx(750.0)
    model = ForecastModel.from_dict(
        {
            "start": "2026-01",
            "months": 120,
            "baseline_t_per_month": 0,
            "demand_t_per_month": 1000,
            "projects": [vars(p) for p in projects],
        }
    )
    assert len(model.projects) == len(projects)


def test_progress_does_not_change_the_result() -> None:
    model = _model(delay=12.0, sd=6.0)
    seen: list[tuple[int, int]] = []
    chunked = simulate(model, paths=1000, seed=2, progress=lambda d, t: seen.append((d, t)), chunk=300)
    whole = simulate(model, paths=1000, seed=2)
    assert np.array_equal(chunked.first_covered, whole.first_covered)
    assert seen == [(300, 1000), (600, 1000), (900, 1000), (1000, 1000)]
    for q in whole.supply_quantiles:
        assert np.allclose(chunked.supply_quantiles[q], whole.supply_quantiles[q])


def test_independence_plan_derives_demand_by_hand() -> None:
    from raretrace.elements import oxide_factor
    from raretrace.world.independence import Plan

    plan = Plan.load()
    defense = next(t for t in plan.targets if t.segment == "defense")
    by = {c.commodity: c for c in plan.commodities}
    # 100 t magnet REE / 0.30 = 333.3 t NdFeB; Dy 4% of it as Dy2O3; NdPr 25% of it as Nd2O3
    assert plan.demand_t_per_year(defense, by["NdFeB"]) == pytest.approx(100 / 0.30)
    assert plan.demand_t_per_year(defense, by["Dy"]) == pytest.approx(100 / 0.30 * 0.04 / oxide_factor("Dy"))
    assert plan.demand_t_per_year(defense, by["NdPr"]) == pytest.approx(
        100 / 0.30 * 0.25 / oxide_factor("Nd")
    )
    assert plan.uses_assumption(defense, by["Dy"]) is False  # published Dy content, derived defense figure
    assert plan.uses_assumption(defense, by["Tb"]) is True  # the Tb content is an assumption


def test_independence_model_from_capacity_and_estimates() -> None:
    from raretrace.world.independence import Plan, p_covered_by, run_plan

    plan, data = Plan.load(), WorldData.load()
    by = {c.commodity: c for c in plan.commodities}
    defense = next(t for t in plan.targets if t.segment == "defense")
    ndpr = plan.model(data, by["NdPr"], defense)
    # operating NdPr oxide: MP 1,300 + Lynas 10,500 + White Mesa phase 1 850 t/yr
    assert ndpr.baseline_t_per_month * 12 == pytest.approx(12_650)
    assert [p.id for p in ndpr.projects] == ["energy-fuels-white-mesa-2"]
    dy = plan.model(data, by["Dy"], defense)
    assert dy.baseline_t_per_month == 0 and [p.planned_start for p in dy.projects] == ["2029-01"]
    lines = run_plan(plan, data, paths=200, seed=1)
    dy_line = next(c for c in lines if c.commodity == "Dy" and c.segment == "defense")
    # White Mesa phase 2 cannot deliver before 2029-01: nothing is covered by the 2027 goal
    assert p_covered_by(dy_line.result, "2028-12") == 0.0
    assert {c.label for c in dy_line.comparisons} == {"12-24 months", "2027 defense goal"}


def test_bad_plan_names_the_field() -> None:
    import copy
    import json
    from importlib import resources

    from raretrace.world.independence import Plan

    doc = json.loads(resources.files("raretrace").joinpath("data/world/forecasts.json").read_text("utf-8"))
    bad = copy.deepcopy(doc)
    bad["composition"][1]["mass_fraction"] = 0.5
    with pytest.raises(ValidationError, match="Dy \\+ Tb"):
        Plan.from_dict(bad)
    bad = copy.deepcopy(doc)
    bad["targets"][0]["segment"] = "navy"
    with pytest.raises(ValidationError, match=r"forecasts\.json: targets\[0\]\.segment"):
        Plan.from_dict(bad)
    for row in doc["targets"] + doc["composition"] + doc["uncertainty"] + doc["estimates"]:
        assert row["source"] and row["date"]
