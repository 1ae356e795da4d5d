"""A country has one colour on every chart: the dashboard's two share charts (whose countries come in
different orders) and the report's Sankey all paint China alike."""

from __future__ import annotations

import json
import re

from raretrace.colours import country_colour
from raretrace.server import charts
from raretrace.world.report import sankey
from raretrace.world.scenario import run


def _bar_colours(html: str) -> dict[str, str]:
    data = json.loads(re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", html, re.S)[1])  # type: ignore[index]
    return {trace["name"]: trace["marker"]["color"] for trace in data}


def test_china_is_the_same_colour_on_every_chart() -> None:
    world = charts.stage_share_chart([{"stage": "mining", "shares": {"CN": 0.7, "US": 0.1}}])
    registry = charts.stage_share_chart([{"stage": "magnet", "shares": {"JP": 0.5, "DE": 0.1, "CN": 0.4}}])
    assert _bar_colours(world)["CN"] == _bar_colours(registry)["CN"] == country_colour("CN")
    assert _bar_colours(world)["US"] != _bar_colours(world)["CN"]
    from raretrace.server.api_world import shipped

    scenario, _ = shipped("cn-magnet-ban-us")
    figure = sankey(scenario, run(scenario))
    nodes = figure.data[0].node
    chinese = [c for label, c in zip(nodes.label, nodes.color, strict=True) if label.startswith("CN ")]
    assert chinese and set(chinese) == {country_colour("CN")}


def test_colours_do_not_depend_on_the_run() -> None:
    assert country_colour("ZZ") == country_colour("ZZ") and country_colour("CN") != country_colour("US")
