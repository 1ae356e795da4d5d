"""The generic rule types regimes are built from.

Each type reads its parameters from a regime file and judges a subject, returning a ``Finding`` with
figures and evidence. Regimes combine them; adding a regime never needs a new type unless the law
asks a new kind of question. Types:

* ``share_threshold`` — the share (by mass or value, of chosen elements or of the whole item) whose
  chosen stages were done in chosen countries, against a threshold (MOFCOM 61's 0.1% de-minimis).
* ``excluded_countries`` — no share at all of the chosen stages in the chosen countries (DFARS).
* ``technology_origin`` — as ``share_threshold``, over whose process technology was used.
* ``allowed_countries`` — every chosen stage in the chosen countries only (the consortium).
* ``end_use`` — escalates another finding for listed end uses (MOFCOM 61: military users denied).
* ``fingerprint`` — upstream ore and concentrate carry an origin fingerprint consistent with it.
* ``portfolio_concentration`` — over a set of lots, no single third country above a share (EU CRMA).
* ``made_in`` — the item itself was made (assembled, manufactured) in chosen countries (DFARS end items).
* ``exception`` — a statutory exception: when its conditions hold, the findings of the rules it names
  no longer bind (DFARS's recycled-magnet, COTS and electronic-device exceptions, waivers).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar, TypedDict

from raretrace.provenance import NOT_PERFORMED, UNKNOWN, path_steps, step_at
from raretrace.rules.fields import RegimeFields
from raretrace.rules.judging import ASSERTIONS
from raretrace.rules.scope import DateWindow, Scope
from raretrace.rules.subject import (
    Context,
    ShareFigure,
    Subject,
    select_elements,
    share_at_stages,
    stage_shares,
)
from raretrace.rules.verdict import Evidence, Finding, Outcome

#: Shares are sums of floats: a share "exactly at" a threshold may come out a few ulps below it.
#: Anything within this of the threshold counts as at it (regime thresholds are far coarser).
EPSILON = 1e-12
OUTCOMES = tuple(o.value for o in Outcome)


def pct(value: float) -> str:
    if math.isinf(value):
        return "unbounded"
    return f"{value * 100:.6g}%"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    window: DateWindow
    applies_to: Scope
    #: A rule switched off by the regime's parameters (e.g. the consortium's fingerprint requirement).
    enabled: bool = True
    #: Portfolio rules judge a set of lots together, lot rules one subject at a time.
    portfolio: ClassVar[bool] = False
    #: Rules that read other rules' findings run after them.
    escalates: ClassVar[bool] = False
    #: Exception rules lift other rules' findings when their conditions hold.
    excepts: ClassVar[bool] = False

    def finding(
        self,
        outcome: Outcome,
        why: str,
        figures: Mapping[str, object] | None = None,
        evidence: Sequence[Evidence] = (),
    ) -> Finding:
        return Finding(self.id, outcome, f"{self.title}: {why}", dict(figures or {}), tuple(evidence))

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        raise NotImplementedError

    def evaluate_portfolio(self, subjects: Sequence[Subject], ctx: Context) -> Finding:
        raise NotImplementedError


class _Common(TypedDict):
    """The fields every rule reads, so each rule's constructor call is checked."""

    enabled: bool
    id: str
    title: str
    window: DateWindow
    applies_to: Scope


def _common(fields: RegimeFields) -> _Common:
    enabled = fields.raw("enabled", True)
    if not isinstance(enabled, bool):
        raise fields.error("enabled", "must be true or false (or a parameter holding one)")
    return {
        "enabled": enabled,
        "id": fields.text("id"),
        "title": fields.text("title"),
        "window": DateWindow.read(fields),
        "applies_to": Scope.read(fields.table("applies_to")),
    }


