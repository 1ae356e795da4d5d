"""Demand by segment: the published rows of one commodity, region, year and scenario, side by side.

The rows of ``data/world/demand.json`` are a patchwork: point figures, ranges where a source disagrees with
itself, upper bounds, shares, and sources that disagree with each other. Before a figure feeds an
allocation, the table of one (commodity, region, year, scenario, source) says which segments have a
tonnage, which have only a bound, and how much of the total no segment accounts for, so a scenario never
meets a tonnage the data does not hold. Bounds (industrial motors in most sources) never become demand.

``world_lines`` is what a scenario's ``{"from": "world", ...}`` demand entry calls: it checks the request
against the table step by step (commodity, region, year, scenario, source, each segment) so the error names
the one field of the scenario that asks for something the data does not hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from raretrace.elements import parse_element
from raretrace.errors import ValidationError
from raretrace.world.data import Demand, WorldData
from raretrace.world.lines import COMMODITIES, DemandLine

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

    def lines(
        self,
        country: str,
        *,
        pick: str = "low",
        rest: str | None = None,
        segments: tuple[str, ...] | None = None,
    ) -> tuple[DemandLine, ...]:
        """Scenario demand lines in t/month, one per segment with a tonnage, at the ``pick`` end of ranges.

        ``segments`` keeps only those segments (in that order; each must have a tonnage). With ``rest``
        named and a total published, the total (same end) less the segments taken becomes one more line of
        that segment, so the lines add up to the total. Bounds never become demand. Each line's ``source``
        names the demand.json key, the segment, the end of the range and the row's source."""
        if pick not in PICKS:
            raise ValidationError(f"must be one of {', '.join(PICKS)}, not {pick!r}", field="pick")
        element = _element(self.commodity, self._where())
        if segments is None:
            taken = list(self.tonnages)
        else:
            taken = []
            for name in segments:
                row = self.segment(name)
                if row is None:
                    raise ValidationError(f"segment {name!r} has no published tonnage", field=self._where())
                taken.append(row)

        def at(d: Demand) -> float:
            return d.low if pick == "low" else d.high

        lines = [
            DemandLine(
                d.segment,
                country,
                element,
                at(d) / 12.0,
                f"{self._where()}, {d.segment} ({pick}): {d.source}",
            )
            for d in taken
        ]
        if rest is not None:
            if self.total is None:
                raise ValidationError("no total is published, so there is no remainder", field=self._where())
            left = at(self.total) - sum(at(d) for d in taken)
            if left < 0:
                raise ValidationError(
                    f"at the {pick} end the segments exceed the total by {-left:,.0f} t", field=self._where()
                )
            taken_names = ", ".join(d.segment for d in taken) or "nothing"
            lines.append(
                DemandLine(
                    rest,
                    country,
                    element,
                    left / 12.0,
                    f"{self._where()}, total ({pick}) less {taken_names}: {self.total.source}",
                )
            )
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


@dataclass(frozen=True)
class WorldDemandRequest:
    """What a scenario's ``{"from": "world"}`` demand entry asks for (see ``world_lines``)."""

    commodity: str  # as demand.json names it: NdFeB, NdPr, Dy, Tb ...
    region: str  # "world" or an ISO 3166-1 alpha-2 code, as demand.json names it
    year: int
    country: str  # the scenario country the lines belong to
    segments: tuple[str, ...] = ()  # empty: every segment with a tonnage
    rest: str | None = None  # segment name for the total less the segments taken
    pick: str = "low"  # which end of a published range
    scenario: str | None = None  # the source's scenario (IEA: STEPS, APS); None for observed rows
    source: str | None = None  # text the rows' source must contain, when two publishers give one segment


