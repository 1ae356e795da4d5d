"""W3C Data Integrity ``eddsa-jcs-2022`` proofs and Ed25519 Multikey / did:key encodings.

The conformance vector (``shared/vectors/eddsa-jcs-2022``, from w3c/vc-di-eddsa) must verify, be
reproduced bit for bit by signing, and stop verifying once any value in it changes. The vectors are
found through $RARETRACE_SHARED or beside the checkout; when missing, the vector tests skip with the
reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from typing import Any

import base58
import pytest
from hypothesis import given
from hypothesis import strategies as st

from raretrace.crypto.canonical import reference_canonical_bytes
from raretrace.crypto.dataintegrity import (
    CRYPTOSUITE,
    PROOF_TYPE,
    STEP_CONTEXT,
    STEP_CREATED,
    STEP_CRYPTOSUITE,
    STEP_PROOF_PURPOSE,
    STEP_PROOF_VALUE,
    STEP_SIGNATURE,
    STEP_VERIFICATION_METHOD,
    STEP_VERIFIED,
    ProofResult,
    add_proof,
    hash_data,
    is_datetime,
    verify_proof,
)
from raretrace.crypto.keys import Ed25519Signer, PublicKey
from raretrace.crypto.multikey import (
    did_key,
    did_key_verification_method,
    multibase_decode,
    multibase_encode,
    public_key_from_did_key,
    public_key_from_multibase,
    public_key_to_multibase,
    resolve_verification_method,
    secret_key_from_multibase,
    secret_key_to_multibase,
    signer_from_multibase,
)
from raretrace.errors import SignatureError, ValidationError
from tests.shared_files import UNDER_CI, find_shared

SHARED = find_shared()
VECTOR_DIR = SHARED / "vectors" / "eddsa-jcs-2022" if SHARED else None


def _load(name: str) -> Any:
    path = VECTOR_DIR / name if VECTOR_DIR else None
    return json.loads(path.read_text()) if path and path.is_file() else None


KEY_PAIR: dict[str, str] | None = _load("keyPair.json")
SIGNED: dict[str, Any] | None = _load("signedJCS.json")

Path = tuple[str | int, ...]


def require_vectors() -> tuple[dict[str, str], dict[str, Any]]:
    if KEY_PAIR is not None and SIGNED is not None:
        return KEY_PAIR, copy.deepcopy(SIGNED)
    reason = (
        f"no eddsa-jcs-2022 vectors found (shared/ at {SHARED}; set RARETRACE_SHARED to the shared folder)"
    )
    if UNDER_CI:
        pytest.fail(reason + " -- CI=true: the conformance vectors must run")
    pytest.skip(reason)


# --- document paths ---------------------------------------------------------------------------------


def leaf_paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to a scalar (string, number, boolean, null)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in leaf_paths(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in leaf_paths(v, (*prefix, i))]
    return [prefix]


def object_paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to an object (where a key can be added)."""
    found: list[Path] = []
    if isinstance(value, dict):
        found.append(prefix)
        for k, v in value.items():
            found += object_paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += object_paths(v, (*prefix, i))
    return found


def member_paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every path to an object member or array item (what can be removed)."""
    found: list[Path] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for k, v in items:
        found.append((*prefix, k))
        found += member_paths(v, (*prefix, k))
    return found


def path_id(path: Path) -> str:
    return "/".join(str(p) for p in path) or "(root)"


def get(doc: Any, path: Path) -> Any:
    for part in path:
        doc = doc[part]
    return doc


def changed(doc: dict[str, Any], path: Path, change: Callable[[Any], Any]) -> dict[str, Any]:
    """A deep copy of ``doc`` with ``change`` applied to the container at ``path[:-1]``."""
    out = copy.deepcopy(doc)
    change((get(out, path[:-1]), path[-1]))
    return out


def other_value(value: Any) -> Any:
    """A value of the same JSON type whose JCS differs (a one-character edit for strings)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return value[:-1] + ("A" if value[-1:] != "A" else "B")
    if isinstance(value, int | float):
        return -value if value != 0 else 1  # 0 and -0.0 are both written 0
    if value is None:
        return 0
    raise AssertionError(f"not a JSON scalar: {value!r}")


