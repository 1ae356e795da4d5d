"""``raretrace log publish``: the log as static C2SP tlog-tiles files (parse and render only)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import JsonFlag, _ctx, emit_json, out_console


def log_publish(
    ctx: typer.Context,
    to: Annotated[
        Path, typer.Option("--to", help="Directory to write (created if missing)", file_okay=False)
    ],
    entries: Annotated[
        bool,
        typer.Option(
            "--entries/--no-entries",
            help="Entry bundles carry every signed event: leave them out for a public mirror",
        ),
    ] = True,
    every: Annotated[
        float | None,
        typer.Option(min=0.1, help="Keep publishing every SECONDS (served mode) instead of once"),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the log as C2SP tlog-tiles static files: checkpoint, tile/<L>/<N>[.p/<W>] and
    tile/entries/<N>[.p/<W>], for any web server, object store or CDN to serve.

    Files never change once written; `checkpoint` is replaced last, atomically. Publishing again writes
    only what the tree added, after checking the directory holds this log and the new tree extends it
    (a rollback or another log is refused, exit 6, nothing written).

    Example: raretrace --db registry.db log publish --to public/log --no-entries
    """
    from raretrace.ledger.publish import publish

    registry = _ctx(ctx).registry()
    while True:
        result = publish(registry, to, entries=entries)
        if as_json:
            emit_json(
                {
                    "directory": result.directory,
                    "origin": result.origin,
                    "tree_size": result.tree_size,
                    "previous_size": result.previous_size,
                    "files_written": result.files_written,
                    "bytes_written": result.bytes_written,
                }
            )
        else:
            since = "" if result.previous_size is None else f" (was {result.previous_size})"
            out_console.print(
                f"published {escape(result.origin)} at size {result.tree_size}{since} to "
                f"{escape(result.directory)}: {result.files_written} files, {result.bytes_written:,} bytes",
                highlight=False,
                soft_wrap=True,
            )
        if every is None:
            return
        time.sleep(every)


def register(log_app: typer.Typer) -> None:
    log_app.command("publish")(log_publish)