def world_lines(
    data: WorldData, request: WorldDemandRequest, *, where: str = "demand"
) -> tuple[DemandLine, ...]:
    """Scenario demand lines (t/month) from the published tonnages of ``data.demand``.

    Each step narrows the t/yr rows and, when nothing is left, says which field of the request (``where``
    + ``.commodity``, ``.region``, ``.year``, ``.scenario``, ``.source_contains``, ``.segments[i]``,
    ``.rest``, ``.pick``) asks for what the data does not hold, listing what it does hold."""
    if request.pick not in PICKS:
        raise ValidationError(
            f"must be one of {', '.join(PICKS)}, not {request.pick!r}", field=f"{where}.pick"
        )
    _narrow(data, request, where)
    try:
        table = segment_table(
            data,
            request.commodity,
            request.region,
            request.year,
            scenario=request.scenario,
            source=request.source,
        )
    except ValidationError as e:  # two publishers give one segment
        raise ValidationError(
            f"{e.message}; name it with source_contains", field=f"{where}.source_contains"
        ) from e
    _check_segments(table, request, where)
    try:
        return table.lines(
            request.country, pick=request.pick, rest=request.rest, segments=request.segments or None
        )
    except ValidationError as e:  # the segments exceed the total at this end of the ranges
        raise ValidationError(f"{e.message} ({e.field})", field=f"{where}.rest") from e


def _listed(values: set[str]) -> str:
    return ", ".join(sorted(values)) or "none"


def _narrow(data: WorldData, r: WorldDemandRequest, where: str) -> None:
    """Narrow the t/yr rows by commodity, region, year, scenario and source in turn; the first step
    that leaves none is refused, naming its field and listing what the rows before it hold."""
    # (field, which rows it keeps, what was asked, what the data holds instead, the key grows by)
    steps: list[tuple[str, Callable[[Demand], bool], str, str, Callable[[Demand], str], str]] = [
        (
            "commodity",
            lambda d: d.commodity == r.commodity,
            repr(r.commodity),
            "commodities with tonnages",
            lambda d: d.commodity,
            r.commodity,
        ),
        (
            "region",
            lambda d: d.region == r.region,
            f" for region {r.region!r}",
            "regions",
            lambda d: d.region,
            f" {r.region}",
        ),
        ("year", lambda d: d.year == r.year, f" in {r.year}", "years", lambda d: str(d.year), f" {r.year}"),
        (
            "scenario",
            lambda d: d.scenario == r.scenario,
            f" under scenario {r.scenario!r}",
            "published",
            lambda d: d.scenario or "none (observed or unnamed)",
            "",
        ),
    ]
    if r.source is not None:
        source = r.source
        steps.append(
            (
                "source_contains",
                lambda d: source in d.source,
                f" with a source containing {source!r}",
                "sources",
                lambda d: d.source,
                "",
            )
        )
    rows = [d for d in data.demand if d.unit == "t/yr"]
    key = ""
    for name, keep, asked, holds, value_of, grows in steps:
        same = [d for d in rows if keep(d)]
        if not same:
            raise ValidationError(
                f"demand.json has no tonnage of {key}{asked} "
                f"({holds}: {_listed({value_of(d) for d in rows})})",
                field=f"{where}.{name}",
            )
        rows, key = same, key + grows
        if name == "commodity":  # held as a tonnage, but is it something a scenario line can carry?
            _element(r.commodity, f"{where}.{name}")


def _check_segments(table: SegmentTable, request: WorldDemandRequest, where: str) -> None:
    """The segments asked for are each published once as a tonnage, and the rest (if asked) is a
    segment not taken, of a table with a published total."""
    published = {d.segment for d in table.tonnages}
    for i, name in enumerate(request.segments):
        if name in request.segments[:i]:
            raise ValidationError(f"segment {name!r} is listed twice", field=f"{where}.segments[{i}]")
        if name in published:
            continue
        bound = next((b for b in table.bounds if b.segment == name), None)
        why = (
            f"only a bound (at most {bound.high:,.0f} t), which never becomes demand"
            if bound is not None
            else "no published tonnage"
        )
        raise ValidationError(
            f"segment {name!r} of {table._where()} has {why} (segments with a tonnage: {_listed(published)})",
            field=f"{where}.segments[{i}]",
        )
    if request.rest is not None:
        if table.total is None:
            raise ValidationError(
                f"{table._where()} has no published total, so there is no remainder", field=f"{where}.rest"
            )
        if request.rest in (request.segments or tuple(published)):
            raise ValidationError(f"{request.rest!r} is already a segment taken", field=f"{where}.rest")
