"""One way to do each thing (#18): one time rule, one JSON-file reader, one checked field reader — and
the same answer from every door that uses them.

The time rule is RFC 3339 section 5.6: ``date-time = full-date "T" full-time`` with ``full-time =
partial-time time-offset``, so the offset is part of the grammar; a day is ``full-date`` (YYYY-MM-DD).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import pytest

import raretrace.io
from raretrace.cli.main import main
from raretrace.custody.events import parse_event
from raretrace.errors import NotFoundError, ValidationError
from raretrace.fields import Fields, table_of
from raretrace.io import (
    package_json_folder,
    read_json_file,
    read_json_items,
    read_package_json,
    read_package_table,
)
from raretrace.ledger.consortium import create
from raretrace.model import Composition
from raretrace.rules.fields import RegimeFields
from raretrace.times import format_time, parse_date, parse_instant, parse_time

NAIVE = "2026-03-01T12:00:00"
OFFSET_MESSAGE = "has no UTC offset"


# --- the time rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T12:00:00Z", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01t12:00:00z", datetime(2026, 3, 1, 12, tzinfo=UTC)),  # RFC 3339 5.6: case-insensitive
        ("2026-03-01 12:00:00+00:00", datetime(2026, 3, 1, 12, tzinfo=UTC)),  # the RFC's note allows a space
        ("2026-03-01T13:30:00+01:30", datetime(2026, 3, 1, 12, tzinfo=UTC)),
        ("2026-03-01T07:00:00.5-05:00", datetime(2026, 3, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2026-03-01T12:00:00.123456789Z", datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_an_instant_with_an_offset_is_read_as_the_same_moment_in_utc(text: str, expected: datetime) -> None:
    assert parse_instant(text, "t") == expected
    assert parse_time(text, "t") == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize("reader", [parse_instant, parse_time])
def test_a_time_without_an_offset_is_refused_never_guessed(reader: object) -> None:
    assert callable(reader)
    with pytest.raises(ValidationError, match=OFFSET_MESSAGE) as info:
        reader(NAIVE, "when")
    assert info.value.field == "when"
    with pytest.raises(ValidationError, match=OFFSET_MESSAGE):
        reader(datetime(2026, 3, 1, 12), "when")  # a TOML or pydantic datetime without a zone: the same rule


@pytest.mark.parametrize(
    "text",
    [
        "20260301T120000Z",  # ISO 8601 basic format: not RFC 3339
        "2026-W09-7T12:00:00Z",  # ISO week date
        "2026-03-01T12:00Z",  # seconds are required by RFC 3339
        "2026-03-01T12:00:00+0100",  # the offset needs its colon
        "2026-02-30T12:00:00Z",  # no such day
        "2026-03-01",  # a day is not an instant
        "yesterday",
    ],
)
def test_what_is_not_rfc_3339_is_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="not an RFC 3339 timestamp"):
        parse_instant(text, "t")


def test_normalized_text_sorts_like_the_moments() -> None:
    moments = [datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=h))) for h in (-5, 0, 9)]
    texts = [parse_time(m.isoformat(), "t") for m in moments]
    assert sorted(texts) == [format_time(m) for m in sorted(moments)]


def test_a_day_is_yyyy_mm_dd() -> None:
    assert parse_date("2026-03-01", "d") == date(2026, 3, 1)
    assert parse_date(date(2026, 3, 1), "d") == date(2026, 3, 1)  # a TOML date
    for bad in ("2026-3-1", "20260301", "2026-03-01T00:00:00Z", "2026-02-30", 20260301):
        with pytest.raises(ValidationError, match="is not a date") as info:
            parse_date(bad, "as_of")
        assert info.value.field == "as_of"


# --- every entry point applies it ------------------------------------------------------------------------

EXTRACT = {
    "kind": "extract",
    "event_id": "e1",
    "time": NAIVE,
    "facility": "US-MINE",
    "deposit": "Mountain Pass",
    "outputs": [{"id": "urn:raretrace:lot:o1", "form": "ore", "mass_kg": 1, "composition": {"Nd": 0.01}}],
}


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    old = sys.argv
    sys.argv = ["raretrace", *args]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = old
    return code, capsys.readouterr().err


def test_event_files_refuse_a_naive_time_in_every_time_field() -> None:
    with pytest.raises(ValidationError, match=OFFSET_MESSAGE) as info:
        parse_event(EXTRACT)
    assert info.value.field == "time"
    revoke = {"kind": "revoke_key", "event_id": "r", "time": "2026-03-01T12:00:00Z", "facility": "F"}
    with pytest.raises(ValidationError, match=OFFSET_MESSAGE) as info:
        parse_event({**revoke, "key_id": "k", "reason": "lost", "revoked_at": NAIVE})
    assert info.value.field == "revoked_at"


def test_cli_options_refuse_a_naive_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cert = tmp_path / "cert.json"
    cert.write_text("{}")
    for args in (
        ["verify", str(cert), "--at", NAIVE],
        ["import-event", str(cert), "--facility", "F", "--time", NAIVE],
    ):
        code, err = _cli(args, capsys)
        assert code == 2 and OFFSET_MESSAGE in err, (args, err)


def test_cli_sign_refuses_an_event_file_with_a_naive_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "k.key"
    assert _cli(["keygen", "--out", str(key)], capsys)[0] == 0
    event = tmp_path / "e.json"
    event.write_text(json.dumps(EXTRACT))
    code, err = _cli(["sign", str(event), "--key", str(key)], capsys)
    assert code == 2 and OFFSET_MESSAGE in err and "time" in err


def test_the_api_refuses_a_naive_time(tmp_path: Path) -> None:
    from tests.test_server_support import server_world

    world = server_world(f"sqlite:///{tmp_path / 'registry.db'}")
    try:
        response = world.client.post("/api/v1/verify", json={"certificate": {}, "at": NAIVE})
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["field"] == "at" and OFFSET_MESSAGE in body["detail"]
        schema = world.client.get("/openapi.json").json()["components"]["schemas"]["VerifyRequest"]
        assert schema["properties"]["at"]["anyOf"][0]["format"] == "date-time"
    finally:
        world.client.close()


def test_imported_rows_and_consortium_files_refuse_a_naive_time() -> None:
    from raretrace.crypto.keys import Ed25519Signer
    from raretrace.interchange.facility_rows import _per_key  # the key periods of an imported facility

    with pytest.raises(ValidationError, match=OFFSET_MESSAGE) as info:
        _per_key(NAIVE, 1, "key_valid_from")
    assert info.value.field == "key_valid_from"
    with pytest.raises(ValidationError, match=OFFSET_MESSAGE) as info:
        create("club", [Ed25519Signer.generate().public_key], 1, NAIVE, 0)
    assert info.value.field == "signed.expires"


# --- one JSON-file reader --------------------------------------------------------------------------------


def test_one_error_for_a_file_that_is_not_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  "b": }\n')
    with pytest.raises(ValidationError) as info:
        read_json_file(bad, "certificate")
    assert info.value.field == "certificate"
    assert info.value.message.startswith(f"{bad} is not JSON: line 3 column 8: Expecting value")
    with pytest.raises(NotFoundError, match=f"cannot read {tmp_path / 'missing.json'}"):
        read_json_file(tmp_path / "missing.json", "certificate")
    (tmp_path / "latin1.json").write_bytes(b'{"a": "\xe9"}')
    with pytest.raises(ValidationError, match="is not JSON: not UTF-8 text"):
        read_json_file(tmp_path / "latin1.json")
    (tmp_path / "empty.json").write_text("  \n")
    with pytest.raises(ValidationError, match="is not JSON: the file is empty"):
        read_json_file(tmp_path / "empty.json")


def test_json_lines_name_the_line_of_the_file(tmp_path: Path) -> None:
    lines = tmp_path / "events.jsonl"
    lines.write_text('\n{"a": 1}\n{"b": 2}\n{"c": \n')
    with pytest.raises(ValidationError, match=r"is not JSON: line 4 column 6: Expecting value"):
        list(read_json_items(lines))


def test_every_command_that_reads_a_json_file_gives_the_same_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    key = tmp_path / "k.key"
    assert _cli(["keygen", "--out", str(key)], capsys)[0] == 0
    expected = f"{bad} is not JSON: line 1 column 2: Expecting property name"
    commands = [
        ["sign", str(bad), "--key", str(key)],
        ["verify", str(bad)],
        ["present", str(bad), "--hide", "exporter"],
        ["render", str(bad), "--html", str(tmp_path / "x.html")],
        ["import-event", str(bad), "--facility", "F"],
        ["reconcile", str(bad), str(bad)],
        ["consortium", "verify", str(bad)],
        ["scenario", "run", str(bad)],
        ["fingerprint", "check", str(tmp_path / "assay.csv"), "--form", "ore", "--library", str(bad)],
    ]
    rey = ["La", "Ce", "Pr", "Nd", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Y"]
    (tmp_path / "assay.csv").write_text(
        "sample," + ",".join(f"{e}_ppm" for e in rey) + "\ns1," + ",".join("10" for _ in rey) + "\n"
    )
    for args in commands:
        code, err = _cli(args, capsys)
        assert code == 2 and expected in err, (args, code, err)


# --- one checked field reader ----------------------------------------------------------------------------


def test_fields_name_the_whole_path_and_reject_typos() -> None:
    top = Fields({"outputs": [{"mass_kg": "heavy"}], "typo": 1, "when": NAIVE}, "event")
    (first,) = top.tables("outputs")
    with pytest.raises(ValidationError) as info:
        first.number("mass_kg", high=1e12)
    assert info.value.field == "event.outputs[0].mass_kg"
    with pytest.raises(ValidationError, match=OFFSET_MESSAGE) as info:
        top.time("when")
    assert info.value.field == "event.when"
    with pytest.raises(ValidationError, match="is not a field this table has") as info:
        top.done()
    assert info.value.field == "event.typo"
    file = Fields({}, "regime.toml:")
    with pytest.raises(ValidationError, match="is required") as info:
        file.text("id")
    assert info.value.field == "regime.toml: id"


def test_only_regime_files_resolve_parameters() -> None:
    data = {"share": "$cap", "note": "$5 a kilo"}
    assert RegimeFields(data, "r", {"cap": 0.5}).number("share") == 0.5
    with pytest.raises(ValidationError, match="which the regime does not define"):
        RegimeFields(data, "r", {"cap": 0.5}).text("note")
    assert Fields(data, "r").text("note") == "$5 a kilo"  # an event or consortium file: plain text


# --- the package's own JSON data -------------------------------------------------------------------------


def test_package_json_is_read_as_the_standard_library_reads_it() -> None:
    shipped = resources.files("raretrace").joinpath("data/prices.json").read_text(encoding="utf-8")
    assert read_package_json("data/prices.json") == json.loads(shipped)
    scenarios = package_json_folder("data/scenarios")
    folder = resources.files("raretrace").joinpath("data/scenarios")
    names = sorted(f.name.removesuffix(".json") for f in folder.iterdir() if f.name.endswith(".json"))
    assert list(scenarios) == names and names
    assert all(isinstance(doc, dict) and doc.get("name") for doc in scenarios.values())


def test_a_broken_package_file_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "prices.json").write_text('{\n  "prices": [1,\n}\n')
    (tmp_path / "data" / "list.json").write_text("[1, 2]")
    monkeypatch.setattr(raretrace.io.resources, "files", lambda package: tmp_path)
    with pytest.raises(ValidationError) as info:
        read_package_json("data/prices.json")
    assert info.value.message.startswith("raretrace/data/prices.json is not JSON: line 3 column 1:")
    assert info.value.field == "data/prices.json"
    with pytest.raises(NotFoundError, match="cannot read raretrace/data/gone.json") as missing:
        read_package_json("data/gone.json")
    assert missing.value.field == "data/gone.json"
    with pytest.raises(ValidationError, match="must be a JSON object") as shape:
        read_package_table("data/list.json")
    assert shape.value.field == "raretrace/data/list.json"


def test_the_shape_check_every_reader_starts_with_names_where() -> None:
    assert table_of({"a": 1}, "event") == {"a": 1}
    with pytest.raises(ValidationError, match="an event must be a JSON object") as info:
        parse_event(["not", "an", "event"])
    assert info.value.field == "event"
    with pytest.raises(ValidationError, match="must be an object of component") as info:
        Composition.from_dict([0.5], "outputs[0].composition")
    assert info.value.field == "outputs[0].composition"
    with pytest.raises(ValidationError, match="must be a table") as info:
        table_of("text", "")
    assert info.value.field == "document"
