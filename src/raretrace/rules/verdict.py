"""Verdicts: what a regime says of a lot, why, and on what evidence.

Checks return result objects that list everything they found (DESIGN §7): a verdict keeps every rule's
finding, not only the one that decided it, so a compliance officer can see the whole picture and an
auditor can recompute each figure from the evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from raretrace.errors import ValidationError


class Outcome(StrEnum):
    PASS = "pass"  # noqa: S105 (an outcome, not a password)
    FAIL = "fail"
    LICENCE_REQUIRED = "licence_required"
    INSUFFICIENT_DATA = "insufficient_data"
    NOT_APPLICABLE = "not_applicable"


#: Which finding decides a verdict: the most restrictive one that applies. A certain licence
#: requirement outranks "cannot tell" from another rule; "cannot tell" outranks a pass.
_SEVERITY = {
    Outcome.NOT_APPLICABLE: 0,
    Outcome.PASS: 1,
    Outcome.INSUFFICIENT_DATA: 2,
    Outcome.LICENCE_REQUIRED: 3,
    Outcome.FAIL: 4,
}


def most_severe(outcomes: Iterable[Outcome]) -> Outcome:
    return max(outcomes, key=_SEVERITY.__getitem__, default=Outcome.NOT_APPLICABLE)


#: Levels a pipeline can gate on (``check --fail-on``): the outcomes that need someone to act.
GATE_LEVELS = (Outcome.INSUFFICIENT_DATA, Outcome.LICENCE_REQUIRED, Outcome.FAIL)


def gate_level(value: str, field: str = "fail_on") -> Outcome:
    """The outcome named by ``value``, if a pipeline may gate on it."""
    for level in GATE_LEVELS:
        if value.strip().lower() == level.value:
            return level
    raise ValidationError(
        f"{value!r} is not a level to fail on: use one of {', '.join(v.value for v in GATE_LEVELS)}",
        field=field,
    )


def breaches(verdicts: Iterable[Verdict], level: Outcome) -> bool:
    """Some verdict is at ``level`` or more restrictive."""
    return any(_SEVERITY[v.outcome] >= _SEVERITY[level] for v in verdicts)


@dataclass(frozen=True)
class Evidence:
    """One figure that decided a finding: whose share of what, where, at which stage."""

    lots: tuple[str, ...]
    share: float
    element: str | None = None
    stage: str | None = None
    country: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"lots": list(self.lots), "share": self.share}
        for name in ("element", "stage", "country", "note"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(frozen=True)
class Finding:
    """One rule's outcome with its explanation, computed figures and evidence."""

    rule: str
    outcome: Outcome
    explanation: str
    figures: dict[str, Any] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "outcome": self.outcome.value,
            "explanation": self.explanation,
            "figures": self.figures,
            "evidence": [e.to_dict() for e in self.evidence],
        }


@dataclass(frozen=True)
class Verdict:
    """A regime's answer for one subject (a lot, several lots, or an importer's portfolio)."""

    regime: str
    version: str
    title: str
    subject: tuple[str, ...]
    as_of: str
    outcome: Outcome
    explanation: str
    findings: tuple[Finding, ...] = ()
    sources: tuple[str, ...] = ()
    #: What the subject was judged for: the end use (None: not given) and the facts the user asserted
    #: that the records cannot show (a waiver, a COTS item), so a verdict is never read out of context.
    end_use: str | None = None
    assertions: tuple[str, ...] = ()
    #: The rules that decided the outcome (their ids; each finding names its clause in its title).
    decided_by: tuple[str, ...] = ()
    #: Plain warnings a reader must see beside the outcome (a suspension that just ended).
    notices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "regime": self.regime,
            "version": self.version,
            "title": self.title,
            "subject": list(self.subject),
            "as_of": self.as_of,
            "end_use": self.end_use,
            "assertions": list(self.assertions),
            "outcome": self.outcome.value,
            "decided_by": list(self.decided_by),
            "explanation": self.explanation,
            "notices": list(self.notices),
            "findings": [f.to_dict() for f in self.findings],
            "sources": list(self.sources),
        }
