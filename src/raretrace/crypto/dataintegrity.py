"""W3C Data Integrity proofs with the ``eddsa-jcs-2022`` cryptosuite (Ed25519 over JCS).

raretrace certificates are W3C Verifiable Credentials 2.0 secured by a ``DataIntegrityProof``
(DESIGN §5). The cryptosuite is specified in *Data Integrity EdDSA Cryptosuites v1.0* (W3C
Recommendation, 15 May 2025), §3.3, on top of *Verifiable Credential Data Integrity 1.0* §4:

    proof options   = the proof without ``proofValue`` (with the document's ``@context``)
    hashData        = SHA-256(JCS(proof options)) || SHA-256(JCS(document without ``proof``))
    proofValue      = "z" + base58btc(Ed25519-sign(hashData))

Both directions go through :func:`hash_data`, the one place that decides the signed bytes, and
canonicalize with :func:`raretrace.crypto.canonical.canonical_bytes` (RFC 8785 with a fast path).

Verification is pure (no I/O, no clock) and returns a :class:`ProofResult` naming the step that
failed instead of raising, so a batch verifier can report every bad credential; ``ValidationError``
is kept for input whose *structure* is wrong (not an object, no proof, a required proof member
missing or not a string). Enforcement paths call :meth:`ProofResult.raise_for_failure`.

Not covered here: proof sets and chains (a ``proof`` array), ``domain``/``challenge`` checks, the
``expires`` deadline (needs a clock), and binding the verification method to the credential's
issuer (a policy of the caller).
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.keys import SIGNATURE_LEN, PublicKey, Signer
from raretrace.crypto.multikey import (
    DID_KEY_PREFIX,
    multibase_decode,
    multibase_encode,
    resolve_verification_method,
)
from raretrace.errors import SignatureError, ValidationError
from raretrace.jsontypes import JSONObject, JSONValue

PROOF_TYPE: Final = "DataIntegrityProof"
CRYPTOSUITE: Final = "eddsa-jcs-2022"

# Step names reported by ProofResult.step (the step that failed, or STEP_VERIFIED).
STEP_CRYPTOSUITE: Final = "cryptosuite"
STEP_PROOF_PURPOSE: Final = "proof-purpose"
STEP_CREATED: Final = "created"
STEP_PROOF_VALUE: Final = "proof-value"
STEP_CONTEXT: Final = "context"
STEP_VERIFICATION_METHOD: Final = "verification-method"
STEP_SIGNATURE: Final = "signature"
STEP_VERIFIED: Final = "verified"

_REQUIRED_PROOF_MEMBERS: Final = ("cryptosuite", "verificationMethod", "proofPurpose", "proofValue")

# XML Schema 1.1 Part 2 §3.3.7 dateTime (lexical space), with the timezone optional; §3.4.28
# dateTimeStamp is the same with the timezone required. Day-of-month is checked separately, and
# years are capped at 9 digits (int() refuses very long digit strings, and no proof needs them).
_DATETIME = re.compile(
    r"-?(?P<year>[1-9][0-9]{3,8}|0[0-9]{3})-(?P<month>0[1-9]|1[0-2])-(?P<day>0[1-9]|[12][0-9]|3[01])"
    r"T(?:(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?|24:00:00(?:\.0+)?)"
    r"(?P<tz>Z|[+-](?:(?:0[0-9]|1[0-3]):[0-5][0-9]|14:00))?"
)
_DAYS_IN_MONTH: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@dataclass(frozen=True, slots=True)
class ProofResult:
    """The outcome of :func:`verify_proof`: ``ok``, the step that decided it, and why it failed.

    Truthiness follows ``ok`` so that ``if verify_proof(doc):`` cannot pass by accident (a plain
    object would always be true).
    """

    ok: bool
    step: str
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.ok

    def raise_for_failure(self) -> None:
        """For enforcement paths: raise ``SignatureError`` naming the failed step, else return."""
        if not self.ok:
            raise SignatureError(self.reason or "proof does not verify", field=f"proof ({self.step})")


_VERIFIED: Final = ProofResult(ok=True, step=STEP_VERIFIED)


def _fail(step: str, reason: str) -> ProofResult:
    return ProofResult(ok=False, step=step, reason=reason)


def is_datetime(value: object, *, require_timezone: bool) -> bool:
    """Whether ``value`` is an XML Schema dateTime (``dateTimeStamp`` when a timezone is required)."""
    if not isinstance(value, str):
        return False
    m = _DATETIME.fullmatch(value)
    if m is None or (require_timezone and m["tz"] is None):
        return False
    year, month, day = int(m["year"]), int(m["month"]), int(m["day"])
    if value.startswith("-"):
        year = -year
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return day <= (29 if month == 2 and leap else _DAYS_IN_MONTH[month - 1])


def hash_data(unsecured_document: Mapping[str, object], proof_config: Mapping[str, object]) -> bytes:
    """eddsa-jcs-2022 hashData: SHA-256(JCS(proof config)) || SHA-256(JCS(document)).

    §3.3.3 Transformation (JCS of the document), §3.3.5 Proof Configuration step 4 (JCS of the
    proof options) and §3.3.4 Hashing (proof hash first, then document hash). The one function
    whose output is ever signed or verified.
    """
    return (
        hashlib.sha256(canonical_bytes(proof_config)).digest()
        + hashlib.sha256(canonical_bytes(unsecured_document)).digest()
    )


def _embedded_key(verification_method: str) -> PublicKey | None:
    """The key a verification method URL carries itself (did:key, #z6Mk… fragment), if any."""
    try:
        return resolve_verification_method(verification_method)
    except ValidationError:
        if verification_method.startswith(DID_KEY_PREFIX):
            raise  # a did:key that does not parse is not a URL some other resolver could handle
        return None


def add_proof(
    document: Mapping[str, JSONValue],
    signer: Signer,
    *,
    verification_method: str,
    created: str,
    proof_purpose: str = "assertionMethod",
    include_context: bool = True,
) -> JSONObject:
    """A new document: ``document`` with an eddsa-jcs-2022 ``proof`` (eddsa §3.3.1 Create Proof).

    ``created`` is an XML Schema dateTimeStamp (``2023-02-24T23:36:38Z``): passed in, not read
    from a clock, so signing stays pure and reproducible. ``include_context`` follows step 2 (copy
    the document's ``@context`` into the proof), which the spec strongly advises. The input is not
    modified; the result shares its values except the copied ``@context``.
    """
    if not isinstance(document, dict):
        raise ValidationError("a document to secure must be a JSON object", field="document")
    if "proof" in document:
        raise ValidationError(
            "the document already has a proof (proof sets are not supported)", field="proof"
        )
    if not isinstance(verification_method, str) or not verification_method:
        raise ValidationError("must be a non-empty string", field="verificationMethod")
    if not isinstance(proof_purpose, str) or not proof_purpose:
        raise ValidationError("must be a non-empty string", field="proofPurpose")
    if not is_datetime(created, require_timezone=True):
        raise ValidationError(
            f"must be an XML Schema dateTimeStamp such as 2023-02-24T23:36:38Z, got {created!r}",
            field="created",
        )
    embedded = _embedded_key(verification_method)
    if embedded is not None and embedded.raw != signer.public_key:
        raise ValidationError(
            f"names key {embedded.key_id[:16]}, "
            f"but the signer holds {PublicKey(signer.public_key).key_id[:16]}",
            field="verificationMethod",
        )

    # §3.3.1 step 1: proof = a clone of the proof options (members in the order the spec shows).
    proof: dict[str, object] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": created,
        "verificationMethod": verification_method,
        "proofPurpose": proof_purpose,
    }
    # Step 2: copy the document's @context, so the proof keeps meaning in a proof set or chain.
    if include_context and "@context" in document:
        proof["@context"] = copy.deepcopy(document["@context"])
    # Steps 3-5: proof configuration, transformation and hashing (the document has no proof yet).
    data = hash_data(document, proof)
    # Step 6 (§3.3.6 Proof Serialization): Ed25519 over hashData, exactly 64 bytes.
    signature = signer.sign(data)
    if len(signature) != SIGNATURE_LEN:
        raise SignatureError(f"the signer returned {len(signature)} bytes, not an Ed25519 signature")
    # Step 7: proofValue = base58btc multibase of the signature. Step 8: attach and return.
    proof["proofValue"] = multibase_encode(signature)
    return {**document, "proof": proof}