@dataclass(frozen=True)
class ShareThreshold(Rule):
    elements: tuple[str, ...] = ("*",)
    stages: tuple[str, ...] = ("*",)
    countries: tuple[str, ...] = ()
    aspect: str = "location"
    basis: str = "mass"
    of: str = "elements"
    threshold: float = 0.0
    trigger: str = "at_or_above"
    outcome: Outcome = Outcome.FAIL
    #: technology aspect only: count a stage only where it was performed outside these countries
    performed_outside: tuple[str, ...] = ()

    default_threshold: ClassVar[float | None] = None
    default_trigger: ClassVar[str] = "at_or_above"
    default_aspect: ClassVar[str] = "location"

    @classmethod
    def read(cls, fields: RegimeFields) -> ShareThreshold:
        threshold = (
            fields.number("threshold")
            if cls.default_threshold is None
            else fields.number("threshold", cls.default_threshold)
        )
        aspect = fields.choice("aspect", ("location", "technology"), cls.default_aspect)
        performed_outside = fields.countries("performed_outside", ())
        if performed_outside and aspect != "technology":
            raise fields.error("performed_outside", "only a technology rule can ask where a stage was done")
        return cls(
            **_common(fields),
            elements=fields.elements("elements", ("*",)),
            stages=fields.stages("stages", ("*",)),
            countries=fields.countries("countries", ()),
            aspect=aspect,
            performed_outside=performed_outside,
            basis=fields.choice("basis", ("mass", "value"), "mass"),
            of=fields.choice("of", ("elements", "item"), "elements"),
            threshold=threshold,
            trigger=fields.choice("trigger", ("at_or_above", "above"), cls.default_trigger),
            outcome=Outcome(fields.choice("outcome", OUTCOMES, "fail")),
        )

    def figure(self, subject: Subject, ctx: Context) -> ShareFigure:
        return share_at_stages(
            subject,
            elements=self.elements,
            stages=self.stages,
            countries=self.countries,
            aspect=self.aspect,
            basis=self.basis,
            of=self.of,
            prices=ctx.prices,
            performed_outside=self.performed_outside,
        )

    def _hit(self, share: float) -> bool:
        if self.trigger == "above":
            return share > self.threshold + EPSILON
        return share >= self.threshold - EPSILON

    def describe(self, figure: ShareFigure) -> str:
        what = "technology" if self.aspect == "technology" else "done"
        of = "the item's " + ("value" if self.basis == "value" else "mass")
        if self.of == "elements":
            of = f"the {'value' if self.basis == 'value' else 'mass'} of the elements checked"
        share = pct(figure.lower)
        if figure.upper - figure.lower > EPSILON:
            share = f"between {pct(figure.lower)} and {pct(figure.upper)}"
        if not self.countries:
            return f"{', '.join(self.elements)} make up {share} of {of}"
        stages = "any stage" if "*" in self.stages else "/".join(self.stages)
        if self.performed_outside:
            return (
                f"{share} of {of} went through {stages} outside {', '.join(self.performed_outside)} "
                f"with technology from {', '.join(self.countries)}"
            )
        return f"{share} of {of} had {stages} {what} in {', '.join(self.countries)}"

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        figure = self.figure(subject, ctx)
        relation = "at or above" if self.trigger == "at_or_above" else "above"
        figures: dict[str, object] = {**figure.figures(), "threshold": self.threshold, "basis": self.basis}
        text = self.describe(figure)
        if self._hit(figure.lower):
            limit = (
                "none is allowed" if self.threshold == 0 else f"{relation} the {pct(self.threshold)} limit"
            )
            return self.finding(self.outcome, f"{text}; {limit}", figures, figure.evidence)
        if not self._hit(figure.upper):
            limit = "none is allowed" if self.threshold == 0 else f"within the {pct(self.threshold)} limit"
            return self.finding(Outcome.PASS, f"{text}; {limit}", figures)
        gaps = "; ".join(dict.fromkeys(figure.gaps)) or "the stages' shares overlap in unknown ways"
        return self.finding(
            Outcome.INSUFFICIENT_DATA,
            f"{text}, so it may be {relation} the {pct(self.threshold)} limit: {gaps}",
            figures,
            figure.evidence,
        )


@dataclass(frozen=True)
class ExcludedCountries(ShareThreshold):
    default_threshold: ClassVar[float | None] = 0.0
    default_trigger: ClassVar[str] = "above"


