"""Production, not capacity: what allied plants reported making, and who receives it.

``production.json`` holds, per plant and commodity, the nameplate (with its source), the reported output
(period, tonnes, source; a figure published for several elements together is split by the row's
``split`` share), the offtake (share of output each receiving country gets, published or marked
as an assumption) and the status. From these rows this module derives, never assumes:

    run-rate     = mean of the last (up to) four reported quarters x 4, t/yr (an annual row if no quarters)
    utilisation  = sum of run-rates / sum of nameplates over the operating plants that publish both
    ramp months  = the length T of a linear ramp through the origin, share(t) = t / T, fitted by least
                   squares to every observed period of a ramp (months e_i from first output to the
                   period's middle, share f_i of nameplate its annualised output reached):
                   T = sum e_i^2 / sum e_i f_i; with one period, T = e / f. The calibrated ramp of a
                   stage is the mean of its ramps' T, each ramp counted once

and turns them into the forecast's inputs for one receiving country: an operating plant contributes its
run-rate x its offtake share; a plant still ramping contributes the rest of its ramp (nameplate x
utilisation - run-rate) as a project; a planned plant is a project of nameplate x utilisation x share.
Why: the forecast used to count nameplate as output and every allied tonne as American; the reported
quarters (Lynas 1.4-2.1 kt NdPr a quarter against a 10.5 kt/yr nameplate) say otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from raretrace.errors import ValidationError
from raretrace.io import read_package_json
from raretrace.world.data import _Doc, _Row
from raretrace.world.lines import month_index

#: A reported period: a calendar year, a quarter, a half-year, or an Australian fiscal year (July to June,
#: named by the year it ends in, as Lynas reports): 2024, 2024-Q3, 2015-H2, FY2015.
_PERIOD = re.compile(r"^(?:(\d{4})(?:-Q([1-4])|-H([12]))?|FY(\d{4}))$")
PERIOD_FORMS = "YYYY, YYYY-Qn, YYYY-Hn or FYYYYY (July-June)"
PICKS = ("central", "low", "high")


@dataclass(frozen=True)
class Reported:
    period: str  # "YYYY", "YYYY-Qn", "YYYY-Hn" or "FYYYYY" (see _PERIOD)
    t: float
    source: str
    date: str

    @property
    def quarterly(self) -> bool:
        return "-Q" in self.period

    def _span(self) -> tuple[int, int]:
        """Month index of the period's first month and its length in months."""
        m = _PERIOD.match(self.period)
        assert m is not None
        year, quarter, half, fiscal = m.groups()
        if fiscal:
            return month_index(f"{int(fiscal) - 1}-07"), 12
        if quarter:
            return month_index(f"{year}-{3 * int(quarter) - 2:02d}"), 3
        if half:
            return month_index(f"{year}-{6 * int(half) - 5:02d}"), 6
        return month_index(f"{year}-01"), 12

    @property
    def months(self) -> int:
        return self._span()[1]

    def mid_month(self) -> int:
        """Month index of the middle month of the period (a quarter's second month, a half-year's third,
        a year's sixth: June, or December for a fiscal year ending in June)."""
        first, length = self._span()
        return first + (length - 1) // 2

    def per_year(self) -> float:
        """The period's output annualised, t/yr."""
        return self.t * 12.0 / self.months


@dataclass(frozen=True)
class Offtake:
    country: str
    share: float
    low: float
    high: float
    assumption: bool
    basis: str
    source: str

    @property
    def uncertain(self) -> bool:
        """A share the tornado varies: an assumption, or a share derived from published figures that
        gives bounds (Lynas' US NdPr share); a published share with an assumed low end is not."""
        return (self.assumption or self.basis.startswith("derived")) and self.low != self.high


