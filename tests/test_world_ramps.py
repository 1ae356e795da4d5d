"""Observed ramps in ``production.json``: a producer's periods or a past ramp with its own rows; bad rows
are refused with the field named."""

from __future__ import annotations

import copy
import json
from importlib import resources
from typing import Any

import pytest

from raretrace.errors import ValidationError
from raretrace.world.production import ProductionData, fit_ramp


def _doc() -> dict[str, Any]:
    text = resources.files("raretrace").joinpath("data/world/production.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _ramp(doc: dict[str, Any], rid: str) -> dict[str, Any]:
    return next(r for r in doc["ramps"] if r.get("id", r.get("producer")) == rid)


def test_past_ramp_is_fitted_on_its_own_nameplate() -> None:
    """Lynas' 2013-2016 ramp is measured against its original design (5,263 t/yr), not today's 10,500."""
    prod = ProductionData.load()
    lynas = next(r for r in prod.ramps() if r.producer == "lynas-lamp-2013")
    assert [e for e, _ in lynas.points] == [22.0, 31.0, 36.0, 39.0]
    assert [f for _, f in lynas.points][2:] == pytest.approx([846 * 4 / 5263, 1150 * 4 / 5263])
    assert lynas.fraction == pytest.approx(1150 * 4 / 5263)
    assert 36 < lynas.months < 60  # a ramp that had reached 87% after 39 months took about four years


def test_a_period_at_or_above_nameplate_does_not_enter_the_fit() -> None:
    doc = _doc()
    lynas = _ramp(doc, "lynas-lamp-2013")
    lynas["reported"].append({"period": "2017-Q3", "t": 1442, "source": "test", "date": "2017-10"})
    prod = ProductionData.from_dict(doc)
    spec = next(s for s in prod.ramp_rows if s.id == "lynas-lamp-2013")
    assert len(spec.reported) == 5
    assert len(fit_ramp(spec).points) == 4


def test_one_period_gives_the_two_point_ramp() -> None:
    doc = _doc()
    _ramp(doc, "mp-mountain-pass-sep")["observed_periods"] = ["2025-Q3"]
    prod = ProductionData.from_dict(doc)
    mp = next(r for r in prod.ramps() if r.producer == "mp-mountain-pass-sep")
    assert mp.months == pytest.approx(22 / (721 * 4 / 6000))


@pytest.mark.parametrize(
    ("rid", "change", "field", "reason"),
    [
        ("mp-mountain-pass-sep", {"producer": "nobody"}, "producer", "no producer 'nobody'"),
        (
            "mp-mountain-pass-sep",
            {"observed_periods": ["2019-Q1"]},
            "observed_periods",
            "no period '2019-Q1'",
        ),
        ("mp-mountain-pass-sep", {"observed_periods": []}, "observed_periods", "one or more"),
        ("lynas-lamp-2013", {"first_output": "2013-13"}, "first_output", ""),
        ("lynas-lamp-2013", {"nameplate_t_per_year": 0}, "nameplate_t_per_year", "positive"),
    ],
)
def test_bad_ramp_rows_name_the_field(rid: str, change: dict[str, Any], field: str, reason: str) -> None:
    doc = copy.deepcopy(_doc())
    _ramp(doc, rid).update(change)
    with pytest.raises(ValidationError) as err:
        ProductionData.from_dict(doc)
    assert field in str(err.value) and reason in str(err.value)


def test_a_ramp_with_nothing_below_nameplate_is_refused() -> None:
    doc = _doc()
    _ramp(doc, "lynas-lamp-2013")["nameplate_t_per_year"] = 100
    prod = ProductionData.from_dict(doc)
    with pytest.raises(ValidationError, match="below nameplate"):
        prod.ramps()
