"""The CLI contract other issues build on: exact forms, one JSON object, exit codes, no write on error."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from raretrace.cli.main import main
from raretrace.custody.namespaces import namespaced
from raretrace.log.checkpoint import open_checkpoint
from raretrace.log.merkle import leaf_hash, root_hash, verify_consistency, verify_inclusion
from raretrace.log.note import parse_verifier_key


def ore_lot(i: int) -> str:
    """The mine's ``i``-th ore lot, in its namespace (as a registry requires by default)."""
    return namespaced("lot", "US-MINE", f"ore-{i}")


ORIGIN = "cli.raretrace.example/log"


class Cli:
    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[bytes], db: str) -> None:
        self.tmp, self.capsys, self.db = tmp_path, capsys, db

    def __call__(self, *args: str, db: bool = True) -> tuple[int, bytes, str]:
        argv = ["raretrace", *(["--db", self.db] if db else []), *args]
        old = sys.argv
        sys.argv = argv
        try:
            main()
            code = 0
        except SystemExit as e:
            code = int(e.code or 0)
        finally:
            sys.argv = old
        out, err = self.capsys.readouterr()
        return code, out, err.decode()

    def json(self, *args: str) -> Any:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], db_url: str) -> Cli:
    return Cli(tmp_path, capsysbinary, db_url)


