"""Demand by segment: the published rows of one commodity, region, year and scenario, side by side.

The rows of ``data/world/demand.json`` are a patchwork: point figures, ranges where a source disagrees with
itself, upper bounds, shares, and sources that disagree with each other. Before a figure feeds an
allocation, the table of one (commodity, region, year, scenario, source) says which segments have a
tonnage, which have only a bound, and how much of the total no segment accounts for, so a scenario never
meets a tonnage the data does not hold. Industrial motors, for instance, only ever appear as a bound.
"""

from __future__ import annotations

from dataclasses import dataclass

from raretrace.elements import parse_element
from raretrace.errors import ValidationError
from raretrace.world.data import Demand, WorldData
from raretrace.world.scenario import COMMODITIES, DemandLine

PICKS = ("low", "high")


@dataclass(frozen=True)
class SegmentTable:
    commodity: str
    region: str
    year: int
    scenario: str | None
    total: Demand | None  # the segment "all" row, if the source gives one
    tonnages: tuple[Demand, ...]  # observed or projected t/yr, one row per segment
    bounds: tuple[Demand, ...]  # limits only (kind "bound"): never fed to an allocation

    def segment(self, name: str) -> Demand | None:
        return next((d for d in self.tonnages if d.segment == name), None)

    def unattributed(self) -> tuple[float, float] | None:
        """Tonnes of the total that no segment's tonnage accounts for, (low, high); None without a total.

        A bounded segment (industry) lives inside this remainder, so its bound cannot exceed the high end."""
        if self.total is None:
            return None
        low = self.total.low - sum(d.high for d in self.tonnages)
        high = self.total.high - sum(d.low for d in self.tonnages)
        if high < 0:
            raise ValidationError(
                f"the segments' tonnages ({sum(d.low for d in self.tonnages):,.0f} t at least) exceed the "
                f"total ({self.total.high:,.0f} t)",
                field=self._where(),
            )
        return max(low, 0.0), high

    def lines(self, country: str, *, pick: str = "low", rest: str | None = None) -> tuple[DemandLine, ...]:
        """Scenario demand lines in t/month, one per segment with a tonnage, at the ``pick`` end of ranges.

        With ``rest`` named and a total published, the total (same end) less the segments becomes one more
        line of that segment, so the lines add up to the total. Bounds never become demand."""
        if pick not in PICKS:
            raise ValidationError(f"must be one of {', '.join(PICKS)}, not {pick!r}", field="pick")
        element = _element(self.commodity, self._where())

        def at(d: Demand) -> float:
            return d.low if pick == "low" else d.high

        lines = [DemandLine(d.segment, country, element, at(d) / 12.0) for d in self.tonnages]
        if rest is not None:
            if self.total is None:
                raise ValidationError("no total is published, so there is no remainder", field=self._where())
            left = at(self.total) - sum(at(d) for d in self.tonnages)
            if left < 0:
                raise ValidationError(
                    f"at the {pick} end the segments exceed the total by {-left:,.0f} t", field=self._where()
                )
            lines.append(DemandLine(rest, country, element, left / 12.0))
        return tuple(lines)

    def _where(self) -> str:
        scenario = f", {self.scenario}" if self.scenario else ""
        return f"demand.json: {self.commodity} {self.region} {self.year}{scenario}"


def segment_table(
    data: WorldData,
    commodity: str,
    region: str,
    year: int,
    *,
    scenario: str | None = None,
    source: str | None = None,
) -> SegmentTable:
    """The tonnage rows of one commodity, region, year and scenario (``source``: a text the rows' source
    must contain, to pick one publisher when several give the same segment)."""
    rows = [
        d
        for d in data.demand
        if d.unit == "t/yr"
        and (d.commodity, d.region, d.year, d.scenario) == (commodity, region, year, scenario)
        and (source is None or source in d.source)
    ]
    where = f"demand.json: {commodity} {region} {year}" + (f", {scenario}" if scenario else "")
    if not rows:
        raise ValidationError("no published tonnage", field=where)
    seen: dict[str, Demand] = {}
    for d in rows:
        if d.kind == "bound":
            continue
        if d.segment in seen:
            raise ValidationError(
                f"segment {d.segment!r} has two tonnages ({seen[d.segment].source!r} and {d.source!r}); "
                "name the source to use",
                field=where,
            )
        seen[d.segment] = d
    total = seen.pop("all", None)
    bounds = tuple(d for d in rows if d.kind == "bound")
    return SegmentTable(commodity, region, year, scenario, total, tuple(seen.values()), bounds)


def _element(commodity: str, where: str) -> str:
    """The scenario engine's name for a commodity: an element, or NdPr (oxide) / NdFeB."""
    if commodity.lower() in COMMODITIES:
        return COMMODITIES[commodity.lower()]
    try:
        return parse_element(commodity).value
    except ValidationError as e:
        raise ValidationError(
            f"{commodity!r} is not an element, NdPr oxide or NdFeB: it cannot be a scenario line", field=where
        ) from e
