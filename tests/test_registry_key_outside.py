"""A registry whose private key stays in a file: the database keeps only the public key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from raretrace.crypto.keys import Ed25519Signer, load_signer, write_key_pair
from raretrace.errors import StoreError, ValidationError
from raretrace.ledger.registry import REGISTRY_KEY_ENV, Registry
from raretrace.log.checkpoint import open_checkpoint
from raretrace.store import schema as t
from raretrace.store.db import make_engine
from tests.test_cli import ORIGIN, Cli


@pytest.fixture
def cli(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes], db_url: str) -> Cli:
    return Cli(tmp_path, capsysbinary, db_url)


def _key(tmp_path: Path, name: str = "registry.key") -> Path:
    path = tmp_path / name
    write_key_pair(Ed25519Signer.generate(), path)
    return path


def _counts(db: str) -> tuple[int, int]:
    with make_engine(db).connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(t.facilities)).scalar_one(),
            conn.execute(select(func.count()).select_from(t.checkpoints)).scalar_one(),
        )


def test_init_with_a_key_file_keeps_only_the_public_key(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REGISTRY_KEY_ENV, raising=False)
    key = _key(tmp_path)
    code, _, err = cli("--registry-key", str(key), "init", "--origin", ORIGIN, db=True)
    assert code == 0, err
    with make_engine(cli.db).connect() as conn:
        seed, public = conn.execute(select(t.registry_keys.c.seed, t.registry_keys.c.public_key)).one()
    assert seed is None and public == load_signer(key).public_key

    # reading needs no key: the checkpoint opens with the key file's public key
    code, note, _ = cli("log", "checkpoint")
    assert code == 0
    assert open_checkpoint(note.decode(), ORIGIN, load_signer(key).public_key).size == 0

    # writing without the key: exit 7, the field named, nothing written
    before = _counts(cli.db)
    facility = ("facility", "add", "--id", "US-MINE", "--name", "Mine", "--operator", "Op")
    rest = ("--country", "us", "--stage", "mining", "--key", str(_key(tmp_path, "mine.key")) + ".pub")
    code, _, err = cli(*facility, *rest)
    assert code == 7 and "registry_key" in err and "kept outside the database" in err
    assert _counts(cli.db) == before

    # with another key: refused, nothing written
    code, _, err = cli("--registry-key", str(_key(tmp_path, "other.key")), *facility, *rest)
    assert code == 2 and "is not this registry's key" in err
    assert _counts(cli.db) == before

    # with the right key, from the option or the environment
    code, _, err = cli("--registry-key", str(key), *facility, *rest)
    assert code == 0, err
    monkeypatch.setenv(REGISTRY_KEY_ENV, str(key))
    other = str(_key(tmp_path, "sep.key")) + ".pub"
    code, _, err = cli(*facility[:3], "EU-SEP", *facility[4:], *rest[:3], "separation", "--key", other)
    assert code == 0, err
    assert _counts(cli.db) == (before[0] + 2, before[1] + 2)
    code, out, _ = cli("log", "audit")
    assert code == 0 and b"audit passed" in out


def test_library_checks_the_key_against_the_database(tmp_path: Path, db_url: str) -> None:
    signer = Ed25519Signer.generate()
    registry = Registry.init(make_engine(db_url), ORIGIN, signer=signer, key_outside=True)
    assert not registry.key_in_database and registry.public_key.raw == signer.public_key
    with pytest.raises(ValidationError, match="not this registry's key"):
        Registry(make_engine(db_url), signer=Ed25519Signer.generate())
    assert Registry(make_engine(db_url), signer=signer).signer is signer
    with pytest.raises(ValidationError, match="must be given"):
        Registry.init(make_engine(f"sqlite:///{tmp_path / 'x.db'}"), ORIGIN, key_outside=True)


def test_a_key_in_the_database_is_the_default(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REGISTRY_KEY_ENV, raising=False)
    registry = Registry.init(make_engine(db_url), ORIGIN)
    assert registry.key_in_database
    assert Registry(make_engine(db_url)).signer.public_key == registry.public_key.raw


def test_a_registry_without_its_key_reads_but_cannot_sign(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(REGISTRY_KEY_ENV, raising=False)
    signer = Ed25519Signer.generate()
    Registry.init(make_engine(db_url), ORIGIN, signer=signer, key_outside=True)
    registry = Registry(make_engine(db_url))
    assert registry.origin == ORIGIN and registry.public_key.raw == signer.public_key
    with pytest.raises(StoreError, match="RARETRACE_REGISTRY_KEY"):
        registry.signer  # noqa: B018


def test_countersign_adds_the_secretariat_signature(
    cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event signed by a since-revoked key goes in once the secretariat countersigns it."""
    monkeypatch.delenv(REGISTRY_KEY_ENV, raising=False)
    registry_key, mine_key = _key(tmp_path), _key(tmp_path, "mine.key")
    assert cli("--registry-key", str(registry_key), "init", "--origin", ORIGIN)[0] == 0
    facility = ("facility", "add", "--id", "US-MINE", "--name", "Mine", "--operator", "Op", "--country", "us")
    code, _, err = cli(
        "--registry-key", str(registry_key), *facility, "--stage", "mining", "--key", f"{mine_key}.pub",
        "--valid-from", "2020-01-01T00:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    key_id = load_signer(mine_key).key_id
    revoke = {
        "kind": "revoke_key",
        "event_id": "urn:raretrace:event:US-MINE:rv",
        "time": "2026-07-01T00:00:00Z",
        "facility": "US-MINE",
        "key_id": key_id,
        "revoked_at": "2026-06-01T00:00:00Z",
        "reason": "stolen",
    }
    ore = {
        "id": "urn:raretrace:lot:US-MINE:ore-1",
        "form": "ore",
        "mass_kg": 1000,
        "composition": {"Nd": 0.008},
    }
    extract = {
        "kind": "extract",
        "event_id": "urn:raretrace:event:US-MINE:x1",
        "time": "2026-02-01T00:00:00Z",
        "facility": "US-MINE",
        "deposit": "Mountain Pass",
        "outputs": [ore],
    }
    for name, event in (("revoke", revoke), ("extract", extract)):
        (tmp_path / f"{name}.json").write_text(json.dumps(event))
        code, out, err = cli("sign", str(tmp_path / f"{name}.json"), "--key", str(mine_key), db=False)
        assert code == 0, err
        (tmp_path / f"{name}.dsse.jsonl").write_bytes(out)
    signing = ("--registry-key", str(registry_key))  # every append signs a checkpoint
    assert cli(*signing, "record", str(tmp_path / "revoke.dsse.jsonl"))[0] == 0
    code, _, err = cli(*signing, "record", str(tmp_path / "extract.dsse.jsonl"))
    assert code == 3 and "needs the secretariat's countersignature" in err

    code, _, err = cli("countersign", str(tmp_path / "extract.dsse.jsonl"), "--registry")
    assert code == 7 and "kept outside the database" in err  # no key given: nothing signed
    code, out, err = cli(*signing, "countersign", str(tmp_path / "extract.dsse.jsonl"), "--registry")
    assert code == 0, err
    envelope = json.loads(out)
    assert [s["keyid"] for s in envelope["signatures"]][1] == load_signer(registry_key).key_id
    (tmp_path / "countersigned.jsonl").write_bytes(out)
    code, _, err = cli(*signing, "record", str(tmp_path / "countersigned.jsonl"))
    assert code == 0, err