@dataclass(frozen=True)
class TechnologyOrigin(ShareThreshold):
    default_threshold: ClassVar[float | None] = 0.0
    default_trigger: ClassVar[str] = "above"
    default_aspect: ClassVar[str] = "technology"


@dataclass(frozen=True)
class AllowedCountries(Rule):
    stages: tuple[str, ...] = ("*",)
    countries: tuple[str, ...] = ()
    elements: tuple[str, ...] = ("*",)
    outcome: Outcome = Outcome.FAIL
    unknown_outcome: Outcome = Outcome.FAIL

    @classmethod
    def read(cls, fields: RegimeFields) -> AllowedCountries:
        return cls(
            **_common(fields),
            stages=fields.stages("stages", ("*",)),
            countries=fields.countries("countries"),
            elements=fields.elements("elements", ("*",)),
            outcome=Outcome(fields.choice("outcome", OUTCOMES, "fail")),
            unknown_outcome=Outcome(fields.choice("unknown_outcome", OUTCOMES, "fail")),
        )

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        allowed = set(self.countries) | {NOT_PERFORMED}
        outside: list[Evidence] = []
        unknown: list[Evidence] = []
        stages = sorted(subject.stages()) if "*" in self.stages else self.stages
        for element in select_elements(subject, self.elements):
            origin = subject.origin.get(element)
            for stage in stages:
                for country, share in stage_shares(origin, stage).items():
                    if share <= 0 or country in allowed:
                        continue
                    item = Evidence(subject.lots, share, element, stage, country)
                    (unknown if country == UNKNOWN else outside).append(item)
        figures = {
            "largest_share_outside": max((e.share for e in outside), default=0.0),
            "largest_share_unknown": max((e.share for e in unknown), default=0.0),
        }
        if outside:
            worst = max(outside, key=lambda e: e.share)
            return self.finding(
                self.outcome,
                f"{pct(worst.share)} of {worst.element} had {worst.stage} in {worst.country}, "
                f"which is not an allowed country ({len(outside)} such shares in all)",
                figures,
                outside + unknown,
            )
        if unknown:
            worst = max(unknown, key=lambda e: e.share)
            return self.finding(
                self.unknown_outcome,
                f"{pct(worst.share)} of {worst.element} has untraced {worst.stage} history; "
                "every stage must be traced to an allowed country",
                figures,
                unknown,
            )
        return self.finding(
            Outcome.PASS, "every stage of every element was done in allowed countries", figures
        )


@dataclass(frozen=True)
class EndUse(Rule):
    end_uses: tuple[str, ...] = ()
    when: tuple[str, ...] = ("licence_required",)
    outcome: Outcome = Outcome.FAIL
    escalates: ClassVar[bool] = True

    @classmethod
    def read(cls, fields: RegimeFields) -> EndUse:
        when = fields.strings("when", ("licence_required",))
        bad = [w for w in when if w not in OUTCOMES]
        if bad:
            raise fields.error("when", f"{bad[0]!r} is not an outcome ({', '.join(OUTCOMES)})")
        return cls(
            **_common(fields),
            end_uses=fields.strings("end_uses"),
            when=when,
            outcome=Outcome(fields.choice("outcome", OUTCOMES, "fail")),
        )

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        triggers = [f for f in earlier if f.outcome.value in self.when]
        uses = ", ".join(self.end_uses)
        if not triggers:
            return self.finding(Outcome.NOT_APPLICABLE, "no other rule of this regime calls for a licence")
        if ctx.end_use is None:
            return self.finding(
                Outcome.NOT_APPLICABLE,
                f"no end use given; for {uses} end uses the licence would be refused (use --end-use)",
            )
        if ctx.end_use in self.end_uses:
            return self.finding(
                self.outcome,
                f"end use {ctx.end_use!r}: a licence would in principle be refused "
                f"(triggered by {', '.join(f.rule for f in triggers)})",
                {"end_use": ctx.end_use},
            )
        return self.finding(
            Outcome.PASS, f"end use {ctx.end_use!r} is not among {uses}", {"end_use": ctx.end_use}
        )


