"""Tables for people, that never cut a value short.

A table that fits the console is printed as a table, its cells wrapped at word boundaries if need be.
One that cannot fit even then — a column whose longest word is wider than its share of a narrow
terminal, where rich would print ``licence_…`` — is printed vertically instead: one ``column: value``
line per cell, a blank line between rows. On a pipe or a file the console is unbounded (see
``cli_common.OutConsole``), so the table is always whole.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.table import Table

UNBOUNDED = 100_000


def print_table(
    console: Console,
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
) -> None:
    """``rows`` of rich markup under plain ``headers``; a table if it fits, else one block per row."""
    table = Table(title=title, title_justify="left")
    for header in headers:
        table.add_column(escape(header), overflow="fold")
    for row in rows:
        table.add_row(*row)
    # measured unbounded: rich clamps a measurement to the width it is given
    if console.measure(table, options=console.options.update_width(UNBOUNDED)).minimum <= console.width:
        console.print(table)
        return
    if title:
        console.print(f"[bold]{title}[/bold]", soft_wrap=True, highlight=False)
    for row in rows:
        for header, cell in zip(headers, row, strict=True):
            console.print(f"{escape(header)}: {cell}", soft_wrap=True, highlight=False)
        console.print()
