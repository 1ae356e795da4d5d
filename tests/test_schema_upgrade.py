"""A registry made by an older raretrace is refused until `raretrace upgrade` brings its schema up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

import raretrace.store.db as db
from raretrace.errors import StoreError
from raretrace.ledger.registry import Registry
from raretrace.store.db import SCHEMA_REVISION, make_engine, schema_revision
from tests.test_cli import ORIGIN, Cli


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(db.__file__).parent / "migrations"))
    return config


def _downgrade(url: str, revision: str) -> None:
    config = _config()
    with db.write_transaction(make_engine(url)) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_the_code_expects_the_newest_migration() -> None:
    assert ScriptDirectory.from_config(_config()).get_current_head() == SCHEMA_REVISION


@pytest.fixture
def cli(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], db_url: str) -> Cli:
    return Cli(tmp_path, capsysbinary, db_url)


def test_an_old_schema_is_refused_until_upgraded(cli: Cli) -> None:
    code, _, err = cli("init", "--origin", ORIGIN, db=True)
    assert code == 0, err
    _downgrade(cli.db, "0008")
    engine = make_engine(cli.db)
    added = {"ix_transfers_seq", "ix_transfers_sender", "ix_transfers_receiver"}
    assert not added & {ix["name"] for ix in inspect(engine).get_indexes("transfers")}

    needs = rf"revision 0008; this raretrace needs {SCHEMA_REVISION}.*raretrace --db … upgrade"
    with pytest.raises(StoreError, match=needs):
        Registry(engine)
    code, _, err = cli("log", "checkpoint")
    assert code == 7 and "upgrade" in err

    code, out, err = cli("upgrade", "--json")
    assert code == 0, err
    assert json.loads(out) == {"from": "0008", "to": SCHEMA_REVISION, "changed": True}
    assert added <= {ix["name"] for ix in inspect(engine).get_indexes("transfers")}
    assert "ix_lots_producer" in {ix["name"] for ix in inspect(engine).get_indexes("lots")}
    assert Registry(engine).origin == ORIGIN
    code, out, _ = cli("upgrade")
    assert code == 0 and b"already at revision" in out
    code, out, _ = cli("log", "audit")
    assert code == 0 and b"audit passed" in out


def test_the_certificates_of_a_lot_survive_the_upgrade_that_indexes_them(db_url: str) -> None:
    """Migration 0011 copies the lots of certificates issued before it into the table it adds; the
    lot page lists the same certificates before and after, and a lot named by none lists none."""
    from raretrace.ledger.certificates import issue
    from raretrace.server.queries import certificates_of_lot
    from tests.test_compliance import JP_MAGNET, US_MAGNET, two_chains

    registry = two_chains(db_url).registry
    both = issue(registry, lots=[JP_MAGNET, US_MAGNET]).to_dict()["credential"]["id"]
    only_us = issue(registry, lots=[US_MAGNET]).to_dict()["credential"]["id"]
    with registry.engine.connect() as conn:
        before = {lot: certificates_of_lot(conn, lot) for lot in (JP_MAGNET, US_MAGNET, "urn:x:none")}
    assert [c["id"] for c in before[US_MAGNET]] == [both, only_us]
    assert [c["id"] for c in before[JP_MAGNET]] == [both] and before["urn:x:none"] == []

    _downgrade(db_url, "0010")
    assert "certificate_lots" not in inspect(registry.engine).get_table_names()
    db.migrate(registry.engine)
    with registry.engine.connect() as conn:
        assert {lot: certificates_of_lot(conn, lot) for lot in before} == before


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = make_engine(url)
    Registry.init(engine, ORIGIN)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
        assert schema_revision(conn) == "9999"
    with pytest.raises(StoreError, match="newer than this raretrace knows"):
        Registry(engine)


def test_upgrade_needs_a_registry(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("--db", str(tmp_path / "missing.db"), "upgrade", db=False)
    assert code == 7 and "no registry at" in err
