"""Certified reference samples (the input of ``library build``): an assay CSV with who and where.

The CSV is the assay format of ``assay_csv`` (units in the header, ``<DL`` cells, ``DL``/``U`` columns, oxide
or element columns at any precision) plus these columns: ``deposit`` (an id: lower case, digits and '-'),
``country`` (ISO 3166-1 alpha-2), ``lab`` and ``method`` (free text, required: leave-one-lab-out needs
them), and optionally ``name`` (the deposit's name; the id otherwise). Every row must be an ore, concentrate
or mixed oxide with all 15 REY reported (a value or a detection limit).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Final

import pycountry

from raretrace.errors import ValidationError
from raretrace.fingerprint.assay_csv import AssaySample, parse_assay_csv
from raretrace.fingerprint.declared import PATTERN_FORMS

META: Final[tuple[str, ...]] = ("deposit", "country", "lab", "method", "name")
_REQUIRED: Final[tuple[str, ...]] = ("deposit", "country", "lab", "method")
_ID: Final = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class ReferenceSample:
    deposit: str
    name: str
    country: str
    lab: str
    method: str
    assay: AssaySample


def parse_reference_samples(text: str) -> list[ReferenceSample]:
    """Reference samples from CSV text; a ``ValidationError`` names the row and column of the first
    problem (rows are numbered as in the file, header = row 1)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise ValidationError("the CSV is empty", field="header", context="row 1")
    header = [h.strip() for h in rows[0]]
    low = [h.lower() for h in header]
    for name in _REQUIRED:
        if name not in low:
            raise ValidationError(f"missing required column {name!r}", field=name, context="row 1")
    meta_idx = {name: low.index(name) for name in META if name in low}
    keep = [i for i in range(len(header)) if i not in meta_idx.values()]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    for r in rows:
        # blank lines are kept (as empty rows the assay parser skips) so its row numbers stay the file's
        writer.writerow([r[i] if i < len(r) else "" for i in keep] if any(c.strip() for c in r) else [])
    assays = {a.row: a for a in parse_assay_csv(buf.getvalue())}
    out: list[ReferenceSample] = []
    for n, r in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in r):
            continue
        where = f"row {n}"
        values = {name: (r[i].strip() if i < len(r) else "") for name, i in meta_idx.items()}
        for name in _REQUIRED:
            if not values[name]:
                raise ValidationError("missing required value", field=header[meta_idx[name]], context=where)
        deposit = values["deposit"]
        if not _ID.match(deposit):
            raise ValidationError(
                f"{deposit!r} is not a deposit id (lower case letters, digits and '-')",
                field=header[meta_idx["deposit"]],
                context=where,
            )
        country = values["country"].upper()
        if pycountry.countries.get(alpha_2=country) is None:
            raise ValidationError(
                f"{values['country']!r} is not an ISO 3166-1 alpha-2 code",
                field=header[meta_idx["country"]],
                context=where,
            )
        assay = assays[n]
        if assay.form not in {f.value for f in PATTERN_FORMS}:
            raise ValidationError(
                f"a reference sample is ore, concentrate or mixed oxide, not {assay.form}",
                field="form",
                context=where,
            )
        out.append(
            ReferenceSample(
                deposit, values.get("name") or deposit, country, values["lab"], values["method"], assay
            )
        )
    if not out:
        raise ValidationError("no samples", field="rows", context="row 2")
    return out


__all__ = ["META", "ReferenceSample", "parse_reference_samples"]
