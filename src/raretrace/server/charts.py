"""What the web pages draw: plotly figures (rendered to HTML fragments; plotly.js is served from the
package, never a CDN) and the lineage graph as an SVG whose lots are links."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import plotly.graph_objects as go

from raretrace.colours import country_colour

CONFIG = {"responsive": True, "displaylogo": False}
NODE_W, NODE_H, COL_GAP, ROW_GAP = 200, 46, 60, 22


def fragment(figure: go.Figure, post_script: str | None = None) -> str:
    figure.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, autosize=True)
    return str(
        figure.to_html(full_html=False, include_plotlyjs=False, config=CONFIG, post_script=post_script)
    )


#: A Sankey on a narrow screen (a phone, under 600 px): generations flow top to bottom, one row each,
#: so every node gets the chart's whole width to share with its row instead of a column 70 px wide, and
#: each label is cut (with an ellipsis) to its node's width, measured with the label's own font, so no
#: label runs into another or off the screen; the whole lot id stays in the hover text. Labels are
#: restyled in the figure's data (not in the drawn SVG), so plotly's own redraws keep them.
#: ``{plot_id}`` is filled in by plotly, GENERATIONS by ``origin_sankey``.
NARROW_SANKEY = """(function () {
  var el = document.getElementById('{plot_id}');
  if (!el || el.offsetWidth >= 600) return;
  var canvas = document.createElement('canvas').getContext('2d');
  var height = Math.max(300, 40 + 100 * GENERATIONS);
  el.style.height = height + 'px';  // the box grows with the chart: nothing drawn over what follows
  Plotly.restyle(el, {orientation: 'v'}).then(function () {
    return Plotly.relayout(el, {height: height});
  }).then(function () {
    var full = el.data[0].node.label.slice(), fitted = full.slice();
    el.querySelectorAll('.sankey-node').forEach(function (node) {
      var d = node.__data__;
      if (!d || !d.node) return;
      var i = d.node.pointNumber, room = d.visibleHeight - 8, text = full[i];
      canvas.font = d.textFont.size + 'px ' + d.textFont.family;
      while (text.length && canvas.measureText(text + '\u2026').width > room) text = text.slice(0, -1);
      fitted[i] = text === full[i] ? text : (text ? text + '\u2026' : '');
    });
    return Plotly.restyle(el, {'node.label': [fitted]});
  }).then(function () { el.dataset.fitted = 'narrow'; });
})();"""


def stage_share_chart(
    stages: Sequence[Mapping[str, Any]], title: str = "Share of world output by country (%)"
) -> str:
    """One horizontal stacked bar per stage: each country's share, then what is unallocated."""
    countries: list[str] = []
    for stage in stages:
        for country in stage["shares"]:
            if country not in countries:
                countries.append(country)
    labels = [f"{s['stage']} ({s['year']})" if "year" in s else str(s["stage"]) for s in stages]
    figure = go.Figure()
    for country in countries:
        figure.add_bar(
            name=country,
            marker_color=country_colour(country),  # the same colour for a country on every chart
            y=labels,
            x=[100 * s["shares"].get(country, 0.0) for s in stages],
            orientation="h",
            hovertemplate=f"{country}: %{{x:.1f}}%<extra></extra>",
        )
    figure.add_bar(
        name="unallocated",
        y=labels,
        x=[100 * s.get("unallocated", 0.0) for s in stages],
        orientation="h",
        marker_color=country_colour("unallocated"),
    )
    figure.update_layout(barmode="stack", title=title, height=320, legend_traceorder="normal")
    return fragment(figure)


def kilograms(value: float) -> str:
    """A mass as people read it: thousands separated, whole kilograms from 100 kg up, never 2.5e+06."""
    return f"{value:,.0f} kg" if abs(value) >= 100 else f"{value:,.3g} kg"


def lot_href(lot_id: str) -> str:
    return "/lots/" + quote(lot_id, safe=":")


def short(lot_id: str) -> str:
    return lot_id.rsplit(":", 1)[-1][:26]


