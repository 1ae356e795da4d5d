"""Running raretrace as a service: --version, the exit-code table, errors as JSON, /healthz and /readyz,
and ``serve --config`` (TOML, every flag, environment over file, flags over both)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

import raretrace.errors as errors
from raretrace.cli.main import main
from raretrace.crypto.keys import Ed25519Signer
from raretrace.ledger.registry import Registry
from raretrace.server import health
from raretrace.server.app import create_app
from raretrace.server.config import read_config
from raretrace.server.settings import Settings
from raretrace.store.db import make_engine
from tests.test_server_support import free_port

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "raretrace", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_version_is_the_packages() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout == f"raretrace {declared}\n"


def _error_classes() -> list[type[errors.RaretraceError]]:
    found, todo = [], [errors.RaretraceError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_every_exit_code_is_in_the_table_the_help_and_the_docs() -> None:
    codes = {cls.exit_code for cls in _error_classes()}
    assert codes <= set(errors.EXIT_CODES)
    for cls in _error_classes():
        if cls is not errors.RaretraceError and cls.__module__ == "raretrace.errors":
            assert cls.__name__ in errors.EXIT_CODES[cls.exit_code], cls
    shown = " ".join(_cli("--help", env={"COLUMNS": "400"}).stdout.split())
    docs = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for code, meaning in errors.EXIT_CODES.items():
        assert f"{code:>3} {meaning}".strip() in shown, code
        assert f"| {code} | {meaning} |" in docs, code


def test_an_error_under_json_is_one_json_object(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    Registry.init(make_engine(f"sqlite:///{db}"), "ops.raretrace.example/log")
    done = _cli("--db", str(db), "lot", "show", "urn:raretrace:lot:none", "--json")
    assert done.returncode == errors.NotFoundError.exit_code == 5
    answer = json.loads(done.stdout)  # nothing else on stdout
    assert answer["error"]["kind"] == "NotFoundError" and answer["error"]["exit_code"] == 5
    assert "urn:raretrace:lot:none" in answer["error"]["message"]
    assert "error:" in done.stderr  # and the person at the terminal reads it too


# --- /healthz and /readyz ----------------------------------------------------------------------------


def _client(registry: Registry) -> TestClient:
    return TestClient(create_app(Settings(dev=True), registry=registry), raise_server_exceptions=False)


def test_alive_and_ready(tmp_path: Path) -> None:
    client = _client(Registry.init(make_engine(f"sqlite:///{tmp_path / 'r.db'}"), "ops.example/log"))
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert {name: check["ok"] for name, check in ready.json()["checks"].items()} == {
        "database": True,
        "schema": True,
        "key": True,
    }


def test_not_ready_says_which_check_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    signer = Ed25519Signer.generate()
    url = f"sqlite:///{tmp_path / 'r.db'}"
    Registry.init(make_engine(url), "ops.example/log", signer=signer, key_outside=True)
    monkeypatch.delenv("RARETRACE_REGISTRY_KEY", raising=False)
    registry = Registry(make_engine(url))  # its key is in a file nobody gave
    client = _client(registry)
    answer = client.get("/readyz")
    assert answer.status_code == 503
    checks = answer.json()["checks"]
    assert checks["key"]["ok"] is False and "--registry-key" in checks["key"]["reason"]
    assert checks["database"]["ok"] and checks["schema"]["ok"]
    monkeypatch.setattr(health, "SCHEMA_REVISION", "9999")  # code newer than the database
    checks = client.get("/readyz").json()["checks"]
    assert checks["schema"]["ok"] is False and "raretrace upgrade" in checks["schema"]["reason"]
    registry.engine = create_engine(f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none")
    answer = client.get("/readyz")
    assert answer.status_code == 503 and answer.json()["checks"]["database"]["ok"] is False
    assert client.get("/healthz").status_code == 200  # alive all along: restarting would not help


# --- serve --config ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("port = 8000\nthreads = 4\n", "threads", "unknown setting"),
        ('port = "8000"\n', "port", "must be int"),
        ("port = true\n", "port", "must be int"),
        ("workers = 0\n", "workers", "from 1 to 64"),
        ("dev = 1\n", "dev", "must be bool"),
        ("port = \n", "config", "not TOML"),
    ],
)
def test_a_bad_config_is_refused_naming_the_setting(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    path = tmp_path / "serve.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(errors.ValidationError, match=reason) as caught:
        read_config(path)
    assert caught.value.field == field
    done = _cli("serve", "--config", str(path))
    assert done.returncode == 2 and reason in done.stderr


def _serve_options(monkeypatch: pytest.MonkeyPatch, *argv: str) -> dict[str, Any]:
    import raretrace.cli.serve as cli_serve

    seen: dict[str, Any] = {}

    def fake_run(db: str | None, **kwargs: Any) -> None:
        seen.update(kwargs, db=db, registry_key=os.environ.get("RARETRACE_REGISTRY_KEY"))

    monkeypatch.setattr(cli_serve, "run_server", fake_run)
    monkeypatch.setattr(sys, "argv", ["raretrace", *argv])
    with pytest.raises(SystemExit) as done:  # typer's standalone mode ends with exit 0
        main()
    assert done.value.code == 0
    return seen


def test_flags_win_over_the_environment_which_wins_over_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("RARETRACE_DB", "RARETRACE_HOST", "RARETRACE_PORT", "RARETRACE_WORKERS", "RARETRACE_DEV"):
        monkeypatch.delenv(name, raising=False)
    # serve sets $RARETRACE_REGISTRY_KEY for its workers: set-then-delete makes monkeypatch restore it
    monkeypatch.setenv("RARETRACE_REGISTRY_KEY", "unset-after-the-test")
    monkeypatch.delenv("RARETRACE_REGISTRY_KEY")
    config = tmp_path / "serve.toml"
    config.write_text(
        'db = "from-file.db"\nhost = "0.0.0.0"\nport = 9001\nworkers = 3\ndev = true\n'
        'registry_key = "/keys/registry.pem"\n',
        encoding="utf-8",
    )
    from_file = _serve_options(monkeypatch, "serve", "--config", str(config))
    assert from_file == {
        "db": "from-file.db",
        "host": "0.0.0.0",
        "port": 9001,
        "workers": 3,
        "dev": True,
        "registry_key": "/keys/registry.pem",
        # not settable in the file (yet): the flags' defaults
        "rates": (500.0, 1000.0),
        "signature_workers": 0,
        "rate_store": None,
    }
    monkeypatch.setenv("RARETRACE_PORT", "9002")
    monkeypatch.setenv("RARETRACE_DB", "from-env.db")
    by_env = _serve_options(monkeypatch, "serve", "--config", str(config))
    assert (by_env["port"], by_env["db"], by_env["workers"]) == (9002, "from-env.db", 3)
    by_flag = _serve_options(monkeypatch, "serve", "--config", str(config), "--port", "9003", "--db", "x.db")
    assert (by_flag["port"], by_flag["db"]) == (9003, "x.db")
    defaults = _serve_options(monkeypatch, "serve")
    assert (defaults["host"], defaults["port"], defaults["workers"], defaults["dev"]) == (
        "127.0.0.1",
        9002,  # still from the environment
        1,
        False,
    )


def test_serve_from_a_config_file_answers_its_health_checks(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    Registry.init(make_engine(f"sqlite:///{db}"), "ops.raretrace.example/log")
    port = free_port()
    config = tmp_path / "serve.toml"
    config.write_text(f'db = "{db}"\nport = {port}\ndev = true\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RARETRACE_")}
    server = subprocess.Popen(
        [sys.executable, "-m", "raretrace", "serve", "--config", str(config)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                alive = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert alive.json() == {"status": "alive"}
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json()["status"] == "ready"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_shell_completion_installs_and_completes(tmp_path: Path) -> None:
    done = _cli("--install-completion", "bash", env={"HOME": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    script = tmp_path / ".bash_completions" / "raretrace.sh"
    assert "complete -o default -F _raretrace_completion raretrace" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()
    # what the installed function asks the program when the user types `raretrace lo<TAB>`
    answer = _cli(
        env={"COMP_WORDS": "raretrace lo", "COMP_CWORD": "1", "_RARETRACE_COMPLETE": "complete_bash"}
    )
    assert answer.stdout.split() == ["lot", "log"]
