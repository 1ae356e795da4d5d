"""Rich renderings shared by the CLI and the demo, so both say the same thing the same way.

Verdicts: a compact table (regime x lot), then the explanation behind each cell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape

from raretrace.render.jsonable import jsonable
from raretrace.rules.verdict import Outcome, Verdict

if TYPE_CHECKING:
    from raretrace.ledger.search import SearchResult
    from raretrace.ledger.upcoming import Outlook

STYLE = {
    Outcome.PASS: "green",
    Outcome.FAIL: "red",
    Outcome.LICENCE_REQUIRED: "yellow",
    Outcome.INSUFFICIENT_DATA: "magenta",
    Outcome.NOT_APPLICABLE: "dim",
}


def subject_label(verdict: Verdict) -> str:
    return subject_text(verdict.subject)


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


def print_verdicts(
    console: Console,
    verdicts: Sequence[Verdict],
    *,
    details: bool = False,
    explain: bool = True,
    title: str | None = None,
) -> None:
    """The regime x lot table, then why each cell says what it says."""
    from raretrace.render.tables import print_table

    subjects, regimes, cells = grid(verdicts)
    names = {s: f"lot {i}" if " lots together" not in s else "all lots" for i, s in enumerate(subjects, 1)}
    if title is None and verdicts:
        end_use = verdicts[0].end_use or "not given"
        title = f"compliance on {verdicts[0].as_of}, end use {end_use}"
        if verdicts[0].assertions:
            title += f", asserted: {', '.join(verdicts[0].assertions)}"
    rows = [
        [
            escape(regime),
            *(
                f"[{STYLE[cells[(s, regime)].outcome]}]{cells[(s, regime)].outcome.value}[/]"
                if (s, regime) in cells
                else ""
                for s in subjects
            ),
        ]
        for regime in regimes
    ]
    print_table(console, ["regime", *(names[s] for s in subjects)], rows, title=title)
    for subject in subjects:
        console.print(f"  {names[subject]}: {escape(subject)}", soft_wrap=True, highlight=False)
    for verdict in verdicts if explain else ():
        console.print(
            f"[bold]{verdict.regime}[/bold] {escape(verdict.version)} · {names[subject_label(verdict)]}: "
            f"[{STYLE[verdict.outcome]}]{verdict.outcome.value}[/] — {escape(verdict.explanation)}",
            soft_wrap=True,
            highlight=False,
        )
        if verdict.decided_by and verdict.outcome.value not in ("pass", "not_applicable"):
            console.print(f"    decided by: {', '.join(verdict.decided_by)}", highlight=False)
        for notice in verdict.notices:
            console.print(f"    [yellow]notice:[/] {escape(notice)}", soft_wrap=True, highlight=False)
        if not details:
            continue
        for finding in verdict.findings:
            console.print(
                f"    {finding.rule}: {finding.outcome.value} — {escape(finding.explanation)}",
                soft_wrap=True,
                highlight=False,
            )
            for item in finding.evidence[:12]:
                console.print(
                    f"      evidence {escape(json.dumps(jsonable(item)))}", soft_wrap=True, highlight=False
                )
            if len(finding.evidence) > 12:
                console.print(f"      … {len(finding.evidence) - 12} more (see --json)", highlight=False)


def print_outlooks(console: Console, outlooks: Sequence[Outlook]) -> None:
    """``check --upcoming``: each verdict that will change, as one sentence, or that none will."""
    changing = [o for o in outlooks if o.changes]
    if not changing:
        console.print("upcoming changes: none in the regimes' files", highlight=False)
        return
    console.print("[bold]upcoming changes[/bold]", highlight=False)
    for item in changing:
        console.print(
            f"  {escape(subject_text(item.subject))}: {escape(item.summary)}"
            f" (decided by {', '.join(item.changes[-1].decided_by) or 'no rule'})",
            soft_wrap=True,
            highlight=False,
        )


def subject_text(lots: Sequence[str]) -> str:
    return lots[0] if len(lots) == 1 else f"{len(lots)} lots together"


def search_csv(result: SearchResult) -> str:
    """A lot search's matches as CSV (one row per lot, the API's field names as the header)."""
    import csv
    import io

    from raretrace.ledger.search import HIT_FIELDS

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HIT_FIELDS)
    for hit in result.lots:
        writer.writerow(["" if getattr(hit, f) is None else getattr(hit, f) for f in HIT_FIELDS])
    return buffer.getvalue()