@dataclass(frozen=True)
class Producer:
    id: str
    name: str
    country: str
    commodity: str  # NdPr, Dy, Tb, NdFeB
    unit: str
    status: str  # operating, ramping, planned
    start: str | None  # published start (YYYY, YYYY-MM) for plants not yet operating
    nameplate_t_per_year: float | None
    nameplate_source: str
    first_output: str | None
    reported: tuple[Reported, ...]
    offtake: tuple[Offtake, ...]

    @property
    def stage(self) -> str:
        return "magnet" if self.commodity == "NdFeB" else "separation"

    def run_rate(self) -> float | None:
        """Reported output a year: the last (up to) four quarters annualised, else the latest annual row."""
        quarters = sorted((r for r in self.reported if r.quarterly), key=lambda r: r.mid_month())[-4:]
        if quarters:
            return sum(r.t for r in quarters) / len(quarters) * 4.0
        years = sorted((r for r in self.reported if r.months == 12), key=lambda r: r.mid_month())
        return years[-1].t if years else None

    def share_to(self, country: str, pick: str = "central") -> Offtake:
        """The offtake row for ``country`` (a zero, published-as-absent row when the plant names none)."""
        for o in self.offtake:
            if o.country == country:
                value = {"central": o.share, "low": o.low, "high": o.high}[pick]
                return replace(o, share=value)
        return Offtake(country, 0.0, 0.0, 0.0, False, "no offtake row for this country", "")

    def start_month(self) -> str | None:
        if self.start is None:
            return None
        return f"{self.start}-01" if len(self.start) == 4 else self.start


@dataclass(frozen=True)
class RampSpec:
    """An observed ramp: a plant's first output, the nameplate it ramped towards and its reports. Either
    a producer of the table (its rows, the periods named) or a past ramp with its own rows (Lynas'
    Malaysian plant 2013-2016 ramped towards its original nameplate, not today's)."""

    id: str
    stage: str
    first_output: str
    nameplate_t_per_year: float
    reported: tuple[Reported, ...]


@dataclass(frozen=True)
class Ramp:
    producer: str
    stage: str
    months: float  # months a linear ramp takes from first output to nameplate (least-squares fit)
    fraction: float  # share of nameplate reached in the last observed period
    elapsed_months: float  # months from first output to the last observed period
    points: tuple[tuple[float, float], ...] = ()  # (months since first output, share of nameplate)


@dataclass(frozen=True)
class ProductionData:
    as_of: str
    producers: tuple[Producer, ...]
    ramp_rows: tuple[RampSpec, ...]
    utilization_low: float
    utilization_high: float

    @classmethod
    def from_dict(cls, data: object, name: str = "production.json") -> ProductionData:
        """Validate the table; errors name the file, row and field."""
        doc = _Doc(name, data)
        top = _Row(name, "production", data)
        as_of = top.text("as_of")
        month_index(as_of, f"{name}: as_of")
        producers = tuple(_producer(r) for r in doc.rows("producers"))
        ids = [p.id for p in producers]
        if len(set(ids)) != len(ids):
            raise ValidationError("producer ids must be unique", field=f"{name}: producers")
        ramps = tuple(_ramp(r, producers) for r in doc.rows("ramps"))
        util = doc.object("utilization")
        low, high = util.fraction("low"), util.fraction("high")
        if high < low:
            raise util.error("high", "must not be below low")
        return cls(as_of, producers, ramps, low, high)

    @classmethod
    def load(cls) -> ProductionData:
        """The shipped table (``data/world/production.json``)."""
        return cls.from_dict(read_package_json("data/world/production.json"))

    def producer(self, pid: str) -> Producer:
        for p in self.producers:
            if p.id == pid:
                return p
        raise ValidationError(f"no producer {pid!r}", field="production.json: producers")

    def utilization(self) -> float:
        """Run-rate over nameplate of the ramped operating plants that publish both (a plant with a
        ``first_output`` month is still ramping and would bias the share low; see the module docstring)."""
        rows = [
            (rate, p.nameplate_t_per_year)
            for p in self.producers
            if p.status == "operating"
            and p.first_output is None
            and p.nameplate_t_per_year
            and (rate := p.run_rate()) is not None
        ]
        if not rows:
            raise ValidationError("no operating plant reports output and nameplate", field="production.json")
        return sum(r for r, _ in rows) / sum(n for _, n in rows)

    def ramps(self) -> list[Ramp]:
        """The observed ramps, each fitted as a linear ramp to nameplate (see the module docstring)."""
        return [fit_ramp(spec) for spec in self.ramp_rows]


