"""How the interfaces made a trace's JSON before they wrote it from ``json_ready``: the reference of
``tests/test_trace_json_unchanged.py``, ``tests/test_redact_typed.py`` and
``benchmarks/bench_trace_text.py`` (this module holds no tests).

``trace --json`` printed ``json.dumps(as_object(answer), indent=2, sort_keys=True)``; the web lot page
made the JSON object of each trace with ``as_object``, annotated the up-trace's edges in place with the
kilograms of each element they carried, and redacted both traces from their JSON objects
(``redact_trace``). The code below is theirs as it was in ``src/raretrace/server/web.py`` and
``server/redact.py`` at commit 6077de7, kept to compare the new ways with.
"""

from __future__ import annotations

import json
from collections.abc import Set
from typing import Any

from raretrace.elements import REE_SYMBOLS
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.ledger.compliance import check_lots
from raretrace.ledger.lineage import trace_down, trace_up
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import Registry
from raretrace.render.jsonable import as_object
from raretrace.server import certificate_pages, charts
from raretrace.server.access import visible_lots
from raretrace.server.api_lots import certificates_seen, lot_view
from raretrace.server.redact import KEPT, HiddenNames, _array, _object, redact_custody
from raretrace.server.web import MAX_DRAWN, TRACE_PATHS


def trace_text(answer: object) -> str:
    """``trace --json`` (``cli.common.json_text`` of ``as_object``)."""
    return json.dumps(as_object(answer), indent=2, sort_keys=True) + "\n"


# --- server/redact.py --------------------------------------------------------------------------------


def _summary(name: HiddenNames, lot_id: str, summary: JSONObject) -> JSONObject:
    if lot_id in name.visible:
        return summary
    return {k: v for k, v in summary.items() if k in KEPT} | {"hidden": True}


def _source(name: HiddenNames, source: JSONObject) -> JSONObject:
    """One source of a trace with its lot and the lots of its paths named by ``name``."""
    lot = str(source["lot"])
    out = _summary(name, lot, {k: v for k, v in source.items() if k not in ("lot", "paths")})
    out = out | {"lot": name(lot), "share": source["share"], "path_count": source["path_count"]}
    if "element_shares" in source:
        out = out | {"element_shares": source["element_shares"]}
    paths: list[JSONValue] = []
    for path in _array(source["paths"]):
        entry = _object(path)
        paths.append(entry | {"lots": [name(x) for x in _array(entry["lots"])]})
    return out | {"paths": paths}


def redact_trace(
    result: JSONObject,
    visible: Set[str],
    facilities: Set[str] | None = None,
    names: HiddenNames | None = None,
) -> JSONObject:
    """The same trace with every lot outside ``visible`` replaced by a placeholder from ``names`` (pass
    the same ``names`` for traces shown together; ``hidden_lots`` counts this trace's own), and (given
    the caller's ``facilities``) the custody of the visible lots the caller does not hold hidden."""
    name = names if names is not None else HiddenNames(visible)
    lots = _object(result["lots"])
    out = dict(result)
    shown: JSONObject = {name(k): _summary(name, k, _object(v)) for k, v in lots.items()}
    if facilities is not None:
        shown = {k: redact_custody(_object(v), facilities) for k, v in shown.items()}
    out["lots"] = shown
    edges: list[JSONValue] = []
    for edge in _array(result["edges"]):
        e = _object(edge)
        edges.append(e | {"child": name(e["child"]), "parent": name(e["parent"])})
    out["edges"] = edges
    if "sources" in result:
        out["sources"] = [_source(name, _object(s)) for s in _array(result["sources"])]
    for key in ("reached", "end_items"):
        if key in result:
            out[key] = [name(x) for x in _array(result[key])]
    out["hidden_lots"] = sum(1 for lot_id in lots if lot_id not in name.visible)
    return out


# --- server/web.py -----------------------------------------------------------------------------------


