"""Upcoming changes: how each verdict will change on the days the regimes' own files say their rules
change (a regime or rule coming into force or lapsing, a suspension starting or ending).

A verdict depends on the day only through those windows (rules/regime.py), so between two change days
every verdict stays as it is: judging on the day asked and on each later change day finds every change,
e.g. "passes US DFARS 252.225-7052 today; fails from 2027-01-01: ... separation done in CN".
The subjects are read from the registry once (``compliance.prepare``) and judged on each day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from raretrace.ledger.compliance import Judging, today
from raretrace.rules.verdict import GATE_LEVELS, Finding, Outcome, Verdict

#: Outcomes that bind someone to act (or to find out), as opposed to pass and not applicable.
BINDING = GATE_LEVELS

#: How an outcome reads in a sentence ("passes DFARS today").
PHRASES = {
    Outcome.PASS: "passes",
    Outcome.FAIL: "fails",
    Outcome.LICENCE_REQUIRED: "needs a licence under",
    Outcome.INSUFFICIENT_DATA: "cannot be decided (insufficient data) under",
    Outcome.NOT_APPLICABLE: "is not covered by",
}


@dataclass(frozen=True)
class Change:
    """From ``day`` on, the verdict becomes ``outcome``, decided by ``decided_by`` for ``because``.
    (The fields are in the order of the JSON the interfaces make of it, ``render.jsonable``.)"""

    day: date = field(metadata={"json": "from"})
    outcome: Outcome
    decided_by: tuple[str, ...]
    because: str


@dataclass(frozen=True)
class Outlook:
    """One verdict on the day asked and every later change of its outcome, in date order.

    The fields are the JSON the interfaces make of it (``render.jsonable``, the API's ``OutlookOut``):
    the verdict's subject and outcome, the changes, and the sentence that says them all. The verdict
    itself is kept for the readers in Python (the desk's page shows its findings, ``check --upcoming``
    prints it) and left out of the JSON, which carries the parts above. Made by ``Outlook.of``."""

    regime: str
    subject: tuple[str, ...]
    as_of: str
    outcome: Outcome
    decided_by: tuple[str, ...]
    changes: tuple[Change, ...]
    #: e.g. "passes US DFARS 252.225-7052 today; fails from 2027-01-01: <the clause's finding>"
    summary: str
    verdict: Verdict = field(metadata={"omit": True})

    @classmethod
    def of(cls, verdict: Verdict, changes: tuple[Change, ...], today: bool) -> Outlook:
        """``verdict`` and its later ``changes``; ``today``: judged as of today (UTC), so the sentence
        says "today" rather than the day."""
        name = regime_name(verdict)
        when = "today" if today else f"on {verdict.as_of}"
        parts = [f"{_phrase(verdict.outcome, name)} {when}"]
        parts += [f"{_phrase(c.outcome, name, again=True)} from {c.day}: {c.because}" for c in changes]
        return cls(
            verdict.regime,
            verdict.subject,
            verdict.as_of,
            verdict.outcome,
            verdict.decided_by,
            changes,
            "; ".join(parts),
            verdict,
        )

    @property
    def name(self) -> str:
        """The regime's name as a sentence uses it (``regime_name``)."""
        return regime_name(self.verdict)


def regime_name(verdict: Verdict) -> str:
    """The regime's name as a sentence uses it: its title up to the colon ("US DFARS 252.225-7052")."""
    return verdict.title.split(":", 1)[0].strip()


def _phrase(outcome: Outcome, name: str, *, again: bool = False) -> str:
    words = PHRASES[outcome]
    if again:  # the regime is named once, in the first part
        return words.removesuffix(" under").removesuffix(" by")
    return f"{words} {name}"


def _because(verdict: Verdict) -> str:
    """The findings that decide the verdict, then the other binding ones (an end-use rule decides by
    escalating another rule's licence requirement: both are the reason); the verdict's own reason when
    no rule decided it."""
    deciding = [f for f in verdict.findings if f.rule in verdict.decided_by]
    if verdict.outcome in (Outcome.PASS, Outcome.NOT_APPLICABLE) or not deciding:
        return verdict.explanation
    binding = [f for f in verdict.findings if f not in deciding and f.outcome in BINDING]
    return " ".join(_sentence(f) for f in (*deciding, *binding))


def _sentence(finding: Finding) -> str:
    return finding.explanation if finding.explanation.endswith(".") else f"{finding.explanation}."


def upcoming(judging: Judging, as_of: date | None = None, until: date | None = None) -> list[Outlook]:
    """Each verdict of ``judging`` on ``as_of`` (default today, UTC) with the changes of its outcome
    on its regime's change days after it (up to ``until`` inclusive, if given), in verdict order."""
    day = as_of or today()
    out: list[Outlook] = []
    for regime in judging.regimes:
        first = judging.under(regime, day)
        changes: list[list[Change]] = [[] for _ in first]
        current = [v.outcome for v in first]
        for later in regime.change_days(day):
            if until is not None and later > until:
                break
            for i, verdict in enumerate(judging.under(regime, later)):
                if verdict.outcome != current[i]:
                    changes[i].append(Change(later, verdict.outcome, verdict.decided_by, _because(verdict)))
                    current[i] = verdict.outcome
        now = day == today()
        out.extend(Outlook.of(v, tuple(found), now) for v, found in zip(first, changes, strict=True))
    return out