def _context_list(value: object) -> list[object]:
    """``@context`` as a list: a single string or object counts as a one-item list (JSON-LD)."""
    return value if isinstance(value, list) else [value]


def verify_proof(
    document: Mapping[str, object],
    public_key: PublicKey | None = None,
    *,
    expected_purpose: str | None = "assertionMethod",
) -> ProofResult:
    """Verify the eddsa-jcs-2022 proof of ``document`` (eddsa §3.3.2, Data Integrity §4.4).

    With ``public_key`` the caller has already resolved the key (for example from a trusted
    issuer registry); a verification method that carries a key of its own (did:key, ``#z6Mk…``)
    must name that same key. Without it the key is resolved from the verification method, offline
    (see :func:`raretrace.crypto.multikey.resolve_verification_method`): that proves which key
    signed, not who owns it. ``expected_purpose=None`` skips the proof purpose check.

    Raises ``ValidationError`` only when the structure is wrong; every other failure is a
    ``ProofResult`` with ``ok=False``, the failed step and the reason.
    """
    proof = _proof_of(document)
    failed = _suite_and_purpose(proof, expected_purpose)
    if failed is not None:
        return failed
    # 6. eddsa §3.3.2 steps 2-3: proofOptions = proof without proofValue; proofBytes = the base58btc
    #    multibase decoding of proofValue, which must be an Ed25519 signature (64 bytes, §3.3.6).
    try:
        proof_bytes = multibase_decode(
            proof["proofValue"], field="proof.proofValue", expected_len=SIGNATURE_LEN
        )
    except ValidationError as e:
        return _fail(STEP_PROOF_VALUE, f"proofValue {e.message}")
    proof_options = {k: v for k, v in proof.items() if k != "proofValue"}
    # eddsa §3.3.2 step 1: unsecuredDocument = the document without proof (a shallow copy: the
    # values are only read).
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    failed = _context(document, proof_options, unsecured)
    if failed is not None:
        return failed
    key = _verification_key(str(proof["verificationMethod"]), public_key)
    if isinstance(key, ProofResult):
        return key
    # 9. eddsa §3.3.2 steps 5-7: transformation, proof configuration and hashing -> hashData.
    data = hash_data(unsecured, proof_options)
    # 10. eddsa §3.3.7 step 2 and §3.3.2 steps 8-9: Ed25519 (pure EdDSA, RFC 8032) verification.
    if not key.is_valid(proof_bytes, data):
        return _fail(STEP_SIGNATURE, f"the Ed25519 signature does not verify for key {key.key_id[:16]}")
    return _VERIFIED


