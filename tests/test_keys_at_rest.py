"""A database that stores the registry's signing key is created readable by its owner only (0600),
and so are the WAL and shared-memory files SQLite keeps beside it; one that keeps only the public key
is left to the umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain
from raretrace.store.db import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> object:
    old = os.umask(0o022)  # the usual umask, which would make a new file 0644
    yield None
    os.umask(old)


def test_a_key_bearing_database_is_owner_only(tmp_path: Path) -> None:
    db = tmp_path / "registry.db"
    registry = Registry.init(make_engine(f"sqlite:///{db}"), "test.example/log")
    chain = ScriptedChain(registry)
    chain.add_facility("US-MINE", country="US", stages=["mining"])  # writes through the WAL
    files = [p for p in tmp_path.iterdir() if p.name.startswith("registry.db")]
    assert db in files and len(files) >= 2, files  # the database and at least its WAL
    for path in files:
        assert _mode(path) == 0o600, (path, oct(_mode(path)))


def test_an_existing_empty_file_is_restricted_too(tmp_path: Path) -> None:
    db = tmp_path / "made-before.db"
    db.touch(mode=0o644)
    Registry.init(make_engine(f"sqlite:///{db}"), "test.example/log")
    assert _mode(db) == 0o600


def test_a_database_without_the_private_key_keeps_the_umask(tmp_path: Path) -> None:
    db = tmp_path / "public-only.db"
    Registry.init(
        make_engine(f"sqlite:///{db}"), "t.example/log", signer=Ed25519Signer.generate(), key_outside=True
    )
    assert _mode(db) == 0o644


def test_the_cli_init_creates_it_owner_only(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from raretrace.cli.main import app

    db = tmp_path / "cli.db"
    result = CliRunner().invoke(app, ["--db", str(db), "init", "--origin", "cli.example/log"])
    assert result.exit_code == 0, result.output
    assert _mode(db) == 0o600