def set_other(slot: tuple[Any, str | int]) -> None:
    container, key = slot
    container[key] = other_value(container[key])


def remove(slot: tuple[Any, str | int]) -> None:
    container, key = slot
    del container[key]


def assert_fails(doc: dict[str, Any], key: PublicKey | None) -> None:
    """Fails with the key, by resolving the key, and without the purpose check."""
    for result in (verify_proof(doc, key), verify_proof(doc), verify_proof(doc, key, expected_purpose=None)):
        assert not result.ok, result
        assert result.reason
        assert not result


VECTOR_LEAVES = leaf_paths(SIGNED) if SIGNED else []
VECTOR_OBJECTS = object_paths(SIGNED) if SIGNED else []
VECTOR_MEMBERS = member_paths(SIGNED) if SIGNED else []
# Removing these breaks the structure the verifier requires, which is an error rather than a result.
STRUCTURAL = {
    ("proof",),
    ("proof", "type"),
    ("proof", "cryptosuite"),
    ("proof", "verificationMethod"),
    ("proof", "proofPurpose"),
    ("proof", "proofValue"),
}


# --- the W3C vector ---------------------------------------------------------------------------------


def test_vectors_are_present() -> None:
    """Fails under CI (skips elsewhere) when the parametrized vector tests below would be empty."""
    require_vectors()
    assert len(VECTOR_LEAVES) >= 15
    assert ("proof", "proofValue") in VECTOR_LEAVES


def test_vector_verifies_with_the_key_pair() -> None:
    pair, signed = require_vectors()
    result = verify_proof(signed, public_key_from_multibase(pair["publicKeyMultibase"]))
    assert result == ProofResult(ok=True, step=STEP_VERIFIED)
    assert result
    result.raise_for_failure()


def test_vector_verifies_by_resolving_its_verification_method() -> None:
    pair, signed = require_vectors()
    vm = signed["proof"]["verificationMethod"]
    assert vm == "https://vc.example/issuers/5678#" + pair["publicKeyMultibase"]
    assert resolve_verification_method(vm).raw == public_key_from_multibase(pair["publicKeyMultibase"]).raw
    assert verify_proof(signed).ok


def test_signing_the_vector_reproduces_its_proof_value() -> None:
    pair, signed = require_vectors()
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    before = copy.deepcopy(unsigned)
    out = add_proof(
        unsigned,
        signer_from_multibase(pair["privateKeyMultibase"]),
        verification_method=signed["proof"]["verificationMethod"],
        created=signed["proof"]["created"],
    )
    assert out["proof"]["proofValue"] == signed["proof"]["proofValue"]
    assert out == signed
    assert list(out["proof"]) == list(signed["proof"])  # same member order as the spec's example
    assert unsigned == before  # the input is left alone


def test_vector_key_pair_prefixes_and_round_trips() -> None:
    pair, _ = require_vectors()
    public, secret = pair["publicKeyMultibase"], pair["privateKeyMultibase"]
    assert public.startswith("z6Mk")
    assert secret.startswith("z3u2")
    key = public_key_from_multibase(public)
    seed = secret_key_from_multibase(secret)
    assert public_key_to_multibase(key) == public
    assert public_key_to_multibase(key.raw) == public
    assert secret_key_to_multibase(seed) == secret
    assert Ed25519Signer.from_seed(seed).public_key == key.raw
    assert did_key(key) == "did:key:" + public
    assert did_key_verification_method(key) == f"did:key:{public}#{public}"


def test_hash_data_agrees_with_the_reference_jcs() -> None:
    _, signed = require_vectors()
    options = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    unsigned = {k: v for k, v in signed.items() if k != "proof"}
    expected = (
        hashlib.sha256(reference_canonical_bytes(options)).digest()
        + hashlib.sha256(reference_canonical_bytes(unsigned)).digest()
    )
    assert hash_data(unsigned, options) == expected