def _proof_of(document: Mapping[str, object]) -> dict[str, object]:
    """Step 1: the document's one proof, a map (a structural fault is a ``ValidationError``)."""
    # 1. DI §4.4: the secured document and its proof are maps (else PARSING_ERROR); a proof array
    #    (a proof set or chain, DI §2.1) is outside this verifier.
    if not isinstance(document, dict):
        raise ValidationError("a secured document must be a JSON object", field="document")
    if "proof" not in document:
        raise ValidationError("the document has no proof", field="proof")
    proof = document["proof"]
    if isinstance(proof, list):
        raise ValidationError(
            "proof sets and chains are not supported: expected one proof object", field="proof"
        )
    if not isinstance(proof, dict):
        raise ValidationError(f"must be a JSON object, got {type(proof).__name__}", field="proof")
    return proof


def _suite_and_purpose(proof: Mapping[str, object], expected_purpose: str | None) -> ProofResult | None:
    """Steps 2-5: the proof's members, its type and cryptosuite, purpose and creation time; the failed
    step, or None when they hold."""
    # 2. DI §4.4: type, verificationMethod and proofPurpose must exist (PROOF_VERIFICATION_ERROR).
    proof_type = proof.get("type")
    if not isinstance(proof_type, str):
        raise ValidationError("is missing or not a string", field="proof.type")
    # 3. eddsa §3.3.3 step 1 and §3.3.5 step 2: type DataIntegrityProof, cryptosuite eddsa-jcs-2022.
    #    Checked before the other members so a proof of another kind is reported as unsupported.
    if proof_type != PROOF_TYPE:
        return _fail(STEP_CRYPTOSUITE, f"proof type is {proof_type!r}, not {PROOF_TYPE!r}")
    for name in _REQUIRED_PROOF_MEMBERS:  # DataIntegrityProof requires these (DI §2.1, §3.1)
        if not isinstance(proof.get(name), str):
            raise ValidationError("is missing or not a string", field=f"proof.{name}")
    if proof["cryptosuite"] != CRYPTOSUITE:
        return _fail(STEP_CRYPTOSUITE, f"cryptosuite is {proof['cryptosuite']!r}, not {CRYPTOSUITE!r}")
    # 4. DI §4.4: when an expected proof purpose is given it must match proof.proofPurpose.
    if expected_purpose is not None and proof["proofPurpose"] != expected_purpose:
        return _fail(
            STEP_PROOF_PURPOSE, f"proof purpose is {proof['proofPurpose']!r}, expected {expected_purpose!r}"
        )
    # 5. eddsa §3.3.5 step 3: a created value must be a valid XML Schema dateTime.
    if "created" in proof and not is_datetime(proof["created"], require_timezone=False):
        return _fail(STEP_CREATED, f"created {proof['created']!r} is not an XML Schema dateTime")
    return None


