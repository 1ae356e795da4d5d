"""Verdicts for people: a compact table (lot x regime) and the findings behind each cell.

Shared by ``raretrace check`` and the demo so both say the same thing the same way.
"""

from __future__ import annotations

from collections.abc import Sequence

from raretrace.rules.verdict import Outcome, Verdict

STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "red",
    Outcome.LICENCE_REQUIRED: "yellow",
    Outcome.INSUFFICIENT_DATA: "magenta",
    Outcome.NOT_APPLICABLE: "dim",
}


def subject_label(verdict: Verdict) -> str:
    if len(verdict.subject) == 1:
        return verdict.subject[0]
    return f"{len(verdict.subject)} lots together"


def grid(verdicts: Sequence[Verdict]) -> tuple[list[str], list[str], dict[tuple[str, str], Verdict]]:
    """Rows (subjects), columns (regimes) and the verdict in each cell, in first-seen order."""
    rows: dict[str, None] = {}
    cols: dict[str, None] = {}
    cells: dict[tuple[str, str], Verdict] = {}
    for verdict in verdicts:
        row = subject_label(verdict)
        rows[row] = None
        cols[verdict.regime] = None
        cells[(row, verdict.regime)] = verdict
    return list(rows), list(cols), cells


def summary(verdicts: Sequence[Verdict]) -> dict[str, int]:
    counts = {o.value: 0 for o in Outcome}
    for verdict in verdicts:
        counts[verdict.outcome.value] += 1
    return counts
