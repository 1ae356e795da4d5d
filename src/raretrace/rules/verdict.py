"""Verdicts: what a regime says of a lot, why, and on what evidence.

Checks return result objects that list everything they found (DESIGN §7): a verdict keeps every rule's
finding, not only the one that decided it, so a compliance officer can see the whole picture and an
auditor can recompute each figure from the evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

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


#: a member of the JSON a verdict is written as (``render.jsonable``) only when it is not None
OPTIONAL = {"omit_if_none": True}


@dataclass(frozen=True)
class Evidence:
    """One figure that decided a finding: whose share of what, where, at which stage."""

    lots: tuple[str, ...]
    share: float
    element: str | None = field(default=None, metadata=OPTIONAL)
    stage: str | None = field(default=None, metadata=OPTIONAL)
    country: str | None = field(default=None, metadata=OPTIONAL)
    note: str | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True)
class Finding:
    """One rule's outcome with its explanation, computed figures and evidence."""

    rule: str
    outcome: Outcome
    explanation: str
    figures: dict[str, object] = field(default_factory=dict)
    evidence: tuple[Evidence, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """A regime's answer for one subject (a lot, several lots, or an importer's portfolio).

    The fields are in the order of the JSON the interfaces make of it (``render.jsonable``): what was
    judged and for what, then the outcome and why, then every finding and the sources."""

    regime: str
    version: str
    title: str
    subject: tuple[str, ...]
    as_of: str
    #: What the subject was judged for: the end use (None: not given) and the facts the user asserted
    #: that the records cannot show (a waiver, a COTS item), so a verdict is never read out of context.
    end_use: str | None = None
    assertions: tuple[str, ...] = ()
    outcome: Outcome
    #: The rules that decided the outcome (their ids; each finding names its clause in its title).
    decided_by: tuple[str, ...] = ()
    explanation: str
    #: Plain warnings a reader must see beside the outcome (a suspension that just ended).
    notices: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = ()
    sources: tuple[str, ...] = ()
