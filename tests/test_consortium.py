"""The consortium file: versions signed k-of-n, each by the previous version's signers and its own.

Signatures are checked here with ``cryptography`` over the ``rfc8785`` package's canonical bytes of
``signed`` (a second JCS implementation), not with the module's own serializer.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from raretrace.crypto.keys import Ed25519Signer, write_key_pair
from raretrace.errors import ProofError, ValidationError
from raretrace.ledger import consortium as cs
from raretrace.ledger.consortium_fetch import fetch_newer
from raretrace.log.checkpoint import Checkpoint, sign_checkpoint
from raretrace.log.cosignature import cosign, witness_key_text
from raretrace.log.note import verifier_key_text
from tests.test_cli import Cli
from tests.test_log_publish import static_server

NOW = "2026-12-06T12:00:00Z"
EXPIRES = "2027-12-31T00:00:00Z"


def signers(n: int) -> list[Ed25519Signer]:
    return [Ed25519Signer.generate() for _ in range(n)]


def signed_by(version: cs.Consortium, keys: list[Ed25519Signer]) -> dict[str, Any]:
    doc = cs.document(version)
    for key in keys:
        doc = cs.sign(doc, key)
    return doc


def member(mid: str, country: str, log: Ed25519Signer, witness: Ed25519Signer) -> dict[str, Any]:
    origin = f"registry.{mid}.example/log"
    return {
        "id": mid,
        "name": f"{mid} registry",
        "country": country,
        "roles": ["registry", "witness"],
        "status": "active",
        "origin": origin,
        "endpoint": f"http://127.0.0.1/{mid}",
        "log_keys": [{"key": verifier_key_text(origin, log.public_key), "since": "2026-01-01T00:00:00Z"}],
        "witness_key": witness_key_text(f"witness.{mid}.example", witness.public_key),
    }


@pytest.fixture
def board() -> list[Ed25519Signer]:
    return signers(3)


def test_signatures_are_ed25519_over_the_rfc8785_bytes_of_signed(board: list[Ed25519Signer]) -> None:
    doc = signed_by(cs.create("club", [k.public_key for k in board], 2, EXPIRES, 1), board[:2])
    message = rfc8785.dumps(doc["signed"])
    for sig in doc["signatures"]:
        key = next(k for k in board if hashlib.sha256(k.public_key).hexdigest() == sig["keyid"])
        Ed25519PublicKey.from_public_bytes(key.public_key).verify(base64.b64decode(sig["sig"]), message)
    assert doc["signed"]["signers"]["threshold"] == 2 and len(doc["signed"]["signers"]["keys"]) == 3


def test_a_version_needs_the_threshold(board: list[Ed25519Signer]) -> None:
    v1 = cs.create("club", [k.public_key for k in board], 2, EXPIRES, 1)
    assert cs.verify_root(signed_by(v1, board[:2])).version == 1
    with pytest.raises(ProofError, match="1 valid signature"):
        cs.verify_root(signed_by(v1, board[:1]))
    # the same key twice counts once; an outsider's key does not count
    doc = signed_by(v1, board[:1])
    doc["signatures"].append(dict(doc["signatures"][0]))
    outsider = signed_by(v1, [board[0], Ed25519Signer.generate()])
    for bad in (doc, outsider):
        with pytest.raises(ProofError, match="1 valid signature"):
            cs.verify_root(bad)


def test_membership_changes_are_versions_walked_from_the_trusted_one(board: list[Ed25519Signer]) -> None:
    keys = {m: (Ed25519Signer.generate(), Ed25519Signer.generate()) for m in ("jp", "us", "au")}
    v1 = cs.create("club", [k.public_key for k in board], 2, EXPIRES, 1)
    chain = [v1]
    for mid, country in (("jp", "JP"), ("us", "US"), ("au", "AU")):
        chain.append(cs.add_member(chain[-1], member(mid, country, *keys[mid])))
    chain.append(cs.set_status(chain[-1], "jp", "suspended"))
    new_log = Ed25519Signer.generate()
    us_key = verifier_key_text("registry.us.example/log", new_log.public_key)
    chain.append(cs.rotate_keys(chain[-1], "us", log_key=us_key, at="2026-06-15T00:00:00Z"))
    chain.append(cs.set_status(chain[-1], "au", "removed"))
    docs = [signed_by(v, [board[0], board[2]]) for v in chain]
    newest = cs.verify_chain(docs, now=NOW)
    assert newest.version == 7
    assert [(m.id, m.status) for m in newest.members] == [
        ("jp", "suspended"),
        ("us", "active"),
        ("au", "removed"),
    ]
    us = newest.member("us")
    assert us.current_log_key == us_key and len(us.log_keys) == 2
    assert us.log_keys[0].until == "2026-06-15T00:00:00.000000Z"
    assert [m.id for m in newest.active("witness")] == ["us"]
    # from a trusted version 3, versions 4.. are enough
    assert cs.verify_chain(docs[3:], cs.verify_root(docs[2]), now=NOW).version == 7
    # a removed member cannot come back; ids are never reused
    with pytest.raises(ValidationError, match="never reused"):
        cs.set_status(newest, "au", "active")
    with pytest.raises(ValidationError, match="already in the consortium"):
        cs.add_member(newest, member("us", "US", *keys["us"]))


def test_signer_rotation_needs_old_and_new_quorums(board: list[Ed25519Signer]) -> None:
    v1 = cs.create("club", [k.public_key for k in board], 2, EXPIRES, 1)
    trusted = cs.verify_root(signed_by(v1, board[:2]))
    fresh = signers(2)
    v2 = cs.set_signers(v1, [k.public_key for k in fresh], 2)
    with pytest.raises(ProofError, match="previous version's signers"):
        cs.verify_update(trusted, signed_by(v2, fresh))  # the new keys alone cannot take over
    with pytest.raises(ProofError, match="its own signers"):
        cs.verify_update(trusted, signed_by(v2, board[:2]))  # the new quorum must be live
    accepted = cs.verify_update(trusted, signed_by(v2, board[:2] + fresh))
    v3 = cs.add_member(v2, member("jp", "JP", *signers(2)))
    with pytest.raises(ProofError, match="previous version's signers"):
        cs.verify_update(accepted, signed_by(v3, board))  # the old board no longer decides
    assert cs.verify_update(accepted, signed_by(v3, fresh)).version == 3


def test_rollback_gap_tampering_expiry_and_another_consortium_are_refused(board: list[Ed25519Signer]) -> None:
    v1 = cs.create("club", [k.public_key for k in board], 2, EXPIRES, 1)
    v2 = cs.add_member(v1, member("jp", "JP", *signers(2)))
    v3 = cs.set_status(v2, "jp", "suspended")
    d1, d2, d3 = (signed_by(v, board[:2]) for v in (v1, v2, v3))
    t3 = cs.verify_chain([d1, d2, d3], now=NOW)
    with pytest.raises(ProofError, match="rollback or a gap"):
        cs.verify_update(t3, d2)
    with pytest.raises(ProofError, match="rollback or a gap"):
        cs.verify_chain([d1, d3], now=NOW)
    tampered = json.loads(json.dumps(d3))
    tampered["signed"]["members"][0]["status"] = "active"
    with pytest.raises(ProofError, match="file 3.*0 valid signature"):
        cs.verify_chain([d1, d2, tampered], now=NOW)
    with pytest.raises(ProofError, match="expired"):
        cs.verify_chain([d1, d2, d3], now="2028-01-01T00:00:00Z")
    other = signed_by(cs.create("other-club", [k.public_key for k in board], 2, EXPIRES, 1), board)
    other["signed"]["version"] = 2
    with pytest.raises((ProofError, ValidationError)):
        cs.verify_update(cs.verify_root(d1), other)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["signed"].update(colour="red"), "colour"),
        (lambda d: d["signed"]["members"][0].update(country="XX"), "country"),
        (lambda d: d["signed"]["members"][0].update(roles=["king"]), "roles"),
        (lambda d: d["signed"]["signers"].update(threshold=4), "threshold"),
        (lambda d: d["signed"]["members"].append(dict(d["signed"]["members"][0], id="copy")), "members"),
        (lambda d: d["signed"]["members"][0]["log_keys"].clear(), "log_keys"),
        (lambda d: d["signed"]["members"][0].pop("witness_key"), "witness_key"),
    ],
)
def test_bad_files_name_the_field(board: list[Ed25519Signer], change: Any, field: str) -> None:
    doc = cs.document(
        cs.add_member(
            cs.create("club", [board[0].public_key], 1, EXPIRES, 1), member("jp", "JP", *signers(2))
        )
    )
    change(doc)
    with pytest.raises(ValidationError) as e:
        cs.verify_root(doc)
    assert field in str(e.value)


def test_checkpoints_verify_across_a_log_key_rotation_and_cosigners_count(board: list[Ed25519Signer]) -> None:
    (jp_log, jp_w), (us_log, us_w) = signers(2), signers(2)
    c = cs.create("club", [board[0].public_key], 1, EXPIRES, 1)
    c = cs.add_member(c, member("jp", "JP", jp_log, jp_w))
    c = cs.add_member(c, member("us", "US", us_log, us_w))
    origin = "registry.jp.example/log"
    before = sign_checkpoint(Checkpoint(origin, 5, bytes(32)), origin, jp_log)
    new_log = Ed25519Signer.generate()
    c = cs.rotate_keys(
        c, "jp", log_key=verifier_key_text(origin, new_log.public_key), at="2026-06-01T00:00:00Z"
    )
    text = Checkpoint(origin, 9, bytes([1]) * 32).to_text()
    after = sign_checkpoint(Checkpoint.parse(text), origin, new_log)
    assert cs.open_member_checkpoint(c, before)[1].size == 5
    assert cs.open_member_checkpoint(c, after)[1].size == 9
    with pytest.raises(ProofError):
        cs.open_member_checkpoint(
            c, sign_checkpoint(Checkpoint.parse(text), origin, Ed25519Signer.generate())
        )
    us_line = cosign(text, "witness.us.example", us_w, 1_700_000_000)
    own_line = cosign(text, "witness.jp.example", jp_w, 1_700_000_000)  # a log does not witness itself
    forged = cosign(text, "witness.us.example", Ed25519Signer.generate(), 1_700_000_000)
    assert cs.cosigners(c, after + us_line + "\n" + own_line + "\n") == ["us"]
    assert cs.cosigners(c, after + forged + "\n") == []
    suspended = cs.set_status(c, "us", "suspended")
    assert cs.cosigners(suspended, after + us_line + "\n") == []


def test_fetch_verifies_each_newer_version_and_keeps_nothing_on_failure(board: list[Ed25519Signer]) -> None:
    v1 = cs.create("club", [k.public_key for k in board], 2, EXPIRES, 1)
    v2 = cs.add_member(v1, member("jp", "JP", *signers(2)))
    v3 = cs.set_status(v2, "jp", "suspended")
    served = {f"{v.version}.json": json.dumps(signed_by(v, board[:2])).encode() for v in (v1, v2, v3)}
    trusted = cs.verify_root(json.loads(served["1.json"]))
    newest, got = fetch_newer(served.get, trusted, now=NOW)
    assert newest.version == 3 and [v for v, _ in got] == [2, 3]
    served["3.json"] = json.dumps(signed_by(v3, board[:1])).encode()
    with pytest.raises(ProofError, match="3.json"):
        fetch_newer(served.get, trusted, now=NOW)


def test_cli_create_sign_change_verify_and_fetch(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    cli = Cli(tmp_path, capsysbinary, "unused")
    pubs = []
    for name in ("a", "b", "c"):
        write_key_pair(Ed25519Signer.generate(), tmp_path / f"{name}.key")
        pubs += ["--signer", str(tmp_path / f"{name}.key.pub")]
    site = tmp_path / "site"
    site.mkdir()
    one, two = site / "1.json", site / "2.json"
    assert (
        cli(
            "consortium",
            "create",
            "--name",
            "club",
            *pubs,
            "--threshold",
            "2",
            "--expires",
            EXPIRES,
            "--out",
            str(one),
            db=False,
        )[0]
        == 0
    )
    for name in ("a", "b"):
        assert cli("consortium", "sign", str(one), "--key", str(tmp_path / f"{name}.key"), db=False)[0] == 0
    jp_log, jp_w = signers(2)
    m = member("jp", "JP", jp_log, jp_w)
    code, _, err = cli(
        "consortium",
        "add-member",
        str(one),
        "--id",
        "jp",
        "--name",
        "Japan",
        "--country",
        "JP",
        "--role",
        "registry",
        "--role",
        "witness",
        "--origin",
        m["origin"],
        "--log-key",
        m["log_keys"][0]["key"],
        "--witness-key",
        m["witness_key"],
        "--endpoint",
        "http://127.0.0.1:1",
        "--out",
        str(two),
        db=False,
    )
    assert code == 0, err
    assert cli("consortium", "sign", str(two), "--key", str(tmp_path / "c.key"), db=False)[0] == 0
    code, _, err = cli("consortium", "verify", str(one), str(two), db=False)
    assert code == 6 and "1 valid signature" in err
    assert cli("consortium", "sign", str(two), "--key", str(tmp_path / "a.key"), db=False)[0] == 0
    code, out, err = cli("consortium", "verify", str(one), str(two), "--json", db=False)
    assert code == 0, err
    assert json.loads(out)["members"][0]["id"] == "jp"
    code, _, err = cli(
        "consortium",
        "add-member",
        str(one),
        "--id",
        "x",
        "--name",
        "X",
        "--country",
        "ZZ",
        "--role",
        "secretariat",
        "--out",
        str(tmp_path / "bad.json"),
        db=False,
    )
    assert code == 2 and "country" in err and not (tmp_path / "bad.json").exists()
    with static_server(site) as url:
        code, out, err = cli(
            "consortium",
            "fetch",
            "--from",
            url,
            "--trusted",
            str(one),
            "--into",
            str(tmp_path / "mine"),
            "--json",
            db=False,
        )
    assert code == 0, err
    assert json.loads(out)["version"] == 2 and (tmp_path / "mine" / "2.json").read_bytes() == two.read_bytes()
