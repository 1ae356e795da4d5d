"""`raretrace trust-registry` with a bad trusted-keys file: a non-zero exit, a message naming what is wrong,
and every table of the registry exactly as it was (the file is checked in full before anything is written)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.multikey import did_key
from raretrace.ledger.certificates import trusted_keys
from raretrace.ledger.registry import Registry
from raretrace.log.cosignature import witness_key_text
from raretrace.log.note import verifier_key_text
from raretrace.store import schema as t
from raretrace.store.db import make_engine
from tests.test_cli import Cli

EXPORTER = "exporter.raretrace.example/log"
IMPORTER = "importer.raretrace.example/log"


def every_row(registry: Registry) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a fixed order: 'the database exactly as it was' means equal."""
    with registry.engine.connect() as conn:
        return {
            name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
            for name, table in t.metadata.tables.items()
        }


@pytest.fixture
def members(
    tmp_path: Path, db_url: str, capsysbinary: pytest.CaptureFixture[bytes]
) -> tuple[Cli, Registry, dict[str, Any]]:
    """The importing registry (on each back end), its CLI, and the exporter's genuine trusted-keys file."""
    exporter = Registry.init(make_engine(f"sqlite:///{tmp_path / 'exporter.db'}"), EXPORTER)
    keys = trusted_keys(exporter)
    keys["witnesses"] = [
        witness_key_text("w1.consortium.example/witness", Ed25519Signer.generate().public_key)
    ]
    exporter.engine.dispose()
    importer = Registry.init(make_engine(db_url), IMPORTER)
    return Cli(tmp_path, capsysbinary, db_url), importer, keys


def _issuer(keys: dict[str, Any]) -> dict[str, Any]:
    issuer: dict[str, Any] = keys["issuers"][0]
    return issuer


def _other_log_key(keys: dict[str, Any]) -> None:
    _issuer(keys)["logKey"] = verifier_key_text("elsewhere.example/log", Ed25519Signer.generate().public_key)


def _flipped_key_hash(keys: dict[str, Any]) -> None:
    name, key_hash, key = _issuer(keys)["logKey"].split("+", 2)
    _issuer(keys)["logKey"] = f"{name}+{int(key_hash, 16) ^ 1:08x}+{key}"


def _second_issuer_bad(keys: dict[str, Any]) -> None:
    # The first issuer is good: a file is taken whole or not at all.
    keys["issuers"].append({**_issuer(keys), "id": "did:key:z6MkNOTAKEY", "log": "b.example/log"})


Edit = Callable[[dict[str, Any]], object]

BAD_FILES: list[tuple[str, Edit | str, str]] = [
    ("malformed JSON", '{"issuers": [{"id": "did:key:z6Mk', r"trusted_keys: .* is not JSON"),
    ("a list, not an object", "[]", r"trusted_keys: a trusted-keys file is an object with a list 'issuers'"),
    ("key 'issuer' for 'issuers'", lambda k: k.update(issuer=k.pop("issuers")), r"with a list 'issuers'"),
    ("no issuer", lambda k: k.update(issuers=[]), r"issuers: the file names no issuer"),
    ("missing logKey", lambda k: _issuer(k).pop("logKey"), r"issuers\[0\]: needs id, log and logKey strings"),
    ("missing log", lambda k: _issuer(k).pop("log"), r"issuers\[0\]: needs id, log and logKey strings"),
    ("logKey a number", lambda k: _issuer(k).update(logKey=1), r"issuers\[0\]: needs id, log and logKey"),
    (
        "logKey not a key",
        lambda k: _issuer(k).update(logKey="AAAA"),
        r"issuers\[0\]\.logKey: not a log verifier",
    ),
    (
        "logKey of another log",
        _other_log_key,
        r"issuers\[0\]\.logKey: is the key of log 'elsewhere.example/log'",
    ),
    ("logKey hash altered", _flipped_key_hash, r"issuers\[0\]\.logKey: .*does not match name"),
    (
        "issuer not a did:key",
        lambda k: _issuer(k).update(id="https://x.example"),
        r"issuers\[0\]\.id: .*not a did:key",
    ),
    ("issuer did:key not a key", lambda k: _issuer(k).update(id="did:key:z6MkX"), r"issuers\[0\]\.id: "),
    ("second issuer bad", _second_issuer_bad, r"issuers\[1\]\.id: "),
    ("witness not a key", lambda k: k.update(witnesses=["w1+nothex+AAAA"]), r"witnesses\[0\]: not a witness"),
    ("witnesses not a list", lambda k: k.update(witnesses="w1"), r"witnesses: must be a list"),
]


@pytest.mark.parametrize(("edit", "message"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_refused_and_nothing_is_written(
    members: tuple[Cli, Registry, dict[str, Any]], tmp_path: Path, edit: Edit | str, message: str
) -> None:
    cli, registry, keys = members
    if isinstance(edit, str):
        text = edit
    else:
        edit(keys)
        text = json.dumps(keys)
    path = tmp_path / "bad-trusted.json"
    path.write_text(text)
    before = every_row(registry)
    code, out, err = cli("trust-registry", "--trusted-keys", str(path), "--witness-threshold", "1")
    assert code == 2, err
    assert out == b""
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(message, err), err
    assert every_row(registry) == before


def test_a_bad_file_leaves_the_trust_already_given(
    members: tuple[Cli, Registry, dict[str, Any]], tmp_path: Path
) -> None:
    """Trusting a good file writes (so the row comparison above can see a write); a bad file after it
    neither adds, replaces nor removes anything, the witness threshold included."""
    cli, registry, keys = members
    good = tmp_path / "trusted.json"
    good.write_text(json.dumps(keys))
    empty = every_row(registry)
    code, _, err = cli("trust-registry", "--trusted-keys", str(good), "--witness-threshold", "1")
    assert code == 0, err
    trusted = every_row(registry)
    assert trusted != empty
    assert [row[0] for row in trusted["trusted_registries"]] == [_issuer(keys)["id"]]
    _other_log_key(keys)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(keys))
    code, _, err = cli("trust-registry", "--trusted-keys", str(bad), "--witness-threshold", "2")
    assert code == 2 and "is the key of log" in err
    assert every_row(registry) == trusted


def test_a_missing_file_and_a_negative_threshold(
    members: tuple[Cli, Registry, dict[str, Any]], tmp_path: Path
) -> None:
    cli, registry, keys = members
    good = tmp_path / "trusted.json"
    good.write_text(json.dumps(keys))
    before = every_row(registry)
    code, _, err = cli("trust-registry", "--trusted-keys", str(tmp_path / "absent.json"))
    assert code != 0 and "absent.json" in err
    code, _, err = cli("trust-registry", "--trusted-keys", str(good), "--witness-threshold", "-1")
    assert code == 2 and "witness-threshold" in err
    assert every_row(registry) == before


def test_the_issuer_is_a_did_key_of_a_real_key() -> None:
    """The did:key check uses the key parser, not a prefix test alone."""
    from raretrace.certify.verify import TrustedKeys
    from raretrace.errors import ValidationError

    key = Ed25519Signer.generate().public_key
    log_key = verifier_key_text("a.example/log", key)
    good = {"issuers": [{"id": did_key(key), "log": "a.example/log", "logKey": log_key}]}
    assert list(TrustedKeys.from_dict(good).issuers) == [did_key(key)]
    truncated = {"issuers": [{**good["issuers"][0], "id": did_key(key)[:-4]}]}
    with pytest.raises(ValidationError, match=r"issuers\[0\]\.id"):
        TrustedKeys.from_dict(truncated)
