"""The market model's shared parameters and the published estimates their Monte Carlo ranges must cover.

``data/world/market_params.json`` gives each parameter a value, or a central value with an assumed
low-high range, and, where the literature offers one, a list of published estimates (author, year,
title, locator, value, what it measures, rare-earth or proxy). The range the Monte Carlo draws is

    drawn low  = min(assumed low,  every estimate marked use "range")
    drawn high = max(assumed high, every estimate marked use "range")

so a published figure is never outside what the paths draw, and an estimate with no usable number (or
one that describes a single product) is listed with use "context" and not drawn. Why a hull and not the
estimates alone: no rare-earth elasticity with a readable value was found, and one proxy figure per
parameter is no range.
"""

from __future__ import annotations

from dataclasses import dataclass

from raretrace.io import read_package_json
from raretrace.world.data import _Doc, _Row

USES = ("range", "context")
KINDS = ("rare earth", "proxy")


@dataclass(frozen=True)
class Estimate:
    parameter: str
    author: str
    year: int
    title: str
    locator: str
    value: float | None  # absolute value; None when the source states a direction only
    measures: str
    kind: str  # "rare earth" or "proxy" (another metal, or commodities in general)
    use: str  # "range": the draw must cover it; "context": listed only
    source: str


def _doc() -> object:
    return read_package_json("data/world/market_params.json")


def _estimates(name: str, row: _Row) -> list[Estimate]:
    out = []
    for e in row.rows("estimates") if "estimates" in row.data else []:
        value = e.optional_number("value")
        use = e.choice("use", USES)
        if use == "range" and value is None:
            raise e.error("value", "an estimate the range must cover needs a value")
        out.append(
            Estimate(
                name,
                e.text("author"),
                e.integer("year"),
                e.text("title"),
                e.text("locator"),
                value,
                e.text("measures"),
                e.choice("kind", KINDS),
                use,
                e.text("source"),
            )
        )
    return out


def load_estimates(doc: object | None = None) -> tuple[Estimate, ...]:
    """Every published estimate listed in the parameter file, in file order."""
    params = _Doc("market_params.json", _doc() if doc is None else doc).object("parameters")
    return tuple(e for name in params.data for e in _estimates(name, _param(params, name)))


def _param(params: _Row, name: str) -> _Row:
    return _Row(params.file, f"parameters.{name}", params.data[name])


def load_params(doc: object | None = None) -> dict[str, object]:
    """The shared parameter set: name -> number, or {central, low, high} with the drawn (hull) range."""
    params = _Doc("market_params.json", _doc() if doc is None else doc).object("parameters")
    out: dict[str, object] = {}
    for name in params.data:
        row = _param(params, name)
        if "value" in row.data:
            out[name] = row.number("value")
            continue
        central, low, high = row.number("central"), row.number("low"), row.number("high")
        drawn = [e.value for e in _estimates(name, row) if e.use == "range" and e.value is not None]
        low, high = min([low, *drawn]), max([high, *drawn])
        if not low <= central <= high:
            raise row.error("central", "must lie inside the range")
        out[name] = {"central": central, "low": low, "high": high}
    return out
