"""The back-test episode file is checked before the model runs: a bad row names the file and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from raretrace.errors import ValidationError
from raretrace.world.backtest import Episode, episode_market, load_episode


def _doc() -> dict[str, Any]:
    doc = load_episode()
    assert isinstance(doc, dict)
    return copy.deepcopy(doc)


def test_the_2012_quota_is_the_announced_one() -> None:
    """2012: 10,546 t (2011-12-27) + 10,680 t (2012-05) in the first half, 9,770 t (2012-08) in the second."""
    e = Episode.from_dict(load_episode())
    by_start = {q.start: q for q in e.quotas}
    assert by_start["2012-01"].t == 10_546 + 10_680
    assert by_start["2012-07"].t == 9_770
    assert sum(q.t for q in e.quotas if q.start.startswith("2012")) == 30_996
    m = episode_market(load_episode())
    assert m.allowed[24] == pytest.approx(21_226 / 6 / (50_145 / 12))  # 2012-01, against the 2009 pace
    assert m.allowed[30] == pytest.approx(9_770 / 6 / (50_145 / 12))


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (("quotas", 0, "from"), "2010-13", "quotas[0].from"),
        (("quotas", 0, "months"), 0, "quotas[0].months"),
        (("market", "china_share_of_world_supply"), 1.5, "market.china_share_of_world_supply"),
        (("outcomes", 0, "usd_per_kg_high"), 1.0, "outcomes[0].usd_per_kg_high"),
        (("dependence", 0, "before"), "most", "dependence[0].before"),
    ],
)
def test_bad_rows_name_the_field(path: tuple[Any, ...], value: object, field: str) -> None:
    doc = _doc()
    target: Any = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(ValidationError) as err:
        Episode.from_dict(doc)
    assert "backtest_2010.json" in str(err.value) and field in str(err.value)
