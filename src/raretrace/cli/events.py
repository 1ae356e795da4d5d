"""Signed events: sign, countersign and record DSSE envelopes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from raretrace.cli.common import (
    JsonFlag,
    _ctx,
    emit_json,
    err_console,
    out_console,
)
from raretrace.errors import RaretraceError


def _write_envelopes(lines: list[bytes], out: Path | None) -> None:
    """Envelopes as JSON Lines, to ``out`` or standard output."""
    data = b"".join(line + b"\n" for line in lines)
    if out is None:
        sys.stdout.buffer.write(data)
    else:
        out.write_bytes(data)
        err_console.print(f"wrote {len(lines)} envelope(s) to {out}")


def sign(
    event_file: Annotated[
        Path,
        typer.Argument(
            metavar="EVENT.json", help="An event object, a JSON list of them, or JSON Lines; '-' reads stdin"
        ),
    ],
    key: Annotated[list[Path], typer.Option(help="Private key file (repeat to co-sign)")],
    out: Annotated[
        Path | None, typer.Option(help="Write envelopes here (JSON Lines) instead of stdout")
    ] = None,
) -> None:
    """Wrap events in DSSE envelopes over in-toto Statements, signed with KEY.

    Example: raretrace sign extract.json --key mountain-pass.key > extract.dsse.jsonl
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.custody.events import sign_event
    from raretrace.io import read_json_items

    signers = [load_signer(k) for k in key]
    lines = []
    for where, item in read_json_items(event_file):
        try:
            lines.append(sign_event(item, signers))
        except RaretraceError as e:
            raise e.within(where) from e
    _write_envelopes(lines, out)


def countersign(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            metavar="ENVELOPES", help="DSSE envelopes (JSON, list or JSON Lines); '-' reads stdin"
        ),
    ],
    key: Annotated[
        list[Path] | None, typer.Option(help="Private key file to add a signature with (repeatable)")
    ] = None,
    registry_key: Annotated[
        bool,
        typer.Option(
            "--registry",
            help="Add the registry's (the secretariat's) signature: from the database or --registry-key",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option(help="Write envelopes here (JSON Lines) instead of stdout")
    ] = None,
) -> None:
    """Add signatures to envelopes already signed, payload unchanged: a receiver's co-signature, or the
    secretariat's countersignature that an event signed by a since-revoked key needs.

    Example: raretrace --db registry.db --registry-key registry.key countersign late.dsse.jsonl --registry
    """
    from raretrace.crypto.dsse import add_signature
    from raretrace.crypto.keys import Ed25519Signer, load_signer
    from raretrace.io import read_envelopes

    signers: list[Ed25519Signer] = [load_signer(k) for k in key or []]
    if registry_key:
        signers.append(_ctx(ctx).registry().signer)
    if not signers:
        raise RaretraceError("give --key FILE or --registry", field="key")
    lines = []
    for i, raw in enumerate(read_envelopes(file)):
        signed = raw
        try:
            for signer in signers:
                signed = add_signature(signed, signer)
        except RaretraceError as e:
            raise e.within(f"envelope {i}") from e
        lines.append(signed)
    _write_envelopes(lines, out)


def record(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="DSSE envelopes: one JSON envelope, a JSON list, or JSON Lines; '-' reads stdin"),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Append signed events to the registry, all or nothing.

    Example: raretrace --db registry.db record events.dsse.jsonl
    """
    from raretrace.io import read_envelopes

    registry = _ctx(ctx).registry()
    envelopes = read_envelopes(file)
    from rich.progress import Progress

    with Progress(console=err_console, transient=True, disable=len(envelopes) < 1000 or as_json) as bar:
        task = bar.add_task("validating", total=len(envelopes))
        result = registry.append(envelopes, progress=lambda n: bar.advance(task, n))
    if as_json:
        emit_json(
            {
                "recorded": result.count,
                "first_index": result.first_index,
                "tree_size": result.tree_size,
                "checkpoint": result.checkpoint,
            }
        )
    else:
        out_console.print(
            f"recorded {result.count} event(s) at log indices {result.first_index}–"
            f"{result.first_index + result.count - 1}; tree size {result.tree_size}"
        )


def register(app: typer.Typer) -> None:
    app.command()(sign)
    app.command()(countersign)
    app.command()(record)