@dataclass(frozen=True)
class FingerprintRequired(Rule):
    forms: tuple[str, ...] = ("ore", "concentrate")
    outcome: Outcome = Outcome.FAIL
    missing_outcome: Outcome = Outcome.INSUFFICIENT_DATA

    @classmethod
    def read(cls, fields: RegimeFields) -> FingerprintRequired:
        return cls(
            **_common(fields),
            forms=fields.forms("forms", ("ore", "concentrate")),
            outcome=Outcome(fields.choice("outcome", OUTCOMES, "fail")),
            missing_outcome=Outcome(fields.choice("missing_outcome", OUTCOMES, "insufficient_data")),
        )

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        raw = [r for r in subject.raw_materials if r.form in self.forms]
        bad = [r for r in raw if r.fingerprint == "inconsistent"]
        open_ = [r for r in raw if r.fingerprint not in ("consistent", "inconsistent")]
        figures = {"raw_lots": len(raw), "inconsistent": len(bad), "without_verdict": len(open_)}
        if bad:
            return self.finding(
                self.outcome,
                f"the fingerprint of {', '.join(r.lot for r in bad)} contradicts its declared origin",
                figures,
                [Evidence((r.lot,), 1.0, note="fingerprint inconsistent") for r in bad],
            )
        if open_:
            return self.finding(
                self.missing_outcome,
                f"{len(open_)} of {len(raw)} upstream {'/'.join(self.forms)} lots have no fingerprint "
                f"verdict ({', '.join(sorted({r.fingerprint for r in open_}))})",
                figures,
                [Evidence((r.lot,), 1.0, note=r.fingerprint) for r in open_],
            )
        return self.finding(
            Outcome.PASS, f"all {len(raw)} upstream raw-material lots are consistent", figures
        )