def fit_ramp(spec: RampSpec) -> Ramp:
    """Least-squares length of a linear ramp through the origin over the ramp's reported periods that
    lie below nameplate (a period at or above it no longer says how fast the plant ramped)."""
    start = month_index(spec.first_output)
    points = tuple(
        (float(r.mid_month() - start), r.per_year() / spec.nameplate_t_per_year)
        for r in sorted(spec.reported, key=lambda r: r.mid_month())
    )
    below = [(e, f) for e, f in points if e > 0 and 0 < f < 1]
    if not below:
        raise ValidationError(
            "a ramp needs a reported period after first output and below nameplate",
            field=f"production.json: ramps[{spec.id}]",
        )
    months = sum(e * e for e, _ in below) / sum(e * f for e, f in below)
    last_e, last_f = below[-1]
    return Ramp(spec.id, spec.stage, months, last_f, last_e, tuple(below))


@dataclass(frozen=True)
class SupplyPart:
    """One producer's contribution to a receiving country's supply of one commodity."""

    producer: str
    kind: str  # "run-rate" (operating, counted from reports), "nameplate" (no reports), "project"
    t_per_year: float  # after utilisation and offtake share
    start: str | None  # for projects: the month the (rest of the) ramp starts
    share: float
    assumption: bool  # rests on an assumption row (offtake share, or nameplate x utilisation)
    ramp_months: float | None = None  # fixed ramp (the rest of an observed ramp); None: drawn by stage


@dataclass(frozen=True)
class Settings:
    """Replaceable inputs the tornado varies: the offtake pick per producer, utilisation and ramp length."""

    receiver: str = "US"
    offtake_pick: tuple[tuple[str, str], ...] = ()  # (producer id, "low"|"high"); others central
    utilization: float | None = None  # None: derived from the reports
    ramp_months: float | None = None  # None: the calibrated observed ramp

    def pick(self, pid: str) -> str:
        return dict(self.offtake_pick).get(pid, "central")


def supply_parts(data: ProductionData, commodity: str, settings: Settings | None = None) -> list[SupplyPart]:
    """The receiving country's supply of one commodity, producer by producer (see the module docstring)."""
    s = settings or Settings()
    util = data.utilization() if s.utilization is None else s.utilization
    ramp = calibrated_ramp(data) if s.ramp_months is None else s.ramp_months
    parts = []
    for p in data.producers:
        if p.commodity != commodity:
            continue
        off = p.share_to(s.receiver, s.pick(p.id))
        rate = p.run_rate()
        if p.status == "operating":
            if rate is not None:
                parts.append(SupplyPart(p.id, "run-rate", rate * off.share, None, off.share, off.assumption))
                if p.first_output and p.nameplate_t_per_year and rate < p.nameplate_t_per_year * util:
                    elapsed = month_index(data.as_of) - month_index(p.first_output)
                    rest = (p.nameplate_t_per_year * util - rate) * off.share
                    left = max(1.0, ramp - elapsed)
                    parts.append(SupplyPart(p.id, "project", rest, data.as_of, off.share, True, left))
            elif p.nameplate_t_per_year:
                t = p.nameplate_t_per_year * util * off.share
                parts.append(SupplyPart(p.id, "nameplate", t, None, off.share, True))
        elif p.nameplate_t_per_year and (month := p.start_month()) is not None:
            t = p.nameplate_t_per_year * util * off.share
            parts.append(SupplyPart(p.id, "project", t, month, off.share, True))
    return parts


