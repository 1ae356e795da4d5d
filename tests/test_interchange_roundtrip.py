"""Round trip: export a registry's facilities, lots and events, import them into an empty registry,
and get the same lots, origin vectors and verdicts.

The source registry is built with ledger/scripted.py's two reference chains (Bayan Obo through China
to a Japanese magnet maker; Mount Weld through Malaysia to a US magnet maker, with an assay). Events
travel as the events template (CSV and Excel) and as EPCIS 2.0 JSON-LD, each with its original
signature; the facility list carries the facilities' public keys. Both back ends.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from raretrace.interchange.epcis_export import export_epcis
from raretrace.interchange.export import (
    FACILITY_COLUMNS,
    LOT_COLUMNS,
    all_lot_ids,
    event_columns,
    event_records,
    facility_records,
    lot_records,
)
from raretrace.interchange.importer import import_file
from raretrace.interchange.writers import write_table
from raretrace.ledger.compliance import check_lots
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import JP_CHAIN, US_CHAIN, ScriptedChain, two_reference_chains
from raretrace.render.jsonable import as_object
from raretrace.store.db import make_engine
from tests.chain_fixtures import new_registry


def second_url(db_url: str, tmp_path: Path) -> str:
    """Another empty database on the same back end as ``db_url``."""
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'destination.db'}"
    base = db_url.split("?", 1)[0]
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return f"{base}?options=-csearch_path%3D{schema}"


@pytest.fixture
def source(db_url: str) -> Registry:
    chain = ScriptedChain(new_registry(db_url))
    two_reference_chains(chain)
    return chain.registry


def _verdicts(registry: Registry) -> list[dict[str, Any]]:
    lots = all_lot_ids(registry)
    out = []
    for day, end_use in ((date(2026, 6, 1), None), (date(2027, 1, 2), "military")):
        out += [as_object(v) for v in check_lots(registry, lots, as_of=day, end_use=end_use)]
    return out


def _lots(registry: Registry) -> dict[str, Any]:
    """Each lot's declaration, custody, origin vectors (by mass and value) and inputs: what an export
    shows. Log positions differ between registries (their facility registrations differ)."""
    kept = {}
    for record in lot_records(registry):
        lot = {k: v for k, v in record["lot"].items() if k not in ("produced_seq", "created_time")}
        inputs = [{k: v for k, v in i.items() if k != "event_index"} for i in record["inputs"]]
        kept[record["id"]] = (lot, record["origin_by_value"], inputs)
    return kept


@pytest.mark.parametrize("carrier", ["csv", "xlsx", "epcis"])
def test_round_trip_keeps_origins_and_verdicts(
    source: Registry, db_url: str, tmp_path: Path, carrier: str
) -> None:
    facilities = tmp_path / "facilities.csv"
    assert write_table(facilities, "csv", FACILITY_COLUMNS, facility_records(source)) == 7
    if carrier == "epcis":
        events = tmp_path / "events.jsonld"
        assert export_epcis(source, events) == 17
    else:
        events = tmp_path / "events.csv"
        write_table(events, "csv", event_columns(source), event_records(source))
        if carrier == "xlsx":
            events = _as_workbook(events)
    destination = Registry.init(make_engine(second_url(db_url, tmp_path)), "destination.example/log")
    assert import_file(destination, facilities).events == 7
    result = import_file(destination, events)  # signed rows: no key needed
    assert (result.events, result.skipped) == (17, [])
    assert sorted(all_lot_ids(destination)) == sorted(all_lot_ids(source)) and len(all_lot_ids(source)) == 8
    assert _lots(destination) == _lots(source)
    assert _verdicts(destination) == _verdicts(source)
    outcomes = {v["outcome"] for v in _verdicts(source)}
    assert {"pass", "fail"} <= outcomes  # the comparison covers verdicts that differ from each other


def _as_workbook(path: Path) -> Path:
    """The CSV as a workbook a person would have made: numbers in number cells, empty cells empty."""
    import csv

    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "events"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows)
        numeric = [
            h.startswith(("mass", "units", "declared_value")) or h.endswith("(fraction)") for h in header
        ]
        sheet.append(header)
        for row in rows:
            sheet.append(
                [(float(v) if number else v) if v else None for v, number in zip(row, numeric, strict=True)]
            )
    out = path.with_suffix(".xlsx")
    workbook.save(out)
    return out


def test_lots_export_in_every_table_format(source: Registry, tmp_path: Path) -> None:
    import json

    import pyarrow.parquet as pq

    assert write_table(tmp_path / "lots.csv", "csv", LOT_COLUMNS, lot_records(source)) == 8
    assert (
        write_table(tmp_path / "lots.json", "json", LOT_COLUMNS, lot_records(source), meta={"export": "lots"})
        == 8
    )
    assert write_table(tmp_path / "lots.parquet", "parquet", LOT_COLUMNS, lot_records(source)) == 8
    table = pq.read_table(tmp_path / "lots.parquet").to_pylist()
    document = json.loads((tmp_path / "lots.json").read_text())
    by_id = {r["id"]: r for r in table}
    for item in document["items"]:
        row = by_id[item["id"]]
        assert row["mass_kg"] == item["lot"]["mass_kg"]
        assert json.loads(row["origin"]) == item["lot"]["origin"]
    assert document["export"] == "lots"
    magnet = by_id[JP_CHAIN.magnet]
    assert json.loads(magnet["origin"])["Nd"]["location"]["separation"] == {"CN": 1.0}


def test_certificates_traces_and_verdicts_export(source: Registry, tmp_path: Path) -> None:
    import csv
    import json

    import pyarrow.parquet as pq

    from raretrace.interchange.export import (
        CERTIFICATE_COLUMNS,
        TRACE_DOWN_COLUMNS,
        TRACE_UP_COLUMNS,
        VERDICT_COLUMNS,
        certificate_records,
        trace_records,
        verdict_records,
    )
    from raretrace.ledger.certificates import issue, revoke

    issued = issue(source, lots=[US_CHAIN.magnet]).to_dict()
    credential_id = issued["credential"]["id"]
    revoke(source, credential_id, "test revocation")
    assert (
        write_table(tmp_path / "c.parquet", "parquet", CERTIFICATE_COLUMNS, certificate_records(source)) == 1
    )
    (row,) = pq.read_table(tmp_path / "c.parquet").to_pylist()
    assert row["id"] == credential_id and row["revocation_reason"] == "test revocation"
    assert json.loads(row["credential"])["proof"] == issued["credential"]["proof"]

    magnet = [JP_CHAIN.magnet]
    write_table(tmp_path / "up.csv", "csv", TRACE_UP_COLUMNS, trace_records(source, magnet, up=True))
    with (tmp_path / "up.csv").open(newline="") as handle:
        (source_row,) = list(csv.DictReader(handle))
    assert (source_row["source"], float(source_row["share"])) == (JP_CHAIN.concentrate, 1.0)
    down = list(trace_records(source, [JP_CHAIN.concentrate], up=False))
    assert [(r["reached"], r["end_item"]) for r in down] == sorted(  # listed by lot id
        [(JP_CHAIN.magnet, True), (JP_CHAIN.metal, False), (JP_CHAIN.oxide, False)]
    )
    # the records hold the typed trace: the CLI makes JSON of them before writing, as here
    assert write_table(tmp_path / "down.json", "json", TRACE_DOWN_COLUMNS, map(as_object, down)) == 3

    day = date(2027, 1, 2)
    write_table(
        tmp_path / "v.json",
        "json",
        VERDICT_COLUMNS,
        map(as_object, verdict_records(source, magnet, as_of=day)),
    )
    items = json.loads((tmp_path / "v.json").read_text())["items"]
    expected = [as_object(v) for v in check_lots(source, magnet, as_of=day)]
    assert [i["findings"] for i in items] == [v["findings"] for v in expected]
    dfars = next(i for i in items if i["regime"] == "us-dfars-252.225-7052")
    assert dfars["outcome"] == "fail" and dfars["subject"] == magnet[0]