@pytest.mark.parametrize("path", VECTOR_LEAVES, ids=[path_id(p) for p in VECTOR_LEAVES])
def test_changing_any_value_of_the_vector_fails(path: Path) -> None:
    pair, signed = require_vectors()
    assert_fails(changed(signed, path, set_other), public_key_from_multibase(pair["publicKeyMultibase"]))


@pytest.mark.parametrize("path", VECTOR_OBJECTS, ids=[path_id(p) for p in VECTOR_OBJECTS])
def test_adding_a_key_anywhere_in_the_vector_fails(path: Path) -> None:
    pair, signed = require_vectors()
    tampered = copy.deepcopy(signed)
    get(tampered, path)["extra"] = "x"
    assert_fails(tampered, public_key_from_multibase(pair["publicKeyMultibase"]))


@pytest.mark.parametrize("path", VECTOR_MEMBERS, ids=[path_id(p) for p in VECTOR_MEMBERS])
def test_removing_anything_from_the_vector_fails(path: Path) -> None:
    pair, signed = require_vectors()
    tampered = changed(signed, path, remove)
    if path in STRUCTURAL:
        with pytest.raises(ValidationError) as info:
            verify_proof(tampered)
        assert info.value.field == path_id(path).replace("/", ".")
    else:
        assert_fails(tampered, public_key_from_multibase(pair["publicKeyMultibase"]))


@pytest.mark.parametrize("index", range(64))
def test_any_changed_signature_byte_fails(index: int) -> None:
    pair, signed = require_vectors()
    signature = bytearray(multibase_decode(signed["proof"]["proofValue"]))
    signature[index] ^= 0x01
    signed["proof"]["proofValue"] = multibase_encode(bytes(signature))
    result = verify_proof(signed, public_key_from_multibase(pair["publicKeyMultibase"]))
    assert (result.ok, result.step) == (False, STEP_SIGNATURE)


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("created", "2023-02-24T23:36:39Z"),
        (
            "verificationMethod",
            "https://vc.example/issuers/5679#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
        ),
        ("proofPurpose", "authentication"),
    ],
)
def test_proof_options_that_pass_their_checks_are_still_signed(member: str, value: str) -> None:
    """Values that pass every check before the signature are covered by the signature itself."""
    pair, signed = require_vectors()
    signed["proof"][member] = value
    result = verify_proof(
        signed, public_key_from_multibase(pair["publicKeyMultibase"]), expected_purpose=None
    )
    assert (result.ok, result.step) == (False, STEP_SIGNATURE)


def test_the_document_context_may_be_extended_after_signing() -> None:
    """eddsa §3.3.2 step 4: the document's @context need only start with the proof's (proof chains)."""
    _, signed = require_vectors()
    signed["@context"].append("https://example.org/more/v1")
    assert verify_proof(signed).ok
    signed["@context"] = signed["@context"][1:]
    assert verify_proof(signed).step == STEP_CONTEXT


# --- signing and verifying our own credentials --------------------------------------------------------

CREATED = "2026-01-02T03:04:05Z"


def credential(subject: Any = None) -> dict[str, Any]:
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "RareEarthOriginCredential"],
        "issuer": "did:example:registry",
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": subject if subject is not None else {"id": "urn:lot:1", "massKg": 1000.0},
    }


def test_round_trip_with_a_fresh_signer_and_did_key() -> None:
    signer = Ed25519Signer.generate()
    key = PublicKey(signer.public_key)
    vm = did_key_verification_method(key)
    assert vm.startswith("did:key:z6Mk")
    assert public_key_from_did_key(vm) == key
    assert public_key_from_did_key(did_key(key)) == key
    doc = add_proof(credential(), signer, verification_method=vm, created=CREATED)
    assert doc["proof"]["type"] == PROOF_TYPE
    assert doc["proof"]["cryptosuite"] == CRYPTOSUITE
    assert doc["proof"]["@context"] == doc["@context"]
    assert doc["proof"]["@context"] is not doc["@context"]  # a copy, not an alias
    assert verify_proof(doc).ok
    assert verify_proof(doc, key).ok
    other = PublicKey(Ed25519Signer.generate().public_key)
    assert verify_proof(doc, other).step == STEP_VERIFICATION_METHOD  # did:key names another key


