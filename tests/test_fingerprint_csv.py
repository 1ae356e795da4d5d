"""Assay CSV parsing: units in the header, conversions, and errors that name row and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from raretrace.elements import oxide_factor
from raretrace.errors import ValidationError
from raretrace.fingerprint import check_samples, load_library, parse_assay_csv
from raretrace.fingerprint.library import REY

# A concentrate at Longnan's reference pattern (percent of TREO as oxides), 50% TREO, in element ppm
LONGNAN_PPM = {
    e: round(share.centre_pct / 100 * 0.5e6 * oxide_factor(e), 3)
    for e, share in load_library().get("longnan").shares.items()
}


def ppm_csv(rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> str:
    header = ["sample", "form", *(f"{e} (ppm)" for e in REY), *extra]
    lines = [",".join(header)]
    for row in rows:
        lines.append(",".join(row.get(h, "") for h in header))
    return "\n".join(lines) + "\n"


def longnan_row(sample: str = "S1", form: str = "concentrate", **cells: str) -> dict[str, str]:
    row = {"sample": sample, "form": form} | {f"{e} (ppm)": str(v) for e, v in LONGNAN_PPM.items()}
    return row | {k.replace("_", " "): v for k, v in cells.items()}


def test_ppm_csv_parses_with_detection_limits_and_isotopes() -> None:
    row = longnan_row() | {"Lu (ppm)": "<0.05", "87Sr/86Sr": "0.7105"}
    samples = parse_assay_csv(ppm_csv([row], extra=("87Sr/86Sr",)))
    assert len(samples) == 1
    s = samples[0]
    assert (s.row, s.sample_id, s.form) == (2, "S1", "concentrate")
    assert s.ppm["Y"] == LONGNAN_PPM["Y"]
    assert "Lu" not in s.ppm and s.detection_limits == {"Lu": 0.05}
    assert s.isotopes == {"87Sr/86Sr": 0.7105}
    # the same pattern without the censored Lu (a Longnan concentrate holds ~1700 ppm Lu, so "< 0.05"
    # would contradict it): identified as Longnan, consistent with China
    [result] = check_samples(parse_assay_csv(ppm_csv([longnan_row()])), "CN")
    assert result.candidates[0].deposit == "longnan"
    assert result.status == "consistent"
    assert result.descriptors is not None and result.descriptors["Ce/Ce*"] < 0.5


def test_oxide_weight_percent_is_converted_to_element_ppm() -> None:
    header = ["sample", "form", "La2O3 (wt%)", "CeO2 (wt%)", "Pr6O11 [wt%]", "Tb4O7_wt%"]
    header += [f"{e} (ppm)" for e in REY if e not in ("La", "Ce", "Pr", "Tb")]
    values = ["A", "ore", "10", "20", "1.5", "0.01"] + ["100"] * 11
    [s] = parse_assay_csv(",".join(header) + "\n" + ",".join(values) + "\n")
    assert s.ppm["La"] == pytest.approx(10 * 1e4 * oxide_factor("La"))
    assert s.ppm["Ce"] == pytest.approx(20 * 1e4 * oxide_factor("Ce"))
    assert s.ppm["Pr"] == pytest.approx(1.5 * 1e4 * oxide_factor("Pr"))
    assert s.ppm["Tb"] == pytest.approx(0.01 * 1e4 * oxide_factor("Tb"))


def test_units_ppb_and_default_form() -> None:
    header = [f"{e} (ppb)" for e in REY]
    [s] = parse_assay_csv(",".join(header) + "\n" + ",".join(["1000"] * 15) + "\n", default_form="ore")
    assert s.form == "ore" and s.ppm["Nd"] == pytest.approx(1.0) and s.sample_id == "row 2"


@pytest.mark.parametrize(
    ("text", "message", "where"),
    [
        ("sample,form,Foo (ppm)\n", "unknown column 'Foo (ppm)'", "row 1"),
        ("sample,form,La\n", "state the unit of 'La'", "row 1"),
        ("sample,form,La (furlongs)\n", "unknown unit 'furlongs'", "row 1"),
        ("sample,form,Ce2O3 (wt%)\n", "use CeO2", "row 1"),
        ("sample,form,La (ppm),La2O3 (wt%)\n", "repeats 'La (ppm)'", "row 1"),
        ("sample,La (ppm)\n", "missing required column 'form'", "row 1"),
        ("sample,form,La (ppm),Ce (ppm)\n", "missing required column(s) for Pr", "row 1"),
        ("", "empty", "row 1"),
    ],
)
def test_bad_headers_are_rejected_naming_the_column(text: str, message: str, where: str) -> None:
    with pytest.raises(ValidationError, match="^" + where) as err:
        parse_assay_csv(text)
    assert message in str(err.value)


def test_negative_value_names_row_and_column() -> None:
    rows = [longnan_row("S1"), longnan_row("S2") | {"Dy (ppm)": "-3"}]
    with pytest.raises(ValidationError) as err:
        parse_assay_csv(ppm_csv(rows))
    assert err.value.context == "row 3"
    assert err.value.field == "Dy (ppm)"
    assert "negative" in err.value.message


def test_total_above_100_percent_is_rejected() -> None:
    row = longnan_row() | {"Y (ppm)": "900000"}
    with pytest.raises(ValidationError) as err:
        parse_assay_csv(ppm_csv([row]))
    assert (err.value.context, err.value.field) == ("row 2", "total")
    assert "more than 100%" in err.value.message


def test_missing_required_value_names_row_and_column_but_processed_rows_may_omit_it() -> None:
    with pytest.raises(ValidationError) as err:
        parse_assay_csv(ppm_csv([longnan_row() | {"Tb (ppm)": ""}]))
    assert (err.value.context, err.value.field) == ("row 2", "Tb (ppm)")
    assert "missing required value for Tb" in err.value.message
    magnet = {"sample": "M1", "form": "magnet", "Nd (ppm)": "290000", "eNd": "-12.5"}
    [s] = parse_assay_csv(ppm_csv([magnet], extra=("eNd",)))
    assert s.isotopes == {"eNd": -12.5}
    assert s.check("bayan-obo").status in {"consistent", "inconsistent"}
    no_isotope = {"sample": "M2", "form": "separated_oxide", "Nd (ppm)": "850000"}
    [s2] = parse_assay_csv(ppm_csv([no_isotope]))
    assert s2.check("bayan-obo").status == "indeterminate"


@pytest.mark.parametrize(
    ("cells", "field", "message"),
    [
        ({"form": "rock"}, "form", "is not one of ore"),
        ({"form": ""}, "form", "missing required value"),
        ({"La (ppm)": "abc"}, "La (ppm)", "not a number"),
        ({"La (ppm)": "nan"}, "La (ppm)", "not a finite number"),
        ({"La (ppm)": "<0"}, "La (ppm)", "detection limit must be > 0"),
        ({"87Sr/86Sr": "7.1"}, "87Sr/86Sr", "not a possible 87Sr/86Sr"),
    ],
)
def test_bad_cells_name_row_and_column(cells: dict[str, str], field: str, message: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_assay_csv(ppm_csv([longnan_row() | cells], extra=("87Sr/86Sr",)))
    assert (err.value.context, err.value.field) == ("row 2", field)
    assert message in err.value.message
    assert str(err.value).startswith(f"row 2: {field}: ")


def test_ragged_row_is_rejected() -> None:
    with pytest.raises(ValidationError, match="row 2: row: has 2 cells"):
        parse_assay_csv(ppm_csv([]) + "S1,ore\n")


def test_cli_fingerprint(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    import json

    from tests.test_cli import Cli
    from tests.test_fingerprint import assays

    header = ["sample", "form", *(f"{e} (ppm)" for e in REY)]
    rows = []
    for i, (ppm, below) in enumerate(assays("longnan", 2, seed=3) + assays("mountain-pass", 1, seed=4)):
        cells = [f"s{i}", "ore", *(f"{ppm[e]:.6g}" if e in ppm else f"<{below[e]}" for e in REY)]
        rows.append(",".join(cells))
    path = tmp_path / "assays.csv"
    path.write_text("\n".join([",".join(header), *rows]) + "\n")
    cli = Cli(tmp_path, capsysbinary, "")
    code, out, err = cli("fingerprint", str(path), "--declared", "US", "--json", db=False)
    assert code == 0, err
    statuses = [s["status"] for s in json.loads(out)["samples"]]
    assert statuses[:2] == ["inconsistent", "inconsistent"] and statuses[2] != "inconsistent"
    code, out, _ = cli("fingerprint", str(path), "--declared", "longnan", db=False)
    assert code == 0 and b"row 2 s0 (ore): most like" in out
    path.write_text("sample,form,La (ppm),Xx (ppm)\ns,ore,1,2\n")
    code, _, err = cli("fingerprint", str(path), db=False)
    assert code == 2 and "Xx" in err
    code, _, err = cli("fingerprint", str(tmp_path / "missing.csv"), db=False)
    assert code == 5
