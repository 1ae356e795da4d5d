"""The three-member consortium of compose.consortium.yaml, checked as tests/test_deploy.py checks
compose.yaml (Docker is not needed: the file is parsed and its promises checked): each member has its
own PostgreSQL, a registry server and a witness; the board signs the membership file once every
member's registry is healthy; the witnesses start after it; every raretrace command the scripts run
exists, and the board's script runs. (``docker compose config`` on this file, where Docker exists, is
the one check of tests/test_deploy.py to extend to it: Docker is absent here.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests.test_deploy import _raretrace_commands

ROOT = Path(__file__).resolve().parents[1]
FILE = ROOT / "compose.consortium.yaml"
SCRIPTS = [ROOT / "deploy" / f"consortium-{name}.sh" for name in ("member", "board", "witness")]
PASSWORD = "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _members(compose: dict[str, Any]) -> list[str]:
    return [name.removeprefix("registry-") for name in compose["services"] if name.startswith("registry-")]


def test_three_members_each_with_its_own_database_registry_and_witness(compose: dict[str, Any]) -> None:
    services = compose["services"]
    members = _members(compose)
    assert len(members) == 3
    assert set(services) == {"board"} | {
        f"{kind}-{m}" for m in members for kind in ("db", "registry", "witness")
    }
    databases = set()
    for m in members:
        db, registry, witness = services[f"db-{m}"], services[f"registry-{m}"], services[f"witness-{m}"]
        assert db["image"].startswith("postgres:") and "pg_isready" in db["healthcheck"]["test"]
        url = make_url(registry["environment"]["RARETRACE_DB"].replace(PASSWORD, "pw"))
        assert (url.get_backend_name(), url.host) == ("postgresql", f"db-{m}")
        databases.add((url.host, url.database))
        assert witness["environment"]["RARETRACE_DB"] == registry["environment"]["RARETRACE_DB"]
        assert registry["environment"]["MEMBER_ID"] == m
        assert registry["environment"]["RARETRACE_ORIGIN"] == f"registry.{m}.example/log"
        assert registry["depends_on"][f"db-{m}"]["condition"] == "service_healthy"
        assert "/readyz" in " ".join(registry["healthcheck"]["test"])
        # the witness signs with the member's registry key, on the member's data volume
        data = {v.split(":")[0] for v in registry["volumes"] if v.endswith(":/data")}
        assert data == {v.split(":")[0] for v in witness["volumes"] if v.endswith(":/data")} == {f"{m}-data"}
        assert witness["depends_on"]["board"]["condition"] == "service_completed_successfully"
        assert (
            "consortium:/consortium" in registry["volumes"] and "consortium:/consortium" in witness["volumes"]
        )
    assert len(databases) == 3  # separate servers, no shared database
    ports = [p for m in members for p in services[f"registry-{m}"]["ports"]]
    assert all(p.startswith("127.0.0.1:") for p in ports) and len({p.split(":")[1] for p in ports}) == 3
    assert sum("build" in services[f"registry-{m}"] for m in members) == 1  # one image, built once


def test_the_board_signs_in_every_member_once_all_are_healthy(compose: dict[str, Any]) -> None:
    board = compose["services"]["board"]
    members = _members(compose)
    assert [m.split(":")[0] for m in board["environment"]["MEMBERS"].split()] == members
    assert all(board["depends_on"][f"registry-{m}"]["condition"] == "service_healthy" for m in members)
    assert 1 <= int(board["environment"]["WITNESS_QUORUM"]) <= len(members) - 1  # others cosign a log
    script = (ROOT / "deploy" / "consortium-board.sh").read_text(encoding="utf-8")
    assert "http://registry-$id:8000" in script  # the endpoints are the registries' service names


def test_every_volume_dependency_and_script_is_there(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            assert mount.split(":", 1)[0] in declared, (name, mount)
        assert set(service.get("depends_on", {})) <= set(compose["services"]), name
        entry = service.get("entrypoint", [""])[0]
        if entry.startswith("/app/deploy/"):
            script = ROOT / "deploy" / Path(entry).name
            assert script in SCRIPTS and os.access(script, os.X_OK), entry
    for script in SCRIPTS:
        assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0, script


def test_every_raretrace_command_the_consortium_scripts_run_exists() -> None:
    commands = [c for script in SCRIPTS for c in _raretrace_commands(script.read_text(encoding="utf-8"))]
    assert ["consortium", "add-member"] in commands and ["witness", "run"] in commands
    for words in commands:
        done = subprocess.run(
            [sys.executable, "-m", "raretrace", *words, "--help"], capture_output=True, check=False
        )
        assert done.returncode == 0, (words, done.stderr)


def test_the_board_script_signs_a_chain_that_verifies(tmp_path: Path) -> None:
    """The board's script, run here on three SQLite registries' published keys (as the member script
    writes them), makes a membership chain that ``raretrace consortium verify`` accepts, and a second
    start changes nothing."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "RARETRACE_DATA": str(tmp_path / "board")}
    env |= {"CONSORTIUM_DIR": str(tmp_path / "shared"), "MEMBERS": "jp:JP us:US au:AU", "WITNESS_QUORUM": "2"}
    (tmp_path / "shared" / "members").mkdir(parents=True)
    rt = [sys.executable, "-m", "raretrace"]
    for m in ("jp", "us", "au"):
        db = ["--db", f"sqlite:///{tmp_path / m}.db"]
        subprocess.run([*rt, *db, "init", "--origin", f"registry.{m}.example/log"], check=True, env=env)
        keys = subprocess.run(
            [*rt, *db, "consortium", "member-keys", "--json"], check=True, env=env, capture_output=True
        )
        (tmp_path / "shared" / "members" / f"{m}.json").write_bytes(keys.stdout)
    bin_dir = tmp_path / "bin"  # `raretrace` on PATH is this source tree
    bin_dir.mkdir()
    (bin_dir / "raretrace").write_text(f'#!/bin/sh\nexec {sys.executable} -m raretrace "$@"\n')
    (bin_dir / "raretrace").chmod(0o755)
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    board = ROOT / "deploy" / "consortium-board.sh"
    done = subprocess.run(["sh", str(board)], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    files = tmp_path / "shared" / "consortium"
    assert sorted(p.name for p in files.glob("*.json")) == ["1.json", "2.json", "3.json", "4.json"]
    assert (files / "ready").exists()
    verify = subprocess.run(
        [*rt, "consortium", "verify", *[str(files / f"{n}.json") for n in range(1, 5)], "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr
    assert subprocess.run(["sh", str(board)], env=env, check=False).returncode == 0  # already made
    assert len(list(files.glob("*.json"))) == 4