def _context(
    document: Mapping[str, object], proof_options: Mapping[str, object], unsecured: dict[str, object]
) -> ProofResult | None:
    """Step 7: the proof's @context, when it has one, begins the document's (and is hashed with it)."""
    # 7. eddsa §3.3.2 step 4: if the options carry @context, the document's @context must start
    #    with all of its values in order (4.1), and the document is hashed with it (4.2).
    if "@context" not in proof_options:
        return None
    wanted = _context_list(proof_options["@context"])
    if "@context" not in document:
        return _fail(STEP_CONTEXT, "the proof has an @context but the document has none")
    have = _context_list(document["@context"])
    if have[: len(wanted)] != wanted:
        return _fail(STEP_CONTEXT, "the document's @context does not start with the proof's @context")
    unsecured["@context"] = proof_options["@context"]
    return None


def _verification_key(vm: str, public_key: PublicKey | None) -> PublicKey | ProofResult:
    """Step 8: the key that must have signed, or the failed step."""
    # 8. eddsa §3.3.7 step 1: the public key of proof.verificationMethod ("Retrieve Verification
    #    Method", Controlled Identifiers 1.0): the caller's key, or the one the URL carries.
    try:
        key = resolve_verification_method(vm) if public_key is None else public_key
        embedded = _embedded_key(vm) if public_key is not None else None
    except ValidationError as e:
        return _fail(STEP_VERIFICATION_METHOD, f"verificationMethod {e.message}")
    if embedded is not None and embedded.raw != key.raw:
        return _fail(
            STEP_VERIFICATION_METHOD,
            f"verificationMethod names key {embedded.key_id[:16]}, not the given {key.key_id[:16]}",
        )
    return key