@dataclass(frozen=True)
class PortfolioConcentration(Rule):
    elements: tuple[str, ...] = ("*",)
    stages: tuple[str, ...] = ("*",)
    max_share: float = 1.0
    exempt: tuple[str, ...] = ()
    per_element: bool = False
    portfolio: ClassVar[bool] = True

    @classmethod
    def read(cls, fields: RegimeFields) -> PortfolioConcentration:
        return cls(
            **_common(fields),
            elements=fields.elements("elements", ("*",)),
            stages=fields.stages("stages", ("*",)),
            max_share=fields.number("max_share"),
            exempt=fields.countries("exempt_countries", ()),
            per_element=fields.choice("group", ("pooled", "per_element"), "pooled") == "per_element",
        )

    def evaluate_portfolio(self, subjects: Sequence[Subject], ctx: Context) -> Finding:
        """The benchmark over ``subjects``; on a single lot it explains itself instead of judging:
        one lot is a portfolio of one, so any lot from one third country would 'fail' it."""
        judged = self._judge(subjects)
        lots = {lot for s in subjects for lot in s.lots}
        if len(lots) != 1 or judged.outcome is Outcome.NOT_APPLICABLE:
            return judged
        would = judged.explanation.removeprefix(f"{self.title}: ")
        return replace(
            judged,
            outcome=Outcome.NOT_APPLICABLE,
            explanation=f"{self.title}: a benchmark for a set of lots (such as a year's intake), not one "
            f"lot; check several lots together to judge it. This lot alone would be "
            f"{judged.outcome.value}: {would}",
        )

    def _judge(self, subjects: Sequence[Subject]) -> Finding:
        groups = self._groups(subjects)
        if not groups:
            return self.finding(Outcome.NOT_APPLICABLE, "the lots contain none of the elements checked")
        # 2. Per group and stage, mass-weighted share of each country; the largest third country decides.
        lots = tuple(lot for s in subjects for lot in s.lots)
        rows: list[dict[str, object]] = []
        over: list[Evidence] = []
        doubtful: list[Evidence] = []
        largest: Evidence | None = None
        for group, parts in sorted(groups.items()):
            for stage, acc in self._stage_shares(parts):
                third = {
                    c: v for c, v in acc.items() if c not in (UNKNOWN, NOT_PERFORMED) and c not in self.exempt
                }
                rows.extend(
                    {"group": group, "stage": stage, "country": c, "share": v} for c, v in third.items()
                )
                country, top = max(third.items(), key=lambda kv: kv[1], default=("", 0.0))
                unknown = acc.get(UNKNOWN, 0.0)
                if country and (largest is None or top > largest.share):
                    largest = Evidence(lots, top, group, stage, country)
                if top > self.max_share + EPSILON:
                    over.append(Evidence(lots, top, group, stage, country))
                elif top + unknown > self.max_share + EPSILON:
                    doubtful.append(Evidence(lots, unknown, group, stage, UNKNOWN, "history untraced"))
        return self._verdict(rows, largest, over, doubtful)

    def _groups(self, subjects: Sequence[Subject]) -> dict[str, list[tuple[Subject, str, float]]]:
        """1. Element mass by group (pooled: one strategic raw material; else each element alone)."""
        groups: dict[str, list[tuple[Subject, str, float]]] = {}
        for subject in subjects:
            for element in select_elements(subject, self.elements):
                key = element if self.per_element else "+".join(self.elements)
                groups.setdefault(key, []).append((subject, element, subject.element_kg[element]))
        return groups

    def _stage_shares(
        self, parts: list[tuple[Subject, str, float]]
    ) -> Iterator[tuple[str, dict[str, float]]]:
        """Each stage checked, with each country's share of the group's mass at that stage."""
        total = sum(kg for _, _, kg in parts)
        stages = {s for sub, e, _ in parts for s in sub.origin.get(e, {"location": {}})["location"]}
        for stage in sorted(stages) if "*" in self.stages else self.stages:
            acc: dict[str, float] = {}
            for sub, element, kg in parts:
                for country, share in stage_shares(sub.origin.get(element), stage).items():
                    acc[country] = acc.get(country, 0.0) + share * kg / total
            yield stage, acc

    def _verdict(
        self,
        rows: list[dict[str, object]],
        largest: Evidence | None,
        over: list[Evidence],
        doubtful: list[Evidence],
    ) -> Finding:
        """3. Above the benchmark fails; within it only with untraced history is insufficient data."""
        figures: dict[str, object] = {"max_share": self.max_share, "shares": rows}
        text = "no third country has a share"
        if largest is not None:
            figures["largest_third_country_share"] = largest.share
            text = (
                f"the largest single third-country share is {pct(largest.share)} "
                f"({largest.country}, {largest.stage} of {largest.element})"
            )
        if over:
            return self.finding(
                Outcome.FAIL, f"{text}, above the {pct(self.max_share)} benchmark", figures, over
            )
        if doubtful:
            return self.finding(
                Outcome.INSUFFICIENT_DATA,
                f"{text}; untraced history could take a country above {pct(self.max_share)}",
                figures,
                doubtful,
            )
        evidence = [largest] if largest else []
        return self.finding(
            Outcome.PASS, f"{text}, within the {pct(self.max_share)} benchmark", figures, evidence
        )


@dataclass(frozen=True)
class MadeIn(Rule):
    """The item itself was made in one of ``countries`` (where its producer is)."""

    countries: tuple[str, ...] = ()
    outcome: Outcome = Outcome.FAIL

    @classmethod
    def read(cls, fields: RegimeFields) -> MadeIn:
        return cls(
            **_common(fields),
            countries=fields.countries("countries"),
            outcome=Outcome(fields.choice("outcome", OUTCOMES, "fail")),
        )

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        where = ", ".join(sorted(subject.made_in)) or "an unknown country"
        hit = sorted(subject.made_in & set(self.countries))
        figures = {"made_in": sorted(subject.made_in)}
        if hit:
            return self.finding(
                self.outcome,
                f"made in {', '.join(hit)}, a listed country",
                figures,
                [Evidence(subject.lots, 1.0, None, None, c, "where the item was made") for c in hit],
            )
        if not subject.made_in:
            return self.finding(Outcome.INSUFFICIENT_DATA, "where the item was made is not recorded", figures)
        return self.finding(Outcome.PASS, f"made in {where}, not a listed country", figures)