def test_a_verification_method_without_a_key_needs_the_callers_key() -> None:
    signer = Ed25519Signer.generate()
    key = PublicKey(signer.public_key)
    doc = add_proof(
        credential(), signer, verification_method="https://registry.example/keys/1", created=CREATED
    )
    assert verify_proof(doc, key).ok
    result = verify_proof(doc)
    assert (result.ok, result.step) == (False, STEP_VERIFICATION_METHOD)
    assert "cannot be resolved offline" in (result.reason or "")
    wrong = verify_proof(doc, PublicKey(Ed25519Signer.generate().public_key))
    assert (wrong.ok, wrong.step) == (False, STEP_SIGNATURE)
    with pytest.raises(SignatureError, match="signature"):
        wrong.raise_for_failure()


def test_add_proof_refuses_a_verification_method_naming_another_key() -> None:
    signer, other = Ed25519Signer.generate(), Ed25519Signer.generate()
    with pytest.raises(ValidationError, match="signer holds") as info:
        add_proof(
            credential(),
            signer,
            verification_method=did_key_verification_method(other.public_key),
            created=CREATED,
        )
    assert info.value.field == "verificationMethod"


def test_without_context_in_the_proof_the_whole_document_is_signed() -> None:
    signer = Ed25519Signer.generate()
    vm = did_key_verification_method(signer.public_key)
    doc = add_proof(credential(), signer, verification_method=vm, created=CREATED, include_context=False)
    assert "@context" not in doc["proof"]
    assert verify_proof(doc).ok
    doc["@context"].append("https://example.org/more/v1")
    assert verify_proof(doc).step == STEP_SIGNATURE
    bare = add_proof({"name": "no context"}, signer, verification_method=vm, created=CREATED)
    assert "@context" not in bare["proof"]
    assert verify_proof(bare).ok


def test_proof_purpose_must_match_what_the_verifier_expects() -> None:
    signer = Ed25519Signer.generate()
    vm = did_key_verification_method(signer.public_key)
    doc = add_proof(
        credential(), signer, verification_method=vm, created=CREATED, proof_purpose="authentication"
    )
    result = verify_proof(doc)
    assert (result.ok, result.step) == (False, STEP_PROOF_PURPOSE)
    assert "authentication" in (result.reason or "")
    assert verify_proof(doc, expected_purpose="authentication").ok
    assert verify_proof(doc, expected_purpose=None).ok


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"created": "2026-01-02T03:04:05"}, "created"),  # a dateTimeStamp needs a timezone
        ({"created": "2026-02-30T00:00:00Z"}, "created"),
        ({"created": "yesterday"}, "created"),
        ({"verification_method": ""}, "verificationMethod"),
        ({"verification_method": "did:key:zNotAKey"}, "verificationMethod"),
        ({"proof_purpose": ""}, "proofPurpose"),
    ],
)
def test_add_proof_rejects_bad_options(kwargs: dict[str, Any], field: str) -> None:
    signer = Ed25519Signer.generate()
    options: dict[str, Any] = {
        "verification_method": did_key_verification_method(signer.public_key),
        "created": CREATED,
    }
    with pytest.raises(ValidationError) as info:
        add_proof(credential(), signer, **{**options, **kwargs})
    assert info.value.field == field


def test_add_proof_refuses_a_document_that_has_a_proof() -> None:
    signer = Ed25519Signer.generate()
    vm = did_key_verification_method(signer.public_key)
    doc = add_proof(credential(), signer, verification_method=vm, created=CREATED)
    with pytest.raises(ValidationError, match="already has a proof"):
        add_proof(doc, signer, verification_method=vm, created=CREATED)


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
SUBJECTS = st.dictionaries(st.text(max_size=8), JSON_VALUES, min_size=1, max_size=6)
PROPERTY_SIGNER = Ed25519Signer.from_seed(bytes(range(32)))
PROPERTY_VM = did_key_verification_method(PROPERTY_SIGNER.public_key)