def _event(tmp: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp / name
    path.write_text(json.dumps(data))
    return path


def _setup(cli: Cli) -> None:
    tmp = cli.tmp
    assert cli.json("init", "--origin", ORIGIN)["origin"] == ORIGIN
    info = cli.json("keygen", "--out", str(tmp / "mine.key"))
    assert (tmp / "mine.key.pub").exists() and len(info["key_id"]) == 64
    code, _, err = cli(
        "facility",
        "add",
        "--id",
        "US-MINE",
        "--name",
        "Mountain Pass",
        "--operator",
        "MP Materials",
        "--country",
        "us",
        "--stage",
        "mining",
        "--key",
        str(tmp / "mine.key.pub"),
        "--valid-from",
        "2020-01-01T00:00:00Z",
    )
    assert code == 0, err
    extracts = [
        {
            "kind": "extract",
            "event_id": namespaced("event", "US-MINE", f"x{i}"),
            "time": "2026-02-01T00:00:00Z",
            "facility": "US-MINE",
            "deposit": "Mountain Pass",
            "outputs": [
                {
                    "id": ore_lot(i),
                    "form": "ore",
                    "mass_kg": 1000,
                    "composition": {"Nd": 0.008, "Pr": 0.003},
                }
            ],
        }
        for i in range(5)
    ]
    src = tmp / "extracts.jsonl"
    src.write_text("\n".join(json.dumps(e) for e in extracts) + "\n")
    code, out, err = cli("sign", str(src), "--key", str(tmp / "mine.key"), db=False)
    assert code == 0, err
    (tmp / "extracts.dsse.jsonl").write_bytes(out)
    assert cli.json("record", str(tmp / "extracts.dsse.jsonl"))["tree_size"] == 6


def test_registry_round_trip_through_the_cli(cli: Cli) -> None:
    _setup(cli)
    lot = cli.json("lot", "show", ore_lot(3))
    assert lot["lot"]["custodian"] == "US-MINE" and lot["lot"]["mass_kg"] == 1000

    code, vkey, _ = cli("log", "public-key")
    name, public = parse_verifier_key(vkey.decode().strip())
    assert name == ORIGIN
    code, note, _ = cli("log", "checkpoint")
    checkpoint = open_checkpoint(note.decode(), ORIGIN, public)
    assert checkpoint.size == 6

    code, entry, _ = cli("log", "entry", "4")
    assert code == 0 and json.loads(entry)["payloadType"] == "application/vnd.in-toto+json"
    proof = cli.json("log", "prove", "4")
    assert set(proof) == {"leaf_index", "tree_size", "leaf_hash", "proof"}
    assert base64.b64decode(proof["leaf_hash"]) == leaf_hash(entry)
    verify_inclusion(
        leaf_hash(entry), 4, 6, [base64.b64decode(h) for h in proof["proof"]], checkpoint.root_hash
    )

    leaves = [leaf_hash(cli("log", "entry", str(i))[1]) for i in range(6)]
    cons = cli.json("log", "consistency", "3", "6")
    assert set(cons) == {"size1", "size2", "proof"} and (cons["size1"], cons["size2"]) == (3, 6)
    verify_consistency(
        3, 6, [base64.b64decode(h) for h in cons["proof"]], root_hash(leaves[:3]), checkpoint.root_hash
    )
    proof3 = cli.json("log", "prove", "0", "--size", "3")
    assert proof3["tree_size"] == 3
    verify_inclusion(leaves[0], 0, 3, [base64.b64decode(h) for h in proof3["proof"]], root_hash(leaves[:3]))

    up = cli.json("trace", ore_lot(3), "--up")
    assert [(s["lot"], s["share"]) for s in up["sources"]] == [(ore_lot(3), 1.0)]
    assert cli.json("trace", ore_lot(3), "--down")["reached"] == []
    code, _, err = cli("trace", ore_lot(3))
    assert code == 1 and "exactly one of --up or --down" in err

    code, out, _ = cli("log", "audit")
    assert code == 0 and b"audit passed: 6 leaves" in out


def test_bad_record_file_exits_non_zero_and_writes_nothing(cli: Cli) -> None:
    _setup(cli)
    _, before, _ = cli("log", "checkpoint")
    bad = cli.tmp / "bad.jsonl"
    good_line = (cli.tmp / "extracts.dsse.jsonl").read_bytes().splitlines()[0]
    bad.write_bytes(good_line.replace(b'"x0"', b'"x9"') + b"\n{not json\n")
    code, _, err = cli("record", str(bad))
    assert code == 2
    assert "envelope 1" in err and "malformed JSON" in err
    _, after, _ = cli("log", "checkpoint")
    assert after == before


def test_errors_name_field_and_exit_non_zero(cli: Cli) -> None:
    code, _, err = cli("lot", "show", "urn:raretrace:lot:nothing")
    assert code != 0 and "init" in err  # no registry yet
    cli.json("init", "--origin", ORIGIN)
    code, _, err = cli("lot", "show", "urn:raretrace:lot:nothing")
    assert code == 5 and "lot urn:raretrace:lot:nothing does not exist" in err
    code, _, err = cli("log", "prove", "10")
    assert code == 2 and "must be between 1 and the tree size 0" in err
    code, _, err = cli("init", "--origin", ORIGIN)
    assert code == 2 and "already holds registry" in err


def test_db_from_environment_and_audit_failure_exit_code(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import select, update

    from raretrace.store import schema as t
    from raretrace.store.db import make_engine

    db = tmp_path / "env.db"
    monkeypatch.setenv("RARETRACE_DB", str(db))
    cli = Cli(tmp_path, capsysbinary, str(db))
    code, _, err = cli("init", "--origin", ORIGIN, db=False)
    assert code == 0, err
    assert db.exists()
    lab = [
        "facility",
        "add",
        "--id",
        "LAB",
        "--name",
        "Lab",
        "--operator",
        "LabCo",
        "--country",
        "DE",
        "--stage",
        "assay",
    ]
    lab += ["--accreditation", "ISO/IEC 17025", "--key"]
    code, _, err = cli(*lab, str(cli.tmp / "none.pub"), db=False)
    assert code == 2 and "cannot read key file" in err
    cli.json("keygen", "--out", str(tmp_path / "lab.key"))
    code, _, err = cli(*lab, str(tmp_path / "lab.key.pub"), db=False)
    assert code == 0, err
    engine = make_engine(str(db))
    with engine.begin() as conn:
        raw = bytearray(conn.execute(select(t.events.c.envelope).where(t.events.c.seq == 0)).scalar_one())
        raw[10] ^= 0x20
        conn.execute(update(t.events).where(t.events.c.seq == 0).values(envelope=bytes(raw)))
    engine.dispose()
    code, _, err = cli("log", "audit", db=False)
    assert code == 8
    assert "audit FAILED: leaf 0: stored envelope bytes do not hash to the logged leaf" in err


def test_missing_registry_file_is_not_created(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    db = tmp_path / "absent.db"
    cli = Cli(tmp_path, capsysbinary, str(db))
    code, _, err = cli("lot", "show", "urn:raretrace:lot:x")
    assert code == 7 and "no registry at" in err
    assert not db.exists()


def test_lot_show_by_value_with_a_user_price_table(cli: Cli) -> None:
    _setup(cli)
    shipped = cli.json("lot", "show", ore_lot(0))["origin_by_value"]
    assert shipped["location"]["mining"] == {"US": 1.0} and shipped["unpriced"] == []
    table = cli.tmp / "prices.json"
    table.write_text(
        json.dumps(
            {
                "prices": [
                    {"element": "Nd", "oxide_usd_per_kg": 70, "date": "2026-11", "source": "our contract"}
                ]
            }
        )
    )
    mine = cli.json("lot", "show", ore_lot(0), "--prices", str(table))["origin_by_value"]
    assert mine["unpriced"] == ["Pr"] and mine["price_table"] == str(table)
