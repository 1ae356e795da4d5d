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
from pathlib import Path
from typing import Any

import pytest

from raretrace.cli.common import json_text
from raretrace.ledger.certificates import status_list
from tests.shared_files import UNDER_CI
from tests.test_certificates import check, issued  # noqa: F401 -- issued is a fixture

INTEROP = Path(__file__).parent / "interop"
SCRIPT = INTEROP / "verify.mjs"
#: One package the script imports, to tell "npm ci was not run" from a broken install.
INSTALLED = INTEROP / "node_modules" / "@digitalbazaar" / "eddsa-jcs-2022-cryptosuite"


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """SQLite only: the signed bytes do not depend on the back end (tests/test_certificates.py issues
    on both), and each case here starts node."""
    return f"sqlite:///{tmp_path / 'registry.db'}"


def _node() -> str:
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


def digitalbazaar(document: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """What verify.mjs says of ``document``, written as the CLI writes files."""
    path = tmp_path / "to-verify.json"
    path.write_text(json_text(document), encoding="utf-8")
    done = subprocess.run(
        [_node(), str(SCRIPT), str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    assert result["verified"] is (done.returncode == 0), result
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
    issued: Any, tmp_path: Path, what: str, change: Callable[[dict[str, Any]], None], verifies: bool
) -> None:
    _, presentation, trusted = issued
    presented = copy.deepcopy(presentation)
    change(presented)
    ours, step, _ = check(presented, trusted)
    assert ours is verifies and (verifies or step == "credential proof"), what
    theirs = digitalbazaar(presented, tmp_path)
    assert theirs["verified"] is verifies, theirs
    if verifies:
        assert theirs["error"] is None
    else:
        assert "Invalid signature" in theirs["error"], theirs


def test_the_status_list_verifies_with_the_digital_bazaar_stack(issued: Any, tmp_path: Path) -> None:
    """The revocation list is signed the same way; a verifier checking status must accept it too."""
    registry, _, _ = issued
    result = digitalbazaar(status_list(registry), tmp_path)
    assert result["verified"] is True and result["error"] is None, result
