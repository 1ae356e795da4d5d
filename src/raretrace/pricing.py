"""Shares by value: the origin vectors weighted by what each element is worth.

Some rules count by value, not mass (MOFCOM Announcement No. 61's 0.1% de-minimis is "of the value").
A price table gives, per element, a sourced price per kg of oxide; it is converted to a price per kg of
contained element. Elements without a price are listed as unpriced rather than given a guessed price.
The table is data: the shipped one (``data/prices.json``) or a user's file of the same shape.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from raretrace.elements import oxide_factor, parse_element
from raretrace.errors import ValidationError
from raretrace.fields import Fields
from raretrace.io import read_json_file, read_package_json
from raretrace.provenance import ElementOrigin, StageShares, at_stage, with_marginals


@dataclass(frozen=True)
class Price:
    element: str
    usd_per_kg_element: float
    date: str
    source: str


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price]
    origin: str  # where the table came from, for evidence

    @classmethod
    def from_dict(cls, data: object, origin: str) -> PriceTable:
        if not isinstance(data, dict) or not isinstance(data.get("prices"), list):
            raise ValidationError("a price table is an object with a list 'prices'", field="prices")
        prices: dict[str, Price] = {}
        for i, item in enumerate(data["prices"]):
            row = Fields(item, f"prices[{i}]", shape="must be an object")
            try:
                element = parse_element(str(row.raw("element", None))).value
            except ValidationError as e:
                raise row.error("element", e.message) from e
            try:
                value = row.number("oxide_usd_per_kg", low=math.ulp(0.0), high=math.inf)
            except ValidationError as e:
                raise row.error("oxide_usd_per_kg", "must be a positive number") from e
            try:
                day, source = row.text("date"), row.text("source")
            except ValidationError as e:
                raise ValidationError("every price names its date and source", field=e.field) from e
            if element in prices:
                raise row.error("element", f"{element} is priced twice")
            prices[element] = Price(element, value / oxide_factor(element), day, source)
        return cls(prices, origin)

    @classmethod
    def load(cls, path: Path | None = None) -> PriceTable:
        """The shipped table, or the user's file at ``path``."""
        if path is None:
            return _shipped_table()
        return cls.from_dict(read_json_file(path, "prices"), str(path))


def element_values(element_kg: Mapping[str, float], table: PriceTable) -> dict[str, float]:
    """USD value of each priced element; unpriced elements are left out (see ``unpriced``)."""
    return {e: kg * table.prices[e].usd_per_kg_element for e, kg in element_kg.items() if e in table.prices}


def unpriced(element_kg: Mapping[str, float], table: PriceTable) -> list[str]:
    return sorted(e for e, kg in element_kg.items() if kg > 0 and e not in table.prices)


def weighted_shares(
    origin: Mapping[str, ElementOrigin], weights: Mapping[str, float], aspect: str
) -> StageShares:
    """Per stage, the ``weights``-weighted mixture of the elements' shares (``location`` or ``technology``).

    An element lacking a stage another element has counts as ``none`` or ``unknown`` (``at_stage``),
    so each stage's shares still sum to 1.
    """
    total = sum(weights.values())
    shares: StageShares = {}
    if total <= 0:
        return shares
    full = with_marginals(origin)
    histories = {e: full[e][aspect] if e in full else {} for e in weights}  # type: ignore[literal-required]  # aspect: Literal
    # in the order the histories give them (the chain's), never a set's: the answer is the same bytes
    # whatever the hash seed
    stages = list(dict.fromkeys(stage for history in histories.values() for stage in history))
    for stage in stages:
        acc = shares.setdefault(stage, {})
        for element, weight in weights.items():
            for country, share in at_stage(histories[element], stage).items():
                acc[country] = acc.get(country, 0.0) + share * weight / total
    return shares


def value_shares(
    origin: Mapping[str, ElementOrigin], element_kg: Mapping[str, float], table: PriceTable
) -> dict[str, object]:
    """Per stage, the share of the lot's priced rare-earth value done in each country and with whose
    technology.

    Returns ``{"location": …, "technology": …, "priced_value_usd": …, "unpriced": [elements]}``.
    """
    values = element_values(element_kg, table)
    return {
        "location": weighted_shares(origin, values, "location"),
        "technology": weighted_shares(origin, values, "technology"),
        "priced_value_usd": sum(values.values()),
        "unpriced": unpriced(element_kg, table),
    }


@cache
def _shipped_table() -> PriceTable:
    """The package's price table, read once per process (package data; the table is immutable)."""
    return PriceTable.from_dict(read_package_json("data/prices.json"), "raretrace/data/prices.json")
