"""The small things a newcomer tripped over: each error says what to do for the case at hand, and each
account of what a command did is accurate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from raretrace.certify.disclosure import parse_disclosure
from raretrace.crypto.keys import Ed25519Signer, write_key_pair
from raretrace.custody.namespaces import namespaced
from raretrace.ledger.certificates import issue
from raretrace.ledger.scripted import US_CHAIN, ScriptedChain, lot, two_reference_chains
from tests.chain_fixtures import ORE_LOT, mine_and_separator, new_registry, snapshot


def _cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RARETRACE_")}
    return subprocess.run(
        [sys.executable, "-m", "raretrace", *args],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=env | {"COLUMNS": "200"},
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ScriptedChain]:
    folder = tmp_path_factory.mktemp("small")
    chain = ScriptedChain(new_registry(f"sqlite:///{folder / 'r.db'}"))
    two_reference_chains(chain)
    return folder, chain


def test_verify_without_keys_or_registry_advises_on_verifying_a_file(
    world: tuple[Path, ScriptedChain], tmp_path: Path
) -> None:
    _, chain = world
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(issue(chain.registry, lots=[US_CHAIN.magnet]).to_dict()))
    done = _cli(tmp_path, "--db", str(tmp_path / "none.db"), "verify", str(cert))
    assert done.returncode == 2
    assert "--trusted-keys" in done.stderr and "raretrace trusted-keys" in done.stderr
    assert "init" not in done.stderr  # not advice to create a registry
    assert not (tmp_path / "none.db").exists()


def test_recording_an_unsigned_event_suggests_signing_it(
    world: tuple[Path, ScriptedChain], tmp_path: Path
) -> None:
    folder, chain = world
    before = snapshot(chain.registry)
    event = {"kind": "extract", "event_id": "ev-x", "time": "2026-01-05T08:00:00Z", "facility": "CN-MINE"}
    (tmp_path / "event.json").write_text(json.dumps(event))
    done = _cli(tmp_path, "--db", str(folder / "r.db"), "record", str(tmp_path / "event.json"))
    assert done.returncode == 2 and "raretrace sign" in done.stderr and "unsigned event" in done.stderr
    assert snapshot(chain.registry) == before


def test_a_registry_key_is_refused_when_the_database_holds_the_key(
    world: tuple[Path, ScriptedChain], tmp_path: Path
) -> None:
    folder, chain = world
    key, _ = write_key_pair(Ed25519Signer.generate(), tmp_path / "other.pem")
    before = snapshot(chain.registry)
    done = _cli(tmp_path, "--db", str(folder / "r.db"), "--registry-key", str(key), "log", "checkpoint")
    assert done.returncode == 2 and "registry_key" in done.stderr and "in its database" in done.stderr
    assert done.stdout == ""  # refused, not ignored
    assert snapshot(chain.registry) == before


@pytest.mark.parametrize(("hide", "forced"), [(["exporter", "mass"], True), (["events"], False)])
def test_present_reports_what_it_hid(
    world: tuple[Path, ScriptedChain], tmp_path: Path, hide: list[str], forced: bool
) -> None:
    _, chain = world
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(issue(chain.registry, lots=[US_CHAIN.magnet]).to_dict()))
    args = [a for h in hide for a in ("--hide", h)]
    done = _cli(tmp_path, "present", str(cert), *args, "--out", str(tmp_path / "out.json"))
    assert done.returncode == 0, done.stderr
    before = json.loads(cert.read_text())["disclosures"]
    after = json.loads((tmp_path / "out.json").read_text())["disclosures"]
    gone = [parse_disclosure(d)[0] for d in before if d not in after]
    assert f"{len(gone)} of {len(before)} disclosed value(s) withheld" in done.stderr
    assert ("envelope" in gone) and (("event envelopes" in done.stderr) is forced)
    assert done.stderr.startswith("hid " + ", ".join(hide))


def test_trace_down_says_how_many_end_items_it_lists_of_how_many(tmp_path: Path) -> None:
    chain = mine_and_separator(f"sqlite:///{tmp_path / 'r.db'}")
    concentrate = namespaced("lot", "US-MINE", "conc-")
    outputs = [lot(f"{concentrate}{i}", "concentrate", 100.0, {"Nd": 0.02}) for i in range(3)]
    chain.record(
        "US-MINE",
        "process",
        stage="beneficiation",
        inputs=[{"lot": ORE_LOT, "mass_kg": 1000.0}],
        outputs=outputs,
    )
    db = str(tmp_path / "r.db")
    some = _cli(tmp_path, "--db", db, "trace", ORE_LOT, "--down", "--limit", "2")
    assert some.returncode == 0, some.stderr
    assert "reached 3 lot(s)" in some.stdout and ": 3, 2 listed (--limit 0 lists every one)" in some.stdout
    assert sum(concentrate in line for line in some.stdout.splitlines()) == 2
    every = _cli(tmp_path, "--db", db, "trace", ORE_LOT, "--down", "--limit", "0")
    assert ": 3, all listed" in every.stdout
    assert sum(concentrate in line for line in every.stdout.splitlines()) == 3