@given(subject=SUBJECTS, data=st.data())
def test_signed_credentials_verify_and_any_changed_leaf_fails(
    subject: dict[str, Any], data: st.DataObject
) -> None:
    doc = add_proof(credential(subject), PROPERTY_SIGNER, verification_method=PROPERTY_VM, created=CREATED)
    key = PublicKey(PROPERTY_SIGNER.public_key)
    assert verify_proof(doc).ok
    assert verify_proof(doc, key).ok
    path = data.draw(st.sampled_from(leaf_paths(doc)), label="path")
    assert_fails(changed(doc, path, set_other), key)


@given(st.text(max_size=20), st.text(min_size=1, max_size=20))
def test_an_arbitrary_new_member_fails(key: str, value: str) -> None:
    doc = add_proof(credential(), PROPERTY_SIGNER, verification_method=PROPERTY_VM, created=CREATED)
    target = doc["credentialSubject"]
    if key in target:
        value = json.dumps(target[key]) + value  # a value that differs from the one already there
    target[key] = value
    assert not verify_proof(doc).ok


# --- malformed input ----------------------------------------------------------------------------------


def signed_doc() -> dict[str, Any]:
    signer = Ed25519Signer.from_seed(b"\x07" * 32)
    return add_proof(
        credential(),
        signer,
        verification_method=did_key_verification_method(signer.public_key),
        created=CREATED,
    )


