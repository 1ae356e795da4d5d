"""``raretrace fingerprint``: is an assayed sample consistent with its declared origin?

``raretrace fingerprint ASSAY.csv`` checks assays; ``raretrace fingerprint library build|evaluate`` makes a
library from certified reference samples and cross-validates it. Every command reads the library in use
(``--library``, else the ``RARETRACE_FINGERPRINT_LIBRARY`` setting, else the shipped literature library)."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from typer._click.core import Context
from typer.core import TyperGroup

from raretrace.cli.common import JsonFlag, emit_json, err_console, out_console
from raretrace.errors import NotFoundError, ValidationError

if TYPE_CHECKING:  # the fingerprint package loads numpy and scipy: imported by the commands that use it
    from raretrace.fingerprint.model import FingerprintModel

LibraryOption = Annotated[
    Path | None,
    typer.Option(
        "--library",
        help="Library file from 'fingerprint library build' (default: the RARETRACE_FINGERPRINT_LIBRARY "
        "setting, else the shipped literature library)",
        dir_okay=False,
    ),
]


class _FingerprintGroup(TyperGroup):
    """``fingerprint ASSAY.csv ...`` runs the check; ``fingerprint library ...`` the library commands."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["check", *args]
        result: list[str] = super().parse_args(ctx, args)
        return result


fingerprint_app = typer.Typer(
    cls=_FingerprintGroup,
    help="Fingerprint assays against a deposit library ('raretrace fingerprint ASSAY.csv' is short for "
    "'raretrace fingerprint check ASSAY.csv'); build and evaluate libraries from samples.",
    no_args_is_help=True,
)
library_app = typer.Typer(
    help="Reference libraries built from certified reference samples.", no_args_is_help=True
)
fingerprint_app.add_typer(library_app, name="library")


def _read(path: Path, what: str) -> tuple[str, bytes]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read {path}: {e.strerror}", field=what) from e
    try:
        return data.decode("utf-8"), data
    except UnicodeDecodeError as e:
        raise ValidationError(f"{path} is not UTF-8 text", field=what) from e


def _model(library: Path | None) -> FingerprintModel:
    """The model of ``--library``, or of the library in use."""
    from raretrace.fingerprint import build_model, default_model
    from raretrace.fingerprint.library import read_library_file

    return build_model(read_library_file(str(library))) if library else default_model()


@fingerprint_app.command("check")
def fingerprint(
    assay: Annotated[Path, typer.Argument(help="Assay CSV: one sample per row, units in the header")],
    declared: Annotated[
        str | None, typer.Option(help="Declared origin: a deposit of the library or an ISO country code")
    ] = None,
    form: Annotated[
        str | None, typer.Option(help="Form of every sample when the CSV has no form column")
    ] = None,
    library: LibraryOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Fingerprint assays against the deposit library: most likely deposits with calibrated
    probabilities, "matches no deposit we know", and, with --declared, consistent / inconsistent /
    indeterminate with the p-value and likelihood ratio behind it.

    Example: raretrace fingerprint assays.csv --declared mountain-pass
    """
    from raretrace.fingerprint import check_samples, parse_assay_csv

    text, _ = _read(assay, "assay")
    samples = parse_assay_csv(text, default_form=form)
    model = _model(library)
    results = check_samples(samples, declared, model=model)
    if as_json:
        emit_json(
            {
                "library": {"origin": model.library.origin, "title": model.library.title},
                "samples": [
                    {"row": s.row, "sample": s.sample_id, **r.to_dict()}
                    for s, r in zip(samples, results, strict=True)
                ],
            }
        )
        return
    out_console.print(
        f"library: {escape(model.library.title or model.library.origin)} ({escape(model.library.origin)})",
        soft_wrap=True,
        highlight=False,
    )
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


@library_app.command("build")
def library_build(
    samples: Annotated[
        Path, typer.Argument(help="Certified reference samples CSV (deposit, country, lab, method)")
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Library file to write (JSON)", dir_okay=False)
    ],
    as_json: JsonFlag = False,
) -> None:
    """Build a reference library from certified reference samples: per deposit and element a censored
    maximum-likelihood fit of the log share of TREO, the inter-lab bias, Nd-Sr isotopes where reported, the
    open-set threshold calibrated on the samples (cross-conformal, by lab), and the samples file's provenance.
    Use it with --library or the RARETRACE_FINGERPRINT_LIBRARY setting.

    Example: raretrace fingerprint library build samples.csv -o lab-library.json
    """
    import json

    from raretrace.fingerprint.conformal import calibrated_library
    from raretrace.fingerprint.library import library_from_dict
    from raretrace.fingerprint.samples import parse_reference_samples

    text, data = _read(samples, "samples")
    parsed = parse_reference_samples(text)
    built = datetime.now(UTC).replace(microsecond=0).isoformat()
    library, calibration = calibrated_library(parsed, samples.name, data, built)
    library_from_dict(library, str(output))  # the file must read back as a library before it is written
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_text(json.dumps(library, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        os.replace(tmp, output)
    except OSError as e:
        raise ValidationError(f"cannot write {output}: {e.strerror}", field="output") from e
    summary = {
        "library": str(output),
        "deposits": [d["id"] for d in library["deposits"]],
        "lab_bias_sd": library["lab_bias_sd"],
        "calibration": library["calibration"],
        "provenance": library["provenance"],
    }
    if as_json:
        emit_json(summary)
        return
    out_console.print(
        f"wrote {escape(str(output))}: {len(summary['deposits'])} deposits from {len(parsed)} samples, "
        f"inter-lab bias (log-sd) {library['lab_bias_sd']:.3f}, open-set threshold shifted by "
        f"{calibration.novelty_shift:+.3f} ({calibration.held_out} held-out samples, {calibration.folds})",
        soft_wrap=True,
        highlight=False,
    )


@library_app.command("evaluate")
def library_evaluate(
    samples: Annotated[
        Path, typer.Argument(help="Certified reference samples CSV the library is built from")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Cross-validate the library the samples build: leave-one-sample-out and leave-one-lab-out top-1
    accuracy, wrongly rejected share, truthful declarations called inconsistent, and (leave-one-lab-out)
    deposits only the left-out lab measured, rejected as unknown.

    Example: raretrace fingerprint library evaluate samples.csv
    """
    from dataclasses import asdict

    from raretrace.fingerprint.crossval import cross_validate
    from raretrace.fingerprint.samples import parse_reference_samples

    text, _ = _read(samples, "samples")
    parsed = parse_reference_samples(text)

    def progress(i: int, n: int) -> None:
        if not as_json and (i == n or i % 10 == 0):
            err_console.print(f"fold {i}/{n}", highlight=False)

    figures = cross_validate(parsed, progress)
    if as_json:
        emit_json({"samples": len(parsed), "folds": [asdict(f) for f in figures]})
        return
    for f in figures:
        out_console.print(
            f"{f.kind} ({f.folds} folds, {f.scored} samples of deposits in the library): top-1 {f.top1:.3f}, "
            f"wrongly rejected {f.wrongly_rejected:.3f}, truthful declarations inconsistent "
            f"{f.truthful_inconsistent:.3f}"
            + (
                f"; {f.outside} samples of deposits left out, rejected {f.outside_rejected:.3f}"
                if f.outside
                else ""
            ),
            soft_wrap=True,
            highlight=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(fingerprint_app, name="fingerprint")
