"""Importing broken files: every problem named by file, row and column, and nothing written.

Each case builds a registry (tests/chain_fixtures.py: a mine holding 1,000 kg of ore, two separators),
snapshots every row of every table, imports a broken file and checks the error and that the snapshot
is unchanged. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from raretrace.crypto.keys import Ed25519Signer, PublicKey
from raretrace.errors import ValidationError
from raretrace.interchange.importer import import_file
from raretrace.interchange.problems import ImportRejectedError
from raretrace.ledger.scripted import ScriptedChain
from tests.chain_fixtures import EXTRACT_EVENT, ORE_LOT, mine_and_separator
from tests.test_interchange_support import EVENT_HEADER, event_row, every_row, write_csv

CONC = "urn:raretrace:lot:conc-1"
ORE_CELLS = {
    "La (fraction)": 0.0222,
    "Ce (fraction)": 0.033,
    "Pr (fraction)": 0.0029,
    "Nd (fraction)": 0.0082,
}
CONC_CELLS = {"La (fraction)": 0.1, "Ce (fraction)": 0.15, "Pr (fraction)": 0.015, "Nd (fraction)": 0.04}


@pytest.fixture
def chain(db_url: str) -> ScriptedChain:
    """The rows below carry the free-form ids an MES prints (``ev-x-1``, ``urn:raretrace:lot:ore-9``):
    imported into a registry made with ``init --open-ids``, which accepts them (test_id_namespaces.py
    and test_interchange_epcis.py import namespaced ids into a registry made with the defaults)."""
    return mine_and_separator(db_url, open_ids=True)


def refused(chain: ScriptedChain, path: Path, **options: Any) -> ImportRejectedError:
    """Import ``path``, expect a refusal, and check not one row of any table changed."""
    before = every_row(chain.registry)
    options.setdefault("signer", chain.signers["US-MINE"])
    with pytest.raises(ImportRejectedError) as info:
        import_file(chain.registry, path, **options)
    assert every_row(chain.registry) == before
    return info.value


def places(error: ImportRejectedError) -> list[tuple[int | None, str | None]]:
    return [(p.row, p.column) for p in error.problems]


def extract(
    event_id: str, lot: str, mass: float = 500.0, facility: str = "US-MINE", **extra: Any
) -> dict[str, Any]:
    return event_row(
        event_id,
        "extract",
        facility,
        "output",
        lot_id=lot,
        form="ore",
        deposit="Mountain Pass",
        **{"mass (kg)": mass},
        **ORE_CELLS,
        **extra,
    )


def beneficiate(event_id: str, consume: float, nd: float = 0.04) -> list[dict[str, Any]]:
    out = f"urn:raretrace:lot:{event_id}"
    return [
        event_row(
            event_id,
            "process",
            "US-MINE",
            "input",
            lot_id=ORE_LOT,
            stage="beneficiation",
            **{"mass (kg)": consume},
        ),
        event_row(
            event_id,
            "process",
            "US-MINE",
            "output",
            lot_id=out,
            form="concentrate",
            stage="beneficiation",
            **{"mass (kg)": 100.0, **CONC_CELLS, "Nd (fraction)": nd},
        ),
    ]


def test_a_valid_file_is_recorded_with_units_converted(chain: ScriptedChain, tmp_path: Path) -> None:
    header = [h.replace("mass (kg)", "mass (t)").replace("Nd (fraction)", "Nd (wt%)") for h in EVENT_HEADER]
    row = extract("ev-x-1", "urn:raretrace:lot:ore-9")
    row["mass (t)"] = 0.5
    row["Nd (wt%)"] = 0.82
    path = write_csv(tmp_path / "events.csv", header, [row])
    result = import_file(chain.registry, path, signer=chain.signers["US-MINE"])
    assert (result.events, result.kind, result.dry_run) == (1, "events", False)
    lot = chain.registry.lot("urn:raretrace:lot:ore-9")
    assert lot.spec.mass_kg == 500.0
    assert lot.spec.composition.fraction("Nd") == pytest.approx(0.0082)


def test_missing_columns_are_named(chain: ScriptedChain, tmp_path: Path) -> None:
    header = [h for h in EVENT_HEADER if h not in ("time", "facility_id")]
    path = write_csv(tmp_path / "events.csv", header, [extract("ev-x-1", "urn:raretrace:lot:ore-9")])
    error = refused(chain, path, kind="events")
    assert (1, "time") in places(error) and (1, "facility_id") in places(error)
    assert all("required column is missing" in p.reason for p in error.problems)
    assert "events.csv, row 1, column 'time'" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("mass (kg)", "mass (lb)", "unit 'lb' is not one of kg, t"),
        ("mass (kg)", "mass", "state the unit in the header"),
        ("Nd (fraction)", "Nd (kg)", "unit 'kg' is not one of fraction, wt%, %, ppm"),
    ],
)
def test_wrong_units_are_refused(
    chain: ScriptedChain, tmp_path: Path, old: str, new: str, reason: str
) -> None:
    header = [new if h == old else h for h in EVENT_HEADER]
    row = extract("ev-x-1", "urn:raretrace:lot:ore-9")
    row[new] = row.pop(old)
    error = refused(chain, write_csv(tmp_path / "events.csv", header, [row]))
    assert places(error) == [(1, new)]
    assert reason in error.problems[0].reason


def test_every_unknown_facility_is_listed(chain: ScriptedChain, tmp_path: Path) -> None:
    rows = [
        extract("ev-x-1", "urn:raretrace:lot:ore-9", facility="XX-NOPE"),
        event_row("ev-x-2", "transfer", "US-MINE", "lot", lot_id=ORE_LOT, to_facility="YY-NOPE"),
    ]
    error = refused(chain, write_csv(tmp_path / "events.csv", EVENT_HEADER, rows))
    assert places(error) == [(2, "facility_id"), (3, "to_facility")]
    assert "facility 'XX-NOPE' is not registered" in error.problems[0].reason
    assert error.exit_code == 5


def test_duplicate_ids_in_the_file(chain: ScriptedChain, tmp_path: Path) -> None:
    rows = [
        extract("ev-x-1", "urn:raretrace:lot:ore-9"),
        extract("ev-x-2", "urn:raretrace:lot:ore-9"),  # the same lot produced twice
        extract("ev-x-1", "urn:raretrace:lot:ore-10"),  # the same event id again, further down
    ]
    error = refused(chain, write_csv(tmp_path / "events.csv", EVENT_HEADER, rows))
    assert places(error) == [(3, "lot_id"), (4, "event_id")]
    assert "already produced on row 2" in error.problems[0].reason
    assert "already appeared on row 2" in error.problems[1].reason


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        (extract(EXTRACT_EVENT, "urn:raretrace:lot:ore-9"), "event_id", "already recorded"),
        (extract("ev-x-1", ORE_LOT), "lot_id", "already exists"),
    ],
)
def test_duplicates_of_recorded_ids_are_named_at_their_cell(
    chain: ScriptedChain, tmp_path: Path, row: dict[str, Any], column: str, reason: str
) -> None:
    error = refused(chain, write_csv(tmp_path / "events.csv", EVENT_HEADER, [row]))
    assert places(error) == [(2, column)]
    assert reason in error.problems[0].reason
    assert error.exit_code == 4


def test_a_row_that_would_double_spend_is_refused(chain: ScriptedChain, tmp_path: Path) -> None:
    """600 kg of the 1,000 kg ore lot, then 600 kg more: the second input row is the one named."""
    rows = [*beneficiate("ev-b-1", 600.0), *beneficiate("ev-b-2", 600.0)]
    error = refused(chain, write_csv(tmp_path / "events.csv", EVENT_HEADER, rows))
    assert len(error.problems) == 1
    problem = error.problems[0]
    assert problem.row == 4 and problem.column in ("mass (kg)", "lot_id")
    assert "ev-b-2" in problem.reason and "400" in problem.reason
    assert error.exit_code == 4


def test_mass_balance_is_checked_and_named(chain: ScriptedChain, tmp_path: Path) -> None:
    rows = beneficiate("ev-b-1", 600.0, nd=0.2)  # 20 kg of Nd out of 4.9 kg in
    error = refused(chain, write_csv(tmp_path / "events.csv", EVENT_HEADER, rows))
    assert error.problems[0].row == 3  # the output row
    assert "Nd" in error.problems[0].reason
    assert error.exit_code == 4


def test_dry_run_judges_everything_and_writes_nothing(chain: ScriptedChain, tmp_path: Path) -> None:
    before = every_row(chain.registry)
    good = write_csv(tmp_path / "good.csv", EVENT_HEADER, beneficiate("ev-b-1", 600.0))
    result = import_file(chain.registry, good, signer=chain.signers["US-MINE"], dry_run=True)
    assert result.events == 1 and result.dry_run and result.first_index is None
    assert every_row(chain.registry) == before
    spends = [*beneficiate("ev-b-1", 600.0), *beneficiate("ev-b-2", 600.0)]
    bad = write_csv(tmp_path / "bad.csv", EVENT_HEADER, spends)
    assert "ev-b-2" in str(refused(chain, bad, dry_run=True))


def test_all_problems_are_collected_up_to_the_cap(chain: ScriptedChain, tmp_path: Path) -> None:
    rows = [extract(f"ev-x-{i}", f"urn:raretrace:lot:ore-x{i}", mass=-1.0) for i in range(30)]
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, rows)
    error = refused(chain, path)
    assert len(error.problems) == 30 and {p.column for p in error.problems} == {"mass (kg)"}
    assert [p.row for p in error.problems] == list(range(2, 32))
    capped = refused(chain, path, max_errors=5)
    assert len(capped.problems) == 5 and "more" in str(capped)


def test_unsigned_rows_need_a_key_and_the_right_one(chain: ScriptedChain, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "events.csv", EVENT_HEADER, [extract("ev-x-1", "urn:raretrace:lot:ore-9")])
    assert "--key" in str(refused(chain, path, signer=None))
    stranger = Ed25519Signer.generate()
    error = refused(chain, path, signer=stranger)
    assert error.problems[0].row == 2 and error.exit_code == 3


def test_an_edited_signed_row_is_refused(chain: ScriptedChain, tmp_path: Path) -> None:
    import base64

    good = extract("ev-x-1", "urn:raretrace:lot:ore-9")
    envelope = chain.envelope(
        "US-MINE",
        "extract",
        event_id="ev-x-1",
        time="2026-02-01T08:00:00Z",
        deposit="Mountain Pass",
        outputs=[
            {
                "id": "urn:raretrace:lot:ore-9",
                "form": "ore",
                "mass_kg": 500.0,
                "composition": {"La": 0.0222, "Ce": 0.033, "Pr": 0.0029, "Nd": 0.0082},
            }
        ],
    )
    header = [*EVENT_HEADER, "envelope"]
    edited = {**good, "mass (kg)": 5000.0, "envelope": base64.b64encode(envelope).decode()}
    error = refused(chain, write_csv(tmp_path / "events.csv", header, [edited]), signer=None)
    assert places(error) == [(2, "envelope")] and "mass" not in error.problems[0].reason
    assert "disagree on 'outputs'" in error.problems[0].reason
    kept = {**good, "envelope": base64.b64encode(envelope).decode()}
    result = import_file(chain.registry, write_csv(tmp_path / "ok.csv", header, [kept]))
    assert result.events == 1  # signed rows need no --key


def _xlsx(path: Path, rows: list[list[Any]], title: str = "events") -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    workbook.save(path)
    return path


def test_excel_rows_are_read_and_named_by_sheet(chain: ScriptedChain, tmp_path: Path) -> None:
    from datetime import datetime

    good = extract("ev-x-1", "urn:raretrace:lot:ore-9")
    cells = [good.get(h) for h in EVENT_HEADER]
    path = _xlsx(tmp_path / "events.xlsx", [EVENT_HEADER, cells])
    assert import_file(chain.registry, path, signer=chain.signers["US-MINE"]).events == 1
    bad = [*cells]
    bad[EVENT_HEADER.index("event_id")] = "ev-x-2"
    bad[EVENT_HEADER.index("lot_id")] = "urn:raretrace:lot:ore-10"
    bad[EVENT_HEADER.index("time")] = datetime(2026, 2, 1, 8)
    error = refused(chain, _xlsx(tmp_path / "bad.xlsx", [EVENT_HEADER, bad]))
    assert places(error) == [(2, "time")] and "UTC offset" in error.problems[0].reason
    assert error.problems[0].file == "bad.xlsx [events]"


def test_a_file_that_is_not_a_workbook_is_refused(chain: ScriptedChain, tmp_path: Path) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    before = every_row(chain.registry)
    with pytest.raises(ValidationError, match="broken.xlsx is not an Excel workbook"):
        import_file(chain.registry, path, signer=chain.signers["US-MINE"])
    assert every_row(chain.registry) == before


FACILITY_HEADER = [
    "facility_id",
    "facility_name",
    "operator",
    "country",
    "stages",
    "public_key",
    "key_valid_from",
]


def _facility(facility_id: str, country: str = "AU", key: str | None = None) -> dict[str, Any]:
    return {
        "facility_id": facility_id,
        "facility_name": f"{facility_id} plant",
        "operator": "Example Ltd",
        "country": country,
        "stages": "separation",
        "public_key": key or PublicKey(Ed25519Signer.generate().public_key).to_b64(),
        "key_valid_from": "2020-01-01T00:00:00Z",
    }


def test_facility_lists_register_and_refuse_duplicates(chain: ScriptedChain, tmp_path: Path) -> None:
    good = write_csv(
        tmp_path / "f.csv", FACILITY_HEADER, [_facility("AU-SEP-1", "Australia"), _facility("MY-SEP-1", "MY")]
    )
    result = import_file(chain.registry, good)
    assert (result.kind, result.events) == ("facilities", 2)
    with chain.registry.engine.connect() as conn:
        stored = chain.registry.store.facilities(conn, ["AU-SEP-1"])
    assert stored["AU-SEP-1"].country == "AU"
    rows = [
        _facility("AU-SEP-1"),  # registered above
        _facility("NEW-1"),
        _facility("NEW-1"),  # twice in the file
        _facility("NEW-2", country="Atlantis"),
        _facility("NEW-3", key="not base64!"),
    ]
    error = refused(chain, write_csv(tmp_path / "bad.csv", FACILITY_HEADER, rows))
    assert places(error) == [(2, "facility_id"), (4, "facility_id"), (5, "country"), (6, "public_key")]


def test_the_excel_template_filled_in_is_imported_from_the_sheet_named_after_the_kind(
    chain: ScriptedChain, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from raretrace.interchange.columns import template_headers
    from raretrace.interchange.templates import write_workbook

    path = write_workbook(tmp_path / "template.xlsx")
    workbook = load_workbook(path)
    values = {**_facility("AU-SEP-9", "Australia"), "stages": "separation;metallization"}
    workbook["facilities"].append([values.get(h) for h in template_headers("facilities")])
    workbook.save(path)
    result = import_file(chain.registry, path, kind="facilities")
    assert (result.kind, result.events) == ("facilities", 1)
    with chain.registry.engine.connect() as conn:
        stored = chain.registry.store.facilities(conn, ["AU-SEP-9"])["AU-SEP-9"]
    assert stored.activities == frozenset({"separation", "metallization"})