@pytest.mark.parametrize(
    ("document", "field", "message"),
    [
        ([], "document", "JSON object"),
        ({"a": 1}, "proof", "no proof"),
        ({"proof": [{}]}, "proof", "proof sets"),
        ({"proof": "z123"}, "proof", "JSON object"),
        ({"proof": {"cryptosuite": CRYPTOSUITE}}, "proof.type", "missing"),
        ({"proof": {"type": PROOF_TYPE}}, "proof.cryptosuite", "missing"),
    ],
)
def test_malformed_structure_raises(document: Any, field: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        verify_proof(document)
    assert info.value.field == field


@pytest.mark.parametrize("member", ["verificationMethod", "proofPurpose", "proofValue"])
def test_required_proof_members_must_be_strings(member: str) -> None:
    doc = signed_doc()
    doc["proof"][member] = 5
    with pytest.raises(ValidationError, match="not a string") as info:
        verify_proof(doc)
    assert info.value.field == f"proof.{member}"


def _with_proof(**members: Any) -> dict[str, Any]:
    doc = signed_doc()
    doc["proof"].update(members)
    return doc


@pytest.mark.parametrize(
    ("document", "step", "message"),
    [
        (_with_proof(type="Ed25519Signature2020"), STEP_CRYPTOSUITE, "Ed25519Signature2020"),
        (_with_proof(cryptosuite="eddsa-rdfc-2022"), STEP_CRYPTOSUITE, "eddsa-rdfc-2022"),
        (_with_proof(proofPurpose="authentication"), STEP_PROOF_PURPOSE, "expected 'assertionMethod'"),
        (_with_proof(created="yesterday"), STEP_CREATED, "dateTime"),
        (_with_proof(created=20260102), STEP_CREATED, "dateTime"),
        (_with_proof(proofValue="uAAAA"), STEP_PROOF_VALUE, "starting with 'z'"),
        (_with_proof(proofValue=""), STEP_PROOF_VALUE, "starting with 'z'"),
        (_with_proof(proofValue="z"), STEP_PROOF_VALUE, "64 bytes, got 0"),
        (_with_proof(proofValue="z0OIl"), STEP_PROOF_VALUE, "not valid base58btc"),
        (_with_proof(proofValue=multibase_encode(bytes(64) + b"\x01")), STEP_PROOF_VALUE, "64 bytes"),
        (_with_proof(proofValue=multibase_encode(b"\x01" * 63)), STEP_PROOF_VALUE, "64 bytes"),
        (_with_proof(proofValue=multibase_encode(b"\xff" * 65)), STEP_PROOF_VALUE, "too long"),
        (_with_proof(proofValue="z" + "2" * 100_000), STEP_PROOF_VALUE, "too long"),
        (
            _with_proof(verificationMethod="https://registry.example/keys"),
            STEP_VERIFICATION_METHOD,
            "offline",
        ),
        (_with_proof(verificationMethod="did:key:z6MkBAD0"), STEP_VERIFICATION_METHOD, "base58btc"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_malformed_values_give_a_failed_result(document: dict[str, Any], step: str, message: str) -> None:
    result = verify_proof(document)
    assert (result.ok, result.step) == (False, step)
    assert message in (result.reason or "")
    with pytest.raises(SignatureError, match=step):
        result.raise_for_failure()


def test_trailing_whitespace_in_proof_value_is_refused() -> None:
    """The base58 library strips trailing whitespace; a proofValue must be exactly what was signed."""
    doc = signed_doc()
    assert verify_proof(doc).ok
    doc["proof"]["proofValue"] += " "
    assert verify_proof(doc).step == STEP_PROOF_VALUE


def test_context_mismatch_gives_a_failed_result() -> None:
    doc = signed_doc()
    doc["@context"] = ["https://example.org/other/v1", *doc["@context"]]
    assert verify_proof(doc).step == STEP_CONTEXT
    del doc["@context"]
    result = verify_proof(doc)
    assert (result.step, result.reason) == (
        STEP_CONTEXT,
        "the proof has an @context but the document has none",
    )
    doc["@context"] = "https://www.w3.org/ns/credentials/v2"  # a single string equals a one-item list
    assert verify_proof(doc).ok


@pytest.mark.parametrize(
    ("text", "ok", "with_tz"),
    [
        ("2023-02-24T23:36:38Z", True, True),
        ("2023-02-24T23:36:38.123+05:30", True, True),
        ("2024-02-29T00:00:00-14:00", True, True),
        ("2023-02-24T23:36:38", True, False),
        ("2023-02-29T00:00:00Z", False, False),
        ("2023-13-01T00:00:00Z", False, False),
        ("2023-02-24 23:36:38Z", False, False),
        ("2023-02-24T23:36:38+15:00", False, False),
        ("1" + "0" * 5000 + "-01-01T00:00:00Z", False, False),
        ("２０２３-02-24T23:36:38Z", False, False),
    ],
)
def test_xml_schema_datetimes(text: str, ok: bool, with_tz: bool) -> None:
    assert is_datetime(text, require_timezone=False) is ok
    assert is_datetime(text, require_timezone=True) is (ok and with_tz)


# --- Multikey and did:key -----------------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32))
def test_multikey_round_trips(raw: bytes) -> None:
    public = public_key_to_multibase(raw)
    secret = secret_key_to_multibase(raw)
    assert public.startswith("z6Mk")
    assert secret.startswith("z3u2")
    assert public_key_from_multibase(public).raw == raw
    assert secret_key_from_multibase(secret) == raw
    assert public_key_from_did_key(did_key(raw)).raw == raw


@given(st.binary(max_size=80))
def test_multibase_matches_the_base58_library(data: bytes) -> None:
    text = multibase_encode(data)
    assert text == "z" + base58.b58encode(data).decode()
    assert multibase_decode(text) == data == base58.b58decode(text[1:])


def _public(raw: bytes = b"\x01" * 32) -> str:
    return public_key_to_multibase(raw)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("u7QE", "starting with 'z'"),
        ("6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2", "starting with 'z'"),
        ("z", "34 bytes, got 0"),
        (_public()[:-1] + "0", "not valid base58btc"),
        (_public()[:-1] + " ", "not valid base58btc"),
        (_public()[:-2], "34 bytes"),
        (multibase_encode(b"\xed\x01" + b"\x01" * 33), "too long"),
        (secret_key_to_multibase(b"\x01" * 32), "header 8026, expected ed01"),
        (multibase_encode(b"\xec\x01" + bytes(32)), "header ec01, expected ed01"),
    ],
)
def test_bad_public_multikeys_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as info:
        public_key_from_multibase(text)
    assert info.value.field == "publicKeyMultibase"


def test_bad_secret_multikeys_are_refused() -> None:
    with pytest.raises(ValidationError, match="header ed01, expected 8026"):
        secret_key_from_multibase(_public())
    with pytest.raises(ValidationError, match="34 bytes"):
        secret_key_from_multibase(multibase_encode(b"\x80\x26" + bytes(31)))
    with pytest.raises(ValidationError, match="32 bytes"):
        secret_key_to_multibase(bytes(31))
    with pytest.raises(ValidationError, match="must be a multibase string"):
        public_key_from_multibase(b"z6Mk")  # type: ignore[arg-type]


def test_resolving_verification_methods() -> None:
    mk = _public()
    key = public_key_from_multibase(mk)
    other = _public(b"\x02" * 32)
    assert resolve_verification_method(f"did:key:{mk}#{mk}") == key
    assert resolve_verification_method(f"did:key:{mk}") == key
    assert resolve_verification_method(f"https://vc.example/issuers/5678#{mk}") == key
    for bad, message in [
        (f"did:key:{mk}#key-1", "fragment repeats the key"),
        (f"did:key:{mk}#{other}", "fragment repeats the key"),
        ("https://vc.example/issuers/5678", "cannot be resolved offline"),
        ("https://vc.example/issuers/5678#key-1", "cannot be resolved offline"),
        ("", "non-empty"),
        ("did:key:z6MkOOPS", "not valid base58btc"),
    ]:
        with pytest.raises(ValidationError, match=message) as info:
            resolve_verification_method(bad)
        assert info.value.field == "verificationMethod"


# --- the JCS bytes every proof hashes: the orjson encoder on the fast path ----------------------------

_strings = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)  # any code point, no surrogate
_walked_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**15) + 1, 10**15 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _strings,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_strings, children, max_size=4),
    max_leaves=25,
)


