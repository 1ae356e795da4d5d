"""Compliance: regimes as data files, generic rule types, verdicts with evidence (DESIGN §1, part 3)."""

from raretrace.rules.loader import load_regimes, select
from raretrace.rules.regime import Regime
from raretrace.rules.subject import Context, RawMaterial, Subject
from raretrace.rules.verdict import Evidence, Finding, Outcome, Verdict

__all__ = [
    "Context",
    "Evidence",
    "Finding",
    "Outcome",
    "RawMaterial",
    "Regime",
    "Subject",
    "Verdict",
    "load_regimes",
    "select",
]
