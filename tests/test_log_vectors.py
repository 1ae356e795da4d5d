"""Public conformance vectors from ../shared/vectors (see its README): RFC 6962 proofs, a signed note.

The vectors are found through $RARETRACE_SHARED or beside the checkout. If they are missing the tests
skip with the reason, except under CI=true, where they fail: a conformance gate must not pass empty.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from raretrace.errors import ProofError, RaretraceError
from raretrace.log.merkle import verify_consistency, verify_inclusion
from raretrace.log.note import open_note, parse_signer_key, parse_verifier_key, sign_note
from tests.shared_files import UNDER_CI, find_shared

SHARED = find_shared()
RFC6962 = sorted((SHARED / "vectors" / "rfc6962").rglob("*.json")) if SHARED else []


def require_vectors() -> None:
    if RFC6962:
        return
    reason = f"no RFC 6962 vectors found (shared/ at {SHARED}; set RARETRACE_SHARED to the shared folder)"
    if UNDER_CI:
        pytest.fail(reason + " -- CI=true: the conformance vectors must run")
    pytest.skip(reason)


def test_vectors_are_present() -> None:
    """Fails under CI (skips elsewhere) when the parametrized vector tests below would be empty."""
    require_vectors()
    kinds = {p.relative_to(SHARED / "vectors" / "rfc6962").parts[0] for p in RFC6962} if SHARED else set()
    assert kinds == {"inclusion", "consistency"}
    assert len(RFC6962) > 150


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _check(case: dict[str, Any]) -> None:
    proof = [_b64(p) for p in case["proof"] or []]
    if "leafIdx" in case:
        verify_inclusion(_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, _b64(case["root"]))
    else:
        verify_consistency(case["size1"], case["size2"], proof, _b64(case["root1"]), _b64(case["root2"]))


@pytest.mark.parametrize(
    "path", RFC6962, ids=[str(p.relative_to(SHARED / "vectors")) if SHARED else "" for p in RFC6962]
)
def test_rfc6962_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    if case["wantErr"]:
        with pytest.raises(ProofError):
            _check(case)
    else:
        _check(case)


# --- signed note: the Go reference implementation's example (shared/vectors/README.md) ------------

VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
LINE = (
    "— PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
SIGNED = TEXT + "\n" + LINE


def test_signing_reproduces_the_reference_signature_line() -> None:
    name, signer = parse_signer_key(SIGNER_KEY)
    assert sign_note(TEXT, [(name, signer)]) == SIGNED


def test_opening_the_reference_note() -> None:
    opened = open_note(SIGNED, [parse_verifier_key(VERIFIER_KEY)])
    assert opened == (TEXT, ["PeterNeumann"])
    assert opened.unknown == []
    assert open_note(SIGNED.encode(), [VERIFIER_KEY]).text == TEXT


def test_any_changed_byte_of_the_reference_note_fails() -> None:
    verifier = parse_verifier_key(VERIFIER_KEY)
    raw = SIGNED.encode()
    for i in range(len(raw)):
        changed = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises(RaretraceError):
            open_note(changed, [verifier])