@given(_walked_values)
def test_orjson_writes_what_the_standard_library_writes(value: object) -> None:
    """On every value the fast path keeps, orjson's bytes are the standard library encoder's (whose
    agreement with rfc8785 tests/test_crypto.py checks), so proofs never depend on orjson being there."""
    from raretrace.crypto import canonical

    pytest.importorskip("orjson")
    try:
        tree = canonical._jcs_numbers(value)
    except canonical._DoubtfulNumberError:
        return
    assert canonical._orjson_tree(tree) == canonical._stdlib_tree(tree)
    assert canonical.canonical_bytes(value) == reference_canonical_bytes(value)


def test_orjson_is_used_only_where_it_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    """The import-time check picks orjson here, and turns it away if it wrote any edge value differently."""
    from raretrace.crypto import canonical

    orjson = pytest.importorskip("orjson")
    assert canonical._orjson_agrees() and canonical._encode_walked is canonical._orjson_tree
    real = orjson.dumps
    for changed in (
        lambda v, option=None: real(v, option=option).replace(b"\\u001f", b"\\u001F"),  # hex case
        lambda v, option=None: real(v, option=option).replace(b"0.0001", b"1e-4"),  # exponent
        lambda v, option=None: real(v, option=option),  # the same bytes: orjson stays
    ):
        monkeypatch.setattr(orjson, "dumps", changed)
        edges_differ = any(changed(v) != real(v) for v in canonical._EDGES)
        assert canonical._orjson_agrees() is not edges_differ
    monkeypatch.setattr(orjson, "dumps", real)
    assert canonical._orjson_agrees()


# --- the walk copies only what it changes; decoding with orjson gives json.loads's values ------------


@given(_walked_values | st.sampled_from([{"a": [1.0, {"b": 2.5}], "c": ["x", {"d": 3.0}]}, [[1.0], [2]]]))
def test_the_jcs_walk_never_changes_its_input(value: object) -> None:
    """The walk returns containers without integral floats as they are and copies the rest: the
    caller's value is never modified, and the bytes are the reference JCS."""
    from raretrace.crypto import canonical

    before = copy.deepcopy(value)
    try:
        canonical._jcs_numbers(value)
    except canonical._DoubtfulNumberError:
        return
    assert value == before and json.dumps(value) == json.dumps(before)  # 1.0 is still a float
    assert canonical.canonical_bytes(value) == reference_canonical_bytes(value)


