"""The container deployment: compose.yaml is checked for what it promises (the server on PostgreSQL, a
witness, health checks, data on volumes), the scripts the containers run are run here against a real
PostgreSQL (the registry served and ready, the witness cosigning a note that verifies), and the image is
built only where a Docker daemon answers (skipped with the reason otherwise)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy.engine import make_url

from raretrace.log.checkpoint import open_checkpoint
from raretrace.server.config import read_config
from tests.test_server_support import free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_compose_runs_the_server_on_postgresql_with_a_witness(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"db", "registry", "witness"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["registry"]["build"] == "." and (ROOT / "Dockerfile").is_file()
    for name in ("registry", "witness"):
        url = services[name]["environment"]["RARETRACE_DB" if name == "registry" else "RARETRACE_LOG_DB"]
        parsed = make_url(url.replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}", "pw"))
        assert (parsed.get_backend_name(), parsed.host, parsed.database) == ("postgresql", "db", "registry")
        entry = services[name]["entrypoint"][0]
        assert entry.startswith("/app/deploy/") and os.access(DEPLOY / Path(entry).name, os.X_OK)
    assert "/readyz" in " ".join(services["registry"]["healthcheck"]["test"])
    assert services["registry"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["witness"]["depends_on"]["registry"]["condition"] == "service_healthy"
    assert all(
        port.startswith("127.0.0.1:") for port in services["registry"]["ports"]
    )  # not on every interface


def test_every_volume_and_dependency_is_declared(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for mount in service.get("volumes", []):
            source = mount.split(":", 1)[0]
            assert source in declared, (name, source)
        assert set(service.get("depends_on", {})) <= set(compose["services"]), name


def _raretrace_commands(text: str) -> list[list[str]]:
    """The sub-command words of each ``raretrace …`` invocation in a shell script."""
    found = []
    for line in text.splitlines():
        code = line.split("#", 1)[0]
        for match in re.finditer(r"(?<![\w./$-])raretrace\s+([a-z][a-z -]*)", code):
            words = [w for w in match[1].split() if not w.startswith("-")]
            found.append(words[:2])
    return found


def test_every_raretrace_command_the_deployment_runs_exists() -> None:
    commands = [c for script in DEPLOY.glob("*.sh") for c in _raretrace_commands(script.read_text())]
    assert len(commands) >= 8
    for words in commands:
        for n in (2, 1):  # "participant add" is a group and a command; "witness" takes an argument
            done = subprocess.run(
                [sys.executable, "-m", "raretrace", *words[:n], "--help"], capture_output=True, check=False
            )
            if done.returncode == 0:
                break
        assert done.returncode == 0, (words, done.stderr)
    read_config(DEPLOY / "serve.toml")  # every setting known and well typed


# --- the containers' scripts, run here ----------------------------------------------------------------


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> dict[str, Any]:
    deadline = time.monotonic() + 300  # eight raretrace runs, then the server: slow on a loaded machine
    while True:
        try:
            answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=3)
            if answer.status_code == 200:
                return dict(answer.json())
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
        assert time.monotonic() < deadline, "the registry did not become ready"
        time.sleep(0.3)


@pytest.fixture
def script_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RARETRACE_", "WITNESS_"))}
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "raretrace").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m raretrace "$@"\n')
    (shim / "raretrace").chmod(0o755)
    env["PATH"] = f"{shim}:{env['PATH']}"
    return env


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_the_registry_and_witness_scripts_serve_and_cosign(
    db_url: str, tmp_path: Path, script_env: dict[str, str]
) -> None:
    port = free_port()
    shared = tmp_path / "shared"
    env = script_env | {
        "RARETRACE_DB": db_url,
        "RARETRACE_ORIGIN": "registry.compose-test.example/log",
        "RARETRACE_DATA": str(tmp_path / "registry-data"),
        "RARETRACE_SHARED": str(shared),
        "RARETRACE_SERVE_CONFIG": str(DEPLOY / "serve.toml"),
        "RARETRACE_HOST": "127.0.0.1",
        "RARETRACE_PORT": str(port),
        "RARETRACE_WORKERS": "1",
    }
    server = subprocess.Popen(
        ["sh", str(DEPLOY / "registry.sh")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        ready = _wait_ready(port, server)
        assert all(check["ok"] for check in ready["checks"].values())
        token = (tmp_path / "registry-data" / "secretariat-token.json").read_text()
        assert '"token": "rt_' in token
        witness_env = script_env | {
            "RARETRACE_LOG_DB": db_url,
            "RARETRACE_DATA": str(tmp_path / "witness-data"),
            "RARETRACE_SHARED": str(shared),
            "WITNESS_ORIGIN": "witness.compose-test.example/w",
            "WITNESS_ONCE": "1",
        }
        done = subprocess.run(
            ["sh", str(DEPLOY / "witness.sh")], env=witness_env, capture_output=True, timeout=120, check=False
        )
        assert done.returncode == 0, done.stderr.decode()
        (note,) = (tmp_path / "witness-data" / "witnessed").glob("2*.txt")
        text = note.read_text(encoding="utf-8")
        log_key = (shared / "log.vkey").read_text().strip()
        assert open_checkpoint(text, log_key).origin == "registry.compose-test.example/log"
        assert "— witness.compose-test.example/w " in text  # cosigned by the witness
    finally:
        server.terminate()
        server.wait(timeout=30)
