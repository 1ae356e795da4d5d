"""`raretrace import`, `export` and `template`: spreadsheets and EPCIS in, tables and EPCIS out.

The commands parse options, show a progress bar on stderr and render; the work is in
``raretrace.interchange``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from raretrace.cli.common import JsonFlag, _ctx, emit_json, err_console, out_console
from raretrace.errors import ValidationError
from raretrace.times import parse_date

if TYPE_CHECKING:  # annotations only: the commands import what they run when they run
    from raretrace.interchange.writers import Columns, Record
    from raretrace.ledger.registry import Registry


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int | None], None]]:
    """A Rich progress bar on stderr with one task per phase (reading, recording)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not enabled,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield update


def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="CSV, Excel (.xlsx) or EPCIS 2.0 JSON(-LD) file")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, xlsx or epcis (default: from the extension)")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="facilities or events (default: from the header row)")
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="Private key of the submitting facility: signs the unsigned rows")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate everything, registry checks included; write nothing")
    ] = False,
    max_errors: Annotated[int, typer.Option(min=1, help="Stop collecting problems after this many")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Import facilities or events from a CSV or Excel template or an EPCIS 2.0 document, all or
    nothing: every problem is listed with its file, row and column, and if there is any, nothing is
    written.

    Example: raretrace --db registry.db import docs/examples/import/mine-events.csv --key mine.key --dry-run
    """
    from raretrace.crypto.keys import load_signer
    from raretrace.interchange.importer import import_file
    from raretrace.interchange.problems import ImportRejectedError

    signer = load_signer(key) if key is not None else None
    registry = _ctx(ctx).registry()
    try:
        with _progress(not as_json and err_console.is_terminal) as progress:
            result = import_file(
                registry,
                file,
                fmt=fmt,
                kind=kind,
                signer=signer,
                dry_run=dry_run,
                max_errors=max_errors,
                progress=progress,
            )
    except ImportRejectedError as e:
        if not as_json:
            raise
        emit_json(e.to_dict())
        raise typer.Exit(e.exit_code) from e
    if as_json:
        emit_json(result.to_dict())
        return
    verb = "would record" if dry_run else "recorded"
    where = (
        f" at log indices {result.first_index}–{result.first_index + result.events - 1}"
        if result.first_index is not None
        else ""
    )
    what = "facility registration(s)" if result.kind == "facilities" else "event(s)"
    out_console.print(
        f"{escape(file.name)}: {verb} {result.events} {what}{where}; "
        f"tree size {result.tree_size}" + ("; nothing written (dry run)" if dry_run else ""),
        highlight=False,
    )
    for line in result.skipped[:20]:
        out_console.print(f"  skipped (nothing raretrace records): {escape(line)}", highlight=False)
    if len(result.skipped) > 20:
        out_console.print(f"  … and {len(result.skipped) - 20} more skipped", highlight=False)


def export_command(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(help="lots, events, traces, verdicts, certificates or facilities")],
    out: Annotated[Path, typer.Option(help="File to write")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="csv, json or parquet; epcis for events (default: from --out)"),
    ] = None,
    lot: Annotated[
        list[str] | None, typer.Option("--lot", help="Only these lots (traces, verdicts, lots); repeatable")
    ] = None,
    down: Annotated[bool, typer.Option("--down", help="Traces down to what each lot reached")] = False,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Verdicts on this date, YYYY-MM-DD")] = None,
    end_use: Annotated[str | None, typer.Option("--end-use", help="Verdicts for this end use")] = None,
    regime: Annotated[
        list[str] | None, typer.Option("--regime", "-r", help="Verdicts under this regime; repeatable")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Export lots, traces, verdicts, certificates or facilities as CSV, JSON or Parquet, and events
    as CSV, JSON, Parquet or GS1 EPCIS 2.0 JSON-LD. Facilities and events come out in the import
    templates' shape with their signatures, so another registry can import them.

    Example: raretrace --db registry.db export events --format epcis --out events.jsonld
    """
    from raretrace.interchange import export as ex
    from raretrace.interchange.writers import TABLE_FORMATS, write_table

    if what not in ex.EXPORTS:
        raise ValidationError(f"{what!r} is not one of {', '.join(ex.EXPORTS)}", field="what")
    chosen = fmt or {".jsonld": "epcis", ".parquet": "parquet", ".json": "json"}.get(
        out.suffix.lower(), "csv"
    )
    registry = _ctx(ctx).registry()
    if chosen == "epcis":
        if what != "events":
            raise ValidationError("only events can be exported as EPCIS", field="format")
        from raretrace.interchange.epcis_export import export_epcis

        count = export_epcis(registry, out)
    else:
        if chosen not in TABLE_FORMATS:
            raise ValidationError(
                f"{chosen!r} is not one of {', '.join(TABLE_FORMATS)}, epcis", field="format"
            )
        columns, records, nested = _table(registry, what, chosen, lot, down, _date(as_of), end_use, regime)
        count = write_table(
            out, chosen, columns, records, meta={"export": what, "registry": registry.origin}, nested=nested
        )
    if as_json:
        emit_json({"export": what, "format": chosen, "out": str(out), "records": count})
    else:
        out_console.print(f"wrote {count} {what} record(s) to {escape(str(out))} ({chosen})", highlight=False)


def _date(text: str | None) -> date | None:
    if text is None:
        return None
    return parse_date(text, "as_of")


def _table(
    registry: Registry,
    what: str,
    fmt: str,
    lots: list[str] | None,
    down: bool,
    as_of: date | None,
    end_use: str | None,
    regimes: list[str] | None,
) -> tuple[Columns, Iterator[Record], bool]:
    """(columns, records, whether JSON keeps each whole record) for one export."""
    from raretrace.interchange import export as ex

    if what == "lots":
        return ex.LOT_COLUMNS, ex.lot_records(registry, lots), True
    if what == "traces":
        columns = ex.TRACE_DOWN_COLUMNS if down else ex.TRACE_UP_COLUMNS
        return columns, _as_json(ex.trace_records(registry, lots, up=not down)), True
    if what == "verdicts":
        return (
            ex.VERDICT_COLUMNS,
            _as_json(ex.verdict_records(registry, lots, as_of=as_of, end_use=end_use, regimes=regimes)),
            True,
        )
    if what == "certificates":
        return ex.CERTIFICATE_COLUMNS, ex.certificate_records(registry), True
    if what == "facilities":
        return ex.FACILITY_COLUMNS, ex.facility_records(registry), False
    if fmt == "json":
        return (
            (("log_index", "int"), ("event", "text"), ("envelope", "text")),
            ex.event_json_records(registry),
            True,
        )
    return ex.event_columns(registry), ex.event_records(registry), False


def _as_json(records: Iterable[Record]) -> Iterator[Record]:
    """Records whose members include typed answers (a trace, a verdict's findings), as JSON values."""
    from raretrace.render.jsonable import as_object

    for record in records:
        converted: Record = dict(as_object(record))
        yield converted


def template_command(
    out: Annotated[Path, typer.Option(help="Folder to write the templates into")],
    fmt: Annotated[
        list[str] | None, typer.Option("--format", help="csv and/or xlsx; repeatable (default: both)")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Write the import templates: facilities.csv and events.csv, and an Excel workbook with a sheet
    for each and a README sheet describing every column and its units.

    Example: raretrace template --format xlsx --out templates/
    """
    from raretrace.interchange.templates import write_templates

    written = write_templates(out, tuple(fmt or ("csv", "xlsx")))
    if as_json:
        emit_json({"written": [str(p) for p in written]})
        return
    for path in written:
        out_console.print(f"wrote {escape(str(path))}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this area's commands to the main application."""
    app.command("import")(import_command)
    app.command("export")(export_command)
    app.command("template")(template_command)
