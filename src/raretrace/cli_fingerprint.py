"""``raretrace fingerprint``: is an assayed sample consistent with its declared origin?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from raretrace.cli_common import JsonFlag, emit_json, out_console
from raretrace.errors import NotFoundError, ValidationError


def fingerprint(
    assay: Annotated[Path, typer.Argument(help="Assay CSV: one sample per row, units in the header")],
    declared: Annotated[
        str | None, typer.Option(help="Declared origin: a deposit of the library or an ISO country code")
    ] = None,
    form: Annotated[
        str | None, typer.Option(help="Form of every sample when the CSV has no form column")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Fingerprint assays against the deposit library: most likely deposits with calibrated
    probabilities, "matches no deposit we know", and, with --declared, consistent / inconsistent /
    indeterminate with the p-value and likelihood ratio behind it.

    Example: raretrace fingerprint assays.csv --declared mountain-pass
    """
    from raretrace.fingerprint import check_samples, parse_assay_csv

    try:
        text = assay.read_text(encoding="utf-8")
    except OSError as e:
        raise NotFoundError(f"cannot read {assay}: {e.strerror}", field="assay") from e
    except UnicodeDecodeError as e:
        raise ValidationError(f"{assay} is not UTF-8 text", field="assay") from e
    samples = parse_assay_csv(text, default_form=form)
    results = check_samples(samples, declared)
    if as_json:
        emit_json(
            {
                "samples": [
                    {"row": s.row, "sample": s.sample_id, **r.to_dict()}
                    for s, r in zip(samples, results, strict=True)
                ]
            }
        )
        return
    for sample, result in zip(samples, results, strict=True):
        top = ", ".join(f"{c.name} {c.probability:.0%}" for c in result.candidates) or "none"
        status = f" — declared {escape(str(declared))}: [bold]{result.status}[/bold]" if declared else ""
        unknown = " [yellow](matches no deposit in the library)[/yellow]" if result.unknown else ""
        out_console.print(
            f"row {sample.row} {escape(sample.sample_id)} ({sample.form}): "
            f"most like {escape(top)}{unknown}{status}",
            soft_wrap=True,
            highlight=False,
        )
        out_console.print(f"    {escape(result.explanation)}", soft_wrap=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command()(fingerprint)