@dataclass(frozen=True)
class StatutoryException(Rule):
    """When every condition given holds, the findings of ``lifts`` stop binding.

    Conditions: ``assertion`` (a fact the user asserts, recorded in the verdict), ``below_covered_share``
    (the finished magnets weigh less than this share of the item), ``recycled_in`` (every portion of
    every rare earth went through recycling, and then magnet making, in these countries).
    """

    lifts: tuple[str, ...] = ()
    assertion: str | None = None
    below_covered_share: float | None = None
    recycled_in: tuple[str, ...] = ()
    excepts: ClassVar[bool] = True

    @classmethod
    def read(cls, fields: RegimeFields) -> StatutoryException:
        assertion = fields.text("assertion", None)
        if assertion is not None and assertion not in ASSERTIONS:
            raise fields.error("assertion", f"must be one of {', '.join(ASSERTIONS)}")
        below = fields.raw("below_covered_share", None)
        if below is not None:
            below = fields.number("below_covered_share")
        rule = cls(
            **_common(fields),
            lifts=fields.strings("lifts"),
            assertion=assertion,
            below_covered_share=below,
            recycled_in=fields.countries("recycled_in", ()),
        )
        if rule.assertion is None and rule.below_covered_share is None and not rule.recycled_in:
            raise fields.error("lifts", "an exception needs at least one condition")
        return rule

    def evaluate(self, subject: Subject, ctx: Context, earlier: Sequence[Finding]) -> Finding:
        """PASS: the exception applies; NOT_APPLICABLE: it does not, with the condition that failed."""
        met: list[str] = []
        figures: dict[str, object] = {"lifts": list(self.lifts)}
        if self.assertion is not None:
            if self.assertion not in ctx.assertions:
                return self.finding(
                    Outcome.NOT_APPLICABLE, f"not asserted (--assert {self.assertion})", figures
                )
            met.append(f"asserted: {self.assertion}")
        if self.below_covered_share is not None:
            if subject.magnet_kg is None or not subject.mass_kg:
                return self.finding(
                    Outcome.NOT_APPLICABLE, "the weight of the magnets in the item is not known", figures
                )
            share = subject.magnet_kg / subject.mass_kg
            figures["covered_share_by_weight"] = share
            if share >= self.below_covered_share - EPSILON:
                return self.finding(
                    Outcome.NOT_APPLICABLE,
                    f"magnets are {pct(share)} of the item's weight, "
                    f"not below {pct(self.below_covered_share)}",
                    figures,
                )
            met.append(f"magnets are {pct(share)} of the item's weight")
        if self.recycled_in:
            why = _not_recycled(subject, set(self.recycled_in))
            if why:
                return self.finding(Outcome.NOT_APPLICABLE, why, figures)
            met.append(
                "made from recycled material, recycled and made into magnets in "
                + ", ".join(self.recycled_in)
            )
        return self.finding(Outcome.PASS, "applies (" + "; ".join(met) + ")", figures)


def _not_recycled(subject: Subject, places: set[str]) -> str | None:
    """Why the subject's rare earths are not all recycled, then made into magnets, in ``places``."""
    for element in select_elements(subject, ("*",)):
        origin = subject.origin.get(element)
        if origin is None or "paths" not in origin:
            return f"{element}'s joint history is not recorded, so recycled content cannot be shown"
        for key, share in origin["paths"].items():
            if share <= 0:
                continue
            steps = path_steps(key)
            recycled, magnet = step_at(steps, "recycling")[0], step_at(steps, "magnet")[0]
            if recycled not in places:
                return f"{pct(share)} of {element} was not recycled in {', '.join(sorted(places))}"
            if magnet not in places:
                return f"{pct(share)} of {element} was made into magnets outside {', '.join(sorted(places))}"
    return None


RULE_TYPES: dict[str, Callable[[RegimeFields], Rule]] = {
    "share_threshold": ShareThreshold.read,
    "excluded_countries": ExcludedCountries.read,
    "technology_origin": TechnologyOrigin.read,
    "allowed_countries": AllowedCountries.read,
    "end_use": EndUse.read,
    "fingerprint": FingerprintRequired.read,
    "portfolio_concentration": PortfolioConcentration.read,
    "made_in": MadeIn.read,
    "exception": StatutoryException.read,
}
