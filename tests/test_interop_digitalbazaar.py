"""Interoperability: a raretrace certificate verifies with the Digital Bazaar stack (npm), offline.

Our own verifier agreeing with our own signer proves little about the bytes: a canonicalization or
proof-options mistake made on both sides would pass. So an issued certificate is handed, as the file
``raretrace certify --out`` writes, to ``tests/interop/verify.mjs`` — jsonld-signatures with
``@digitalbazaar/data-integrity`` and ``@digitalbazaar/eddsa-jcs-2022-cryptosuite``, the issuer's
did:key resolved by ``@digitalbazaar/did-method-key`` — which must accept it and refuse it tampered.

Needs node and ``npm ci --prefix tests/interop`` (``.ci/run`` does it). Without them the tests skip
with the reason, except under CI=true, where they fail: CI must run them.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from raretrace.cli.common import json_text
from raretrace.crypto.dataintegrity import add_proof, verify_proof
from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.multikey import did_key, did_key_verification_method
from raretrace.ledger.certificates import revoke, status_list
from tests.shared_files import UNDER_CI
from tests.test_certificates import NOW, check, issued  # noqa: F401 -- issued is a fixture

INTEROP = Path(__file__).parent / "interop"
SCRIPT = INTEROP / "verify.mjs"
#: One package the script imports, to tell "npm ci was not run" from a broken install.
INSTALLED = INTEROP / "node_modules" / "@digitalbazaar" / "eddsa-jcs-2022-cryptosuite"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the signed bytes do not depend on the back end (tests/test_certificates.py issues
    on both), and each case here starts node."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


@pytest.fixture
def node() -> str:
    """The node executable, checked before a certificate is issued for nothing."""
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "node is not installed: the Digital Bazaar verifier (tests/interop) cannot run"
    elif not INSTALLED.is_dir():
        reason = "the Digital Bazaar packages are not installed: run npm ci --prefix tests/interop"
    if reason is not None:
        if UNDER_CI:
            pytest.fail(reason + " (CI=true: the interoperability tests must run)")
        pytest.skip(reason)
    assert node is not None
    return node


def digitalbazaar(
    node: str, document: dict[str, Any], tmp_path: Path, *, statuses: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What verify.mjs says of ``document``, written as the CLI writes files; with ``statuses`` (a status
    list credential) it also runs @digitalbazaar/vc's credential checks at the time ``check`` uses."""
    path = tmp_path / "to-verify.json"
    path.write_text(json_text(document), encoding="utf-8")
    args = [node, str(SCRIPT), str(path)]
    if statuses is not None:
        listed = tmp_path / "status-list.json"
        listed.write_text(json_text(statuses), encoding="utf-8")
        args += ["--status-list", str(listed), "--now", (NOW + timedelta(days=1)).isoformat()]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["verified"] is (done.returncode == 0), result
    # Besides the status list, the stack asked only for the issuer's did:key: no JSON-LD context at all
    # (the loader would serve the VC and DID ones, and refuse the UNTP one, which no npm package holds).
    listed_id = None if statuses is None else statuses["id"]
    assert all(url.startswith("did:key:") or url == listed_id for url in result["loaded"]), result
    return result


def _change_value(presentation: dict[str, Any]) -> None:
    subject = presentation["credential"]["credentialSubject"]
    subject["shipment"]["hsCode"] = subject["shipment"]["hsCode"] + "0"


def _change_digest(presentation: dict[str, Any]) -> None:
    digests = presentation["credential"]["credentialSubject"]["_sd"]
    first = digests[0]
    digests[0] = first[:-1] + ("A" if first[-1] != "A" else "B")


def _unchanged(presentation: dict[str, Any]) -> None:
    """The control: the same path, nothing changed, must verify (else a refusal proves nothing)."""


CASES: list[tuple[str, Callable[[dict[str, Any]], None], bool]] = [
    ("as issued", _unchanged, True),
    ("one value changed", _change_value, False),
    ("one disclosure digest changed", _change_digest, False),
]


@pytest.mark.parametrize(("what", "change", "verifies"), CASES, ids=[c[0] for c in CASES])
def test_the_digital_bazaar_stack_judges_the_certificate_as_we_do(
    node: str,
    issued: Any,  # noqa: F811
    tmp_path: Path,
    what: str,
    change: Callable[[dict[str, Any]], None],
    verifies: bool,
) -> None:
    registry, presentation, trusted = issued
    presented = copy.deepcopy(presentation)
    change(presented)
    statuses = status_list(registry, now=NOW)
    ours, step, _ = check(presented, trusted, status_list=statuses)
    assert ours is verifies and (verifies or step == "credential proof"), what
    theirs = digitalbazaar(node, presented, tmp_path, statuses=statuses)
    assert theirs["verified"] is verifies, theirs
    assert theirs["proof"]["verified"] is verifies and theirs["credential"]["verified"] is verifies
    if verifies:
        assert theirs["error"] is None and theirs["credential"]["revoked"] is False
    else:
        assert "Invalid signature" in theirs["proof"]["error"], theirs
    # The proof alone (no status list): the layer a verifier without the list runs.
    alone = digitalbazaar(node, presented, tmp_path)
    assert alone["verified"] is verifies and alone["credential"] is None, alone


def test_a_revoked_certificate_is_refused_by_the_digital_bazaar_stack(
    node: str,
    issued: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    """Its proof still verifies; @digitalbazaar/vc-bitstring-status-list reads the bit we set."""
    registry, presentation, trusted = issued
    revoke(registry, presentation["credential"]["credentialSubject"]["certificateNumber"], "diverted")
    statuses = status_list(registry, now=NOW)
    assert check(presentation, trusted, status_list=statuses)[1] == "revocation"
    theirs = digitalbazaar(node, presentation, tmp_path, statuses=statuses)
    assert not theirs["verified"] and theirs["proof"]["verified"], theirs
    assert theirs["credential"]["verified"] and theirs["credential"]["revoked"], theirs
    assert "revoked" in theirs["error"]


#: What JCS implementations get wrong most often: numbers (shortest round trip, exponents, integral
#: floats, -0, the largest exact integer), escapes and non-ASCII text, and key order by UTF-16 code
#: units, which differs from code-point order past U+FFFF (U+1F600 sorts before U+E000 in UTF-16).
AWKWARD: dict[str, Any] = {
    "numbers": [0.1, 0.30000000000000004, 1e21, 1e-7, 5e-324, 1.7976931348623157e308, -0.0, 1.0, 2**53 - 1],
    "strings": ["\u2028\u2029", "é", "\U0001f600", "\u0001\u001f\b\f\n\r\t", '"\\/', "</script>"],
    "keys": {"\ue000": 1, "\U0001f600": 2, "a": 3, "B": 4, "é": 5, "10": 6, "9": 7},
}


def test_awkward_json_signs_bytes_the_digital_bazaar_stack_agrees_on(node: str, tmp_path: Path) -> None:
    """Our JCS (with its fast path) and the npm ``canonicalize`` the cryptosuite uses hash the same bytes
    for the values where implementations differ; a certificate holds only some of them today."""
    signer = Ed25519Signer.generate()
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": did_key(signer.public_key),
        "credentialSubject": AWKWARD,
    }
    method = did_key_verification_method(signer.public_key)
    signed = add_proof(document, signer, verification_method=method, created="2026-12-07T04:00:00Z")
    assert verify_proof(signed)
    assert digitalbazaar(node, signed, tmp_path)["verified"] is True
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["numbers"][0] = 0.1000000000000001
    assert digitalbazaar(node, tampered, tmp_path)["verified"] is False