def annotate(registry: Registry, root: str, up: dict[str, Any]) -> None:
    """Give each edge of an up-trace the kilograms of each element of THIS lot that it carried, before
    any lot is hidden: the lot's element mass is traced back generation by generation, each lot's share
    split over its inputs in proportion to the element mass each input brought (controlled blending,
    as the origin vectors do). Whole input masses would show the ore's entire content, most of which
    went into other lots."""
    with registry.engine.connect() as conn:
        found = registry.store.lots(conn, sorted(up["lots"]))
    fractions = {i: lot.spec.composition.fractions for i, lot in found.items()}
    incoming: dict[str, list[dict[str, Any]]] = {}
    pending: dict[str, int] = {}
    for edge in up["edges"]:
        incoming.setdefault(edge["child"], []).append(edge)
        pending[edge["parent"]] = pending.get(edge["parent"], 0) + 1
        edge["element_kg"] = {}
    lot = found[root]
    carried: dict[str, dict[str, float]] = {
        root: {e: lot.spec.element_mass(e) for e in fractions[root] if e in REE_SYMBOLS}
    }
    ready = [root]
    while ready:
        node = ready.pop()
        for element, kg in carried.get(node, {}).items():
            edges = incoming.get(node, [])
            brought = [e["mass_kg"] * fractions.get(e["parent"], {}).get(element, 0.0) for e in edges]
            total = sum(brought)
            for edge, part in zip(edges, brought, strict=True):
                flow = kg * part / total if total > 0 else 0.0
                edge["element_kg"][element] = flow
                into = carried.setdefault(edge["parent"], {})
                into[element] = into.get(element, 0.0) + flow
        for edge in incoming.get(node, []):
            pending[edge["parent"]] -= 1
            if pending[edge["parent"]] == 0:
                ready.append(edge["parent"])


def lot_model(registry: Registry, caller: Principal, lot_id: str) -> dict[str, Any]:
    details = lot_view(registry, caller, lot_id)  # 404 alike for missing and not visible
    # the page works on the traces' JSON (render.jsonable), as the API sends them: the graph and the
    # Sankeys annotate and redact it, and the template reads it by key
    up: dict[str, Any] = as_object(trace_up(registry, lot_id, max_paths=TRACE_PATHS))
    down: dict[str, Any] = as_object(trace_down(registry, lot_id))
    annotate(registry, lot_id, up)
    if not caller.sees_everything:
        with registry.engine.connect() as conn:
            visible = visible_lots(conn, caller, {*up["lots"], *down["lots"]})
        names = HiddenNames(visible)  # one numbering for the page: the graph merges both traces
        up, down = (redact_trace(x, visible, caller.facilities, names) for x in (up, down))
    composition = details["lot"]["composition"]
    elements = [e for e in sorted(composition, key=lambda e: -composition[e]) if e in REE_SYMBOLS]
    with registry.engine.connect() as conn:
        certificates = certificates_seen(conn, caller, lot_id)
    for summary in certificates:  # one naming another participant's lot is withheld (docs/security.md)
        if isinstance(summary, dict):
            lots = summary.get("lots")
            hidden = (
                [lot for lot in lots if isinstance(lot, str) and lot.startswith("hidden-")]
                if isinstance(lots, list)
                else []
            )
            summary["withheld"] = bool(hidden)
    drawable = len({*up["lots"], *down["lots"]}) <= MAX_DRAWN
    return {
        "details": details,
        "lot": details["lot"],
        "up": up,
        "down": down,
        "lineage_size": len({*up["lots"], *down["lots"]}),
        "graph": charts.lineage_svg(lot_id, up, down) if drawable else None,
        "sankeys": [(e, charts.origin_sankey(lot_id, up, e)) for e in elements[:4]]
        if len(up["lots"]) <= MAX_DRAWN
        else [],
        "verdicts": [as_object(v) for v in check_lots(registry, [lot_id])],
        "certificates": certificates,
        "href": charts.lot_href,
        "view_href": certificate_pages.view_href,
        "download_href": certificate_pages.download_href,
    }