def lineage_svg(root: str, up: Mapping[str, Any], down: Mapping[str, Any]) -> dict[str, Any]:
    """Columns by generation (sources left, the lot in the middle, products right); visible lots link
    to their page, hidden ones are grey boxes."""
    depth: dict[str, int] = {root: 0}
    for result, sign, near, far in ((up, -1, "child", "parent"), (down, 1, "parent", "child")):
        nexts: dict[str, list[str]] = {}
        for edge in result["edges"]:
            nexts.setdefault(edge[near], []).append(edge[far])
        queue = deque([root])
        while queue:
            node = queue.popleft()
            for other in nexts.get(node, ()):
                d = depth[node] + sign
                if other not in depth or abs(d) > abs(depth[other]):
                    depth[other] = d
                    queue.append(other)
    lots = {**up["lots"], **down["lots"]}
    low = min(depth.values())
    columns: dict[int, list[str]] = {}
    for lot_id in sorted(depth, key=lambda x: (depth[x], x)):
        columns.setdefault(depth[lot_id] - low, []).append(lot_id)
    pos: dict[str, tuple[int, int]] = {}
    nodes = []
    for col, members in columns.items():
        for row, lot_id in enumerate(members):
            x, y = 10 + col * (NODE_W + COL_GAP), 10 + row * (NODE_H + ROW_GAP)
            pos[lot_id] = (x, y)
            info = lots.get(lot_id, {})
            hidden = bool(info.get("hidden")) or lot_id.startswith("hidden-")
            nodes.append(
                {
                    "id": lot_id,
                    "x": x,
                    "y": y,
                    "label": short(lot_id),
                    "detail": f"{info.get('form', '')} · {kilograms(float(info.get('mass_kg', 0)))}",
                    "form": info.get("form", ""),
                    "mass_kg": info.get("mass_kg", 0),
                    "href": None if hidden else lot_href(lot_id),
                    "root": lot_id == root,
                }
            )
    edges = []
    for edge in [*up["edges"], *down["edges"]]:
        if edge["parent"] in pos and edge["child"] in pos:
            (x1, y1), (x2, y2) = pos[edge["parent"]], pos[edge["child"]]
            edges.append({"x1": x1 + NODE_W, "y1": y1 + NODE_H // 2, "x2": x2, "y2": y2 + NODE_H // 2})
    width = 20 + len(columns) * (NODE_W + COL_GAP) - COL_GAP
    height = 20 + max(len(m) for m in columns.values()) * (NODE_H + ROW_GAP) - ROW_GAP
    return {"nodes": nodes, "edges": edges, "width": width, "height": height, "w": NODE_W, "h": NODE_H}


def origin_sankey(root: str, up: Mapping[str, Any], element: str) -> str:
    """Where this lot's kilograms of the element came from, along its lineage, sources on the left
    (``edge["element_kg"]``, put there by the page before any lot was hidden)."""
    labels: list[str] = []
    hover: list[str] = []
    index: dict[str, int] = {}

    def node(lot_id: str) -> int:
        if lot_id not in index:
            info = up["lots"].get(lot_id, {})
            index[lot_id] = len(labels)
            labels.append(short(lot_id)[:18])
            where = info.get("producer") or ("" if info.get("hidden") else "?")
            hover.append(f"{lot_id} ({info.get('form', '')}{', ' + where if where else ''})")
        return index[lot_id]

    sources, targets, values = [], [], []
    for edge in up["edges"]:
        kg = float(edge.get("element_kg", {}).get(element, 0.0))
        if kg > 0:
            sources.append(node(edge["parent"]))
            targets.append(node(edge["child"]))
            values.append(kg)
    node(root)
    depth = {index[root]: 0}
    for _ in range(len(labels)):  # parents one generation above their children (a DAG: this settles)
        for parent, child in zip(sources, targets, strict=True):
            if child in depth:
                depth[parent] = max(depth.get(parent, 0), depth[child] + 1)
    figure = go.Figure(
        go.Sankey(
            node={
                "label": labels,
                "pad": 14,
                "customdata": hover,
                "hovertemplate": "%{customdata}<extra></extra>",
            },
            link={"source": sources, "target": targets, "value": values},
            valueformat=".3g",
            valuesuffix=" kg",
        )
    )
    figure.update_layout(title=f"{element}: this lot's kg, traced back to its sources", height=300)
    generations = max(depth.values()) + 1
    return fragment(figure, post_script=NARROW_SANKEY.replace("GENERATIONS", str(generations)))
