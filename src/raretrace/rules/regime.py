"""A regime: one body of rules (a law, a contract clause, a consortium's charter) read from a data file.

Evaluation, numbered as a compliance officer would reason:
1. Is the regime in force on the date, and not suspended as a whole? Otherwise not applicable.
2. Does it cover this item (form, where made or held, content)? Otherwise not applicable.
3. Each rule in force and not suspended on the date, covering the item, gives a finding; rules that
   read other findings (end use) run after them.
4. Statutory exceptions run last: one whose conditions hold lifts the findings of the rules it names
   (they stay in the verdict, marked as lifted, so the reader sees what the exception saved).
5. The verdict is the most restrictive finding; its explanation quotes the findings that decided it,
   and it records the end use, the asserted facts and any suspension that has just ended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from raretrace.errors import ValidationError
from raretrace.rules.fields import RegimeFields
from raretrace.rules.scope import DateWindow, Scope, Suspension
from raretrace.rules.subject import Context, Subject
from raretrace.rules.types import RULE_TYPES, Rule
from raretrace.rules.verdict import Finding, Outcome, Verdict, most_severe

#: How long after a suspension ends verdicts and listings keep saying so.
RECENTLY_ENDED_DAYS = 90


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None = None
    date: str | None = None

    def cite(self) -> str:
        return " — ".join(p for p in (self.title, self.date, self.url) if p)


@dataclass(frozen=True)
class Regime:
    id: str
    title: str
    version: str
    authority: str
    sources: tuple[Source, ...]
    window: DateWindow
    rules: tuple[Rule, ...]
    applies_to: Scope = field(default_factory=Scope)
    suspensions: tuple[Suspension, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    origin: str = ""  # the file(s) it was read from

    @property
    def portfolio(self) -> bool:
        return any(r.portfolio for r in self.rules)

    def _verdict(
        self,
        subjects: Sequence[Subject],
        ctx: Context,
        outcome: Outcome,
        why: str,
        findings: Sequence[Finding] = (),
    ) -> Verdict:
        return Verdict(
            regime=self.id,
            version=self.version,
            title=self.title,
            subject=tuple(lot for s in subjects for lot in s.lots),
            as_of=ctx.as_of.isoformat(),
            outcome=outcome,
            explanation=why,
            findings=tuple(findings),
            sources=tuple(s.cite() for s in self.sources),
            end_use=ctx.end_use,
            assertions=tuple(sorted(ctx.assertions)),
            decided_by=tuple(f.rule for f in findings if f.outcome == outcome),
            notices=self.lapsed_suspensions(ctx.as_of),
        )

    def lapsed_suspensions(self, day: date, within_days: int = RECENTLY_ENDED_DAYS) -> tuple[str, ...]:
        """Plain notices for suspensions that ended in the ``within_days`` before ``day`` with no later
        one covering it: the rule binds again, and a reader must know an extension may be missing."""
        notices = []
        for suspension in self.suspensions:
            end = suspension.window.end
            if end is None or not end < day <= end + timedelta(days=within_days):
                continue
            still = any(
                other.window.contains(day) and set(other.rules or ()) >= set(suspension.rules or ())
                for other in self.suspensions
            )
            if still:
                continue
            what = f"rules {', '.join(suspension.rules)}" if suspension.rules else "this regime"
            notices.append(
                f"suspension of {what} ended {end} ({suspension.source}); no extension recorded — "
                f"add an amendment file if one was published"
            )
        return tuple(notices)

    def change_days(self, after: date) -> tuple[date, ...]:
        """The days after ``after`` on which what this regime binds may change: the first day of each
        window (the regime's, each rule's, each suspension's) and the day after each one ends.
        Between two such days every verdict of the regime is the same, so judging on these days
        alone finds every upcoming change."""
        windows = [self.window, *(r.window for r in self.rules), *(s.window for s in self.suspensions)]
        days = {w.start for w in windows if w.start is not None}
        days |= {w.end + timedelta(days=1) for w in windows if w.end is not None}
        return tuple(sorted(d for d in days if d > after))

    def _not_in_force(self, rule: str | None, ctx: Context) -> str | None:
        """Why the regime (rule None) or one rule does not bind on the date, or None if it does."""
        day = ctx.as_of
        if rule is None and not self.window.contains(day):
            return f"not in force on {day} (in force {self.window.describe()})"
        for suspension in self.suspensions:
            whole = rule is None and not suspension.rules
            if (whole or (rule is not None and suspension.covers(rule, day))) and suspension.window.contains(
                day
            ):
                return f"suspended on {day} ({suspension.window.describe()}, {suspension.source})"
        return None

    def evaluate(self, subjects: Sequence[Subject], ctx: Context) -> Verdict:
        """One verdict: for a lot regime, ``subjects`` is one item; for a portfolio regime, the portfolio."""
        if not subjects:
            raise ValidationError("nothing to check: give at least one lot", field="lots")
        # 1. In force, not suspended as a whole.
        why = self._not_in_force(None, ctx)
        if why:
            return self._verdict(subjects, ctx, Outcome.NOT_APPLICABLE, f"{self.title} is {why}.")
        if not self.portfolio and len(subjects) != 1:
            raise ValidationError(f"{self.id} judges one item at a time", field="lots")
        # 2. Coverage.
        if not self.portfolio:
            why = self.applies_to.mismatch(subjects[0])
            if why:
                return self._verdict(subjects, ctx, Outcome.NOT_APPLICABLE, f"{self.title} {why}.")
        # 3. Findings, escalating rules after them.
        findings: list[Finding] = []
        for rule in sorted(self.rules, key=lambda r: (r.excepts, r.escalates)):
            if not rule.excepts:
                findings.append(self._finding(rule, subjects, ctx, findings))
        # 4. Exceptions lift the findings of the rules they name.
        for rule in self.rules:
            if rule.excepts:
                exception = self._finding(rule, subjects, ctx, findings)
                findings = _lifted(findings, rule, exception)
                findings.append(exception)
        # 5. The most restrictive finding decides.
        outcome = most_severe(f.outcome for f in findings)
        deciding = [f.explanation.rstrip(".") for f in findings if f.outcome == outcome]
        return self._verdict(subjects, ctx, outcome, " ".join(f"{e}." for e in deciding), findings)

    def _finding(
        self, rule: Rule, subjects: Sequence[Subject], ctx: Context, earlier: list[Finding]
    ) -> Finding:
        if not rule.enabled:
            return rule.finding(Outcome.NOT_APPLICABLE, "not enabled in this regime's parameters")
        if not rule.window.contains(ctx.as_of):
            return rule.finding(
                Outcome.NOT_APPLICABLE, f"not in force on {ctx.as_of} ({rule.window.describe()})"
            )
        why = self._not_in_force(rule.id, ctx)
        if why:
            return rule.finding(Outcome.NOT_APPLICABLE, why)
        if rule.portfolio:
            return rule.evaluate_portfolio(subjects, ctx)
        mismatch = rule.applies_to.mismatch(subjects[0])
        if mismatch:
            return rule.finding(Outcome.NOT_APPLICABLE, mismatch)
        return rule.evaluate(subjects[0], ctx, earlier)

    def amended(self, amendment: RegimeFields) -> Regime:
        """This regime with an amendment file applied: new version, more sources and suspensions,
        changed parameters (e.g. an authority extending a suspension, the secretariat adding a member).

        The amendment is checked on its own first, so errors name the amendment's file and field; then
        it is merged into the regime's file content and the whole is read again.
        """
        version = str(amendment.raw("version"))
        sources = amendment.items("sources")
        for f in amendment.tables("sources", required=True):
            read_source(f)
        suspensions = amendment.items("suspensions")
        for f in amendment.tables("suspensions"):
            Suspension.read(f)
        params = amendment.raw("parameters", {})
        if not isinstance(params, dict):
            raise amendment.error("parameters", "must be a table")
        unknown = sorted(set(params) - set(self.parameters))
        if unknown:
            raise amendment.error(f"parameters.{unknown[0]}", f"{self.id} has no such parameter")
        amendment.text("amends")
        amendment.done()
        raw = dict(self.raw)
        raw["version"] = version
        raw["sources"] = [*_listed(raw.get("sources")), *sources]
        raw["suspensions"] = [*_listed(raw.get("suspensions")), *suspensions]
        before = raw.get("parameters")
        raw["parameters"] = {**(before if isinstance(before, dict) else {}), **params}
        return read_regime(raw, f"{self.origin} + {amendment.where}")

    # The file content a regime was read from, so an amendment can merge into it.
    raw: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    def describe(self, day: date) -> dict[str, Any]:
        """The regime as listings show it, with the notices that hold on ``day`` (the caller's clock)."""
        return {
            "id": self.id,
            "title": self.title,
            "version": self.version,
            "authority": self.authority,
            "in_force": self.window.describe(),
            "suspensions": [
                {"window": s.window.describe(), "source": s.source, "rules": list(s.rules)}
                for s in self.suspensions
            ],
            "rules": [{"id": r.id, "title": r.title, "in_force": r.window.describe()} for r in self.rules],
            "notices": list(self.lapsed_suspensions(day)),
            "sources": [s.cite() for s in self.sources],
            "parameters": self.parameters,
            "file": self.origin,
        }


_BINDING = (Outcome.FAIL, Outcome.LICENCE_REQUIRED, Outcome.INSUFFICIENT_DATA)


def _lifted(findings: list[Finding], rule: Rule, exception: Finding) -> list[Finding]:
    """The findings with those the exception lifts turned into passes that say why."""
    lifts = set(getattr(rule, "lifts", ()))
    if exception.outcome != Outcome.PASS or not lifts:
        return findings
    out = []
    for f in findings:
        lifted = f
        if f.rule in lifts and f.outcome in _BINDING:
            lifted = replace(
                f,
                outcome=Outcome.PASS,
                explanation=f"{f.explanation} — lifted by {rule.id}",
                figures={**f.figures, "lifted_by": rule.id, "outcome_without_exception": f.outcome.value},
            )
        out.append(lifted)
    return out


def read_source(fields: RegimeFields) -> Source:
    source = Source(fields.text("title"), fields.text("url", None), _date_text(fields))
    fields.done()
    return source


def _date_text(fields: RegimeFields) -> str | None:
    value = fields.raw("date", None)
    return None if value is None else str(value)


def _listed(value: object) -> list[object]:
    """A list member of a regime file (read and checked already, by ``read_regime``), or none."""
    return value if isinstance(value, list) else []


def read_regime(data: Mapping[str, object], where: str) -> Regime:
    """A regime from the parsed content of its file; errors name ``where`` and the field."""
    top = RegimeFields(data, f"{where}:")  # errors read "<file>: rules[2].threshold"
    params = top.raw("parameters", {})
    if not isinstance(params, dict):
        raise top.error("parameters", "must be a table")
    top.parameters = params
    rules: list[Rule] = []
    seen: set[str] = set()
    for rule_fields in top.tables("rules", required=True):
        kind = rule_fields.choice("type", tuple(RULE_TYPES))
        rule = RULE_TYPES[kind](rule_fields)
        rule_fields.done()
        if rule.id in seen:
            raise rule_fields.error("id", f"rule {rule.id!r} is defined twice")
        seen.add(rule.id)
        rules.append(rule)
    kinds = {r.portfolio for r in rules}
    if len(kinds) > 1:
        raise top.error("rules", "a regime is either about single items or about a portfolio, not both")
    suspensions = tuple(Suspension.read(f) for f in top.tables("suspensions"))
    for i, suspension in enumerate(suspensions):
        missing = sorted(set(suspension.rules) - seen)
        if missing:
            raise top.error(f"suspensions[{i}].rules", f"names no rule of this regime: {missing[0]!r}")
    regime = Regime(
        id=top.text("id"),
        title=top.text("title"),
        version=str(top.raw("version")),
        authority=top.text("authority"),
        sources=tuple(read_source(f) for f in top.tables("sources", required=True)),
        window=DateWindow.read(top),
        rules=tuple(rules),
        applies_to=Scope.read(top.table("applies_to")),
        suspensions=suspensions,
        parameters=params,
        notes=top.text("notes", ""),
        origin=where,
        raw=data,
    )
    top.done()
    return regime