def test_the_jcs_walk_copies_only_the_path_to_a_changed_number() -> None:
    from raretrace.crypto import canonical

    plain = {"s": "x", "n": 2, "f": 0.5}
    value = {"plain": plain, "path": {"to": [1000.0]}}
    tree = canonical._jcs_numbers(value)
    assert tree["plain"] is plain  # nothing to change inside: not copied
    assert tree["path"] is not value["path"] and tree["path"]["to"] == [1000]
    assert type(tree["path"]["to"][0]) is int and type(value["path"]["to"][0]) is float
    shared: dict[str, Any] = {"k": [1.0]}
    assert canonical.canonical_bytes([shared, shared]) == b'[{"k":[1]},{"k":[1]}]'
    circular: list[Any] = [1.5]
    circular.append(circular)
    with pytest.raises(RecursionError):  # every container is still visited: no silent loop
        canonical._jcs_numbers(circular)


_decodable = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # any size: orjson would turn one beyond 64 bits into a float
    | st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30, -(10**19)])
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def _same_json(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (1 and 1.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_json(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (isinstance(a, float) and a != a and b != b)  # NaN is NaN


@given(_decodable)
def test_loads_gives_what_json_loads_gives(value: object) -> None:
    from raretrace.crypto.canonical import loads

    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False), json.dumps(value, indent=1)):
        raw = text.encode("utf-8")
        assert _same_json(loads(raw), json.loads(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"[NaN, Infinity, -Infinity]",  # json.loads reads these, orjson refuses: the fallback decides
        b'["\\ud800"]',  # a lone surrogate
        b"[1e400]",  # overflows to inf in json.loads
        b'{"a": 1, "a": 2}',
        b"[123456789012345678901234567890, -9223372036854775809]",
        '\ufeff["bom"]'.encode(),
        "[1]".encode("utf-16"),
        b"[" * 2000 + b"]" * 2000,  # json.loads gives up (RecursionError), orjson would not
        b"[" * 300 + b"]" * 300,
    ],
)
def test_loads_falls_back_where_orjson_differs(raw: bytes) -> None:
    from raretrace.crypto.canonical import loads

    try:
        expected = json.loads(raw)
    except (ValueError, RecursionError) as e:
        with pytest.raises(type(e)):
            loads(raw)
        return
    assert _same_json(loads(raw), expected)


@pytest.mark.parametrize("raw", [b"", b"[1,", b"{'a': 1}", b"\xff[]", b"[1] [2]", b"\x00"])
def test_loads_raises_what_json_loads_raises(raw: bytes) -> None:
    from raretrace.crypto.canonical import loads

    with pytest.raises(ValueError) as expected:
        json.loads(raw)
    with pytest.raises(type(expected.value)):
        loads(raw)


def test_dsse_parsing_keeps_json_loads_values_and_errors() -> None:
    """Envelopes and statements decoded through ``loads`` keep what ``json.loads`` gave: an integer
    beyond 64 bits stays an integer; a byte order mark, trailing bytes, truncation or invalid UTF-8
    are still malformed."""
    import base64 as b64

    from raretrace.crypto.dsse import IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE, parse_envelope

    statement = {"_type": STATEMENT_TYPE, "subject": [], "predicateType": "x", "predicate": {"n": 2**70}}
    payload = json.dumps(statement).encode()
    envelope = {
        "payload": b64.b64encode(payload).decode(),
        "payloadType": IN_TOTO_PAYLOAD_TYPE,
        "signatures": [{"keyid": "k", "sig": b64.b64encode(b"s").decode()}],
    }
    raw = json.dumps(envelope).encode()
    parsed = parse_envelope(raw).statement()
    assert parsed["predicate"]["n"] == 2**70 and type(parsed["predicate"]["n"]) is int
    for bad in (b"\xef\xbb\xbf" + raw, raw + b"\x00", raw[:-1], b"\xff" + raw):
        with pytest.raises(ValidationError, match="malformed JSON") as info:
            parse_envelope(bad)
        assert info.value.field == "envelope"