def calibrated_ramp(data: ProductionData, stage: str = "separation") -> float:
    """Mean length of the observed linear ramps of a stage, in months."""
    ramps = [r.months for r in data.ramps() if r.stage == stage]
    if not ramps:
        raise ValidationError(f"no observed ramp for stage {stage!r}", field="production.json: ramps")
    return sum(ramps) / len(ramps)


def _ramp(r: _Row, producers: tuple[Producer, ...]) -> RampSpec:
    """A ramp row: a producer and the periods of its reports that show the ramp, or a past ramp with its
    own first output, nameplate and reports."""
    stage = r.stage("stage")
    if "producer" in r.data:
        pid = r.text("producer")
        p = next((x for x in producers if x.id == pid), None)
        if p is None:
            raise r.error("producer", f"no producer {pid!r}")
        key = "observed_periods" if "observed_periods" in r.data else "observed_period"
        raw = r.data.get(key)
        periods = [raw] if isinstance(raw, str) else raw
        if not isinstance(periods, list) or not periods:
            raise r.error(key, f"must name one or more reported periods ({PERIOD_FORMS})")
        rows = []
        for period in periods:
            row = next((x for x in p.reported if x.period == period), None)
            if row is None:
                raise r.error(key, f"{pid} reports no period {period!r}")
            rows.append(row)
        if p.first_output is None or not p.nameplate_t_per_year:
            raise r.error("producer", f"{pid} needs a first_output month and a nameplate to show a ramp")
        return RampSpec(pid, stage, p.first_output, p.nameplate_t_per_year, tuple(rows))
    first = r.text("first_output")
    month_index(first, f"{r.file}: {r.where}.first_output")
    nameplate = r.number("nameplate_t_per_year")
    if nameplate <= 0:
        raise r.error("nameplate_t_per_year", "must be positive")
    return RampSpec(r.text("id"), stage, first, nameplate, _reported(r, None))


def _reported(r: _Row, split: float | None) -> tuple[Reported, ...]:
    items = r.data.get("reported") or []
    if not isinstance(items, list):
        raise r.error("reported", "must be a list of reported periods")
    reported = []
    for i, item in enumerate(items):
        row = _Row(r.file, f"{r.where}.reported[{i}]", item)
        period = row.text("period")
        if not _PERIOD.match(period):
            raise row.error("period", f"must be {PERIOD_FORMS}, not {period!r}")
        if "t_reported" in row.data:  # published for several elements together: this element's share
            if split is None:
                raise row.error("t_reported", "a combined figure needs the producer's split share")
            tonnes = row.number("t_reported") * split
        else:
            tonnes = row.number("t")
        reported.append(Reported(period, tonnes, row.text("source"), row.text("date")))
    return tuple(reported)


def _producer(r: _Row) -> Producer:
    split = _Row(r.file, f"{r.where}.split", r.data["split"]).fraction("share") if "split" in r.data else None
    reported = _reported(r, split)
    offtake = []
    for o in r.rows("offtake"):
        share = o.share("share")
        low = o.share("share_low") if o.has_share("share_low") else share
        high = o.share("share_high") if o.has_share("share_high") else share
        if not low <= share <= high:
            raise o.error("share", "must lie between share_low and share_high")
        basis = o.text("basis")
        offtake.append(
            Offtake(
                o.country("country"),
                share,
                low,
                high,
                basis.startswith("assumption"),
                basis,
                o.text("source"),
            )
        )
    status = r.choice("status", ("operating", "ramping", "planned"))
    start = r.optional_start("start")
    if status != "operating" and start is None:
        raise r.error("start", "a plant not yet operating needs its published start")
    first = r.data.get("first_output")
    if first is not None:
        month_index(str(first), f"{r.file}: {r.where}.first_output")
    return Producer(
        r.text("id"),
        r.text("name"),
        r.country("country"),
        r.choice("commodity", ("NdPr", "Dy", "Tb", "NdFeB")),
        r.text("unit"),
        status,
        start,
        r.optional_number("nameplate_t_per_year"),
        r.text("nameplate_source"),
        str(first) if first is not None else None,
        reported,
        tuple(offtake),
    )
