"""Ed25519 keys as Multikey strings and ``did:key`` identifiers (base58btc multibase).

Verifiable credentials name the key that signed them by a verification method URL, and W3C Data
Integrity writes keys as Multikey values (Controlled Identifiers v1.0, "Multikey"): a multibase string,
here always base58btc (prefix ``z``), over a multicodec header and the raw key bytes:

* public key ``ed25519-pub`` (0xed, varint ``ed 01``) + 32 bytes -> ``z6Mk…``;
* secret key ``ed25519-priv`` (0x1300, varint ``80 26``) + 32-byte seed -> ``z3u2…``.

A ``did:key`` (W3C CCG did:key v0.7) is ``did:key:`` + the public Multikey, and its only verification
method is ``did:key:z6Mk…#z6Mk…``; so a did:key URL carries its key and can be resolved offline,
without I/O. The same holds for any URL whose fragment is a Multikey (the W3C test vectors use
``https://vc.example/issuers/5678#z6Mk…``).

Parsing is strict because these strings are attacker-controlled: base58 itself is a bijection
between strings and byte strings, but the ``base58`` library strips trailing whitespace before
decoding, so the alphabet is checked here first, and lengths are bounded before the quadratic
decoder runs.
"""

from __future__ import annotations

import re
from functools import lru_cache

import base58

from raretrace.crypto.keys import PUBLIC_KEY_LEN, Ed25519Signer, PublicKey
from raretrace.errors import ValidationError

MULTIBASE_BASE58BTC = "z"
ED25519_PUB_HEADER = b"\xed\x01"  # multicodec ed25519-pub (0xed) as an unsigned varint
ED25519_PRIV_HEADER = b"\x80\x26"  # multicodec ed25519-priv (0x1300) as an unsigned varint
SEED_LEN = 32
DID_KEY_PREFIX = "did:key:"

_BASE58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]*")
# Multikeys are short; anything longer than a few hundred characters is not worth decoding.
_MAX_MULTIBASE_CHARS = 512


def _max_base58_chars(n_bytes: int) -> int:
    """An upper bound on the base58 length of ``n_bytes`` bytes (log 256 / log 58 < 1.3658)."""
    return n_bytes * 13658 // 10000 + 1


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: ``z`` + base58 (Bitcoin alphabet) of ``data``."""
    return MULTIBASE_BASE58BTC + base58.b58encode(data).decode("ascii")


def multibase_decode(text: object, *, field: str = "multibase", expected_len: int | None = None) -> bytes:
    """The bytes of a base58btc multibase string; any other base, character or length is an error.

    ``expected_len`` bounds the string before decoding and checks the decoded length after, so a
    huge value costs nothing and a truncated one is reported as such rather than as a bad key.
    """
    if not isinstance(text, str):
        raise ValidationError(f"must be a multibase string, got {type(text).__name__}", field=field)
    if not text.startswith(MULTIBASE_BASE58BTC):
        shown = repr(text[:1]) if text else "an empty string"
        raise ValidationError(f"must be multibase base58btc (starting with 'z'), got {shown}", field=field)
    body = text[1:]
    limit = _MAX_MULTIBASE_CHARS if expected_len is None else _max_base58_chars(expected_len)
    if len(body) > limit:
        raise ValidationError(f"is too long for multibase base58btc ({len(body)} characters)", field=field)
    if not _BASE58.fullmatch(body):
        raise ValidationError(
            "is not valid base58btc (a character outside the Bitcoin alphabet)", field=field
        )
    # base58.b58decode, less its whitespace stripping and its byte-by-byte divmod loop: each leading
    # '1' is a zero byte, the rest is one big-endian integer.
    digits = body.lstrip("1")
    value = base58.b58decode_int(digits) if digits else 0
    data = bytes(len(body) - len(digits)) + value.to_bytes((value.bit_length() + 7) // 8, "big")
    if expected_len is not None and len(data) != expected_len:
        raise ValidationError(f"must decode to {expected_len} bytes, got {len(data)}", field=field)
    return data


def _raw_public(key: PublicKey | bytes) -> bytes:
    return PublicKey(key).raw if isinstance(key, bytes) else key.raw


def public_key_to_multibase(key: PublicKey | bytes) -> str:
    """The Multikey ``publicKeyMultibase`` of an Ed25519 public key: ``z6Mk…``."""
    return multibase_encode(ED25519_PUB_HEADER + _raw_public(key))


def public_key_from_multibase(text: str, *, field: str = "publicKeyMultibase") -> PublicKey:
    """Parse a ``z6Mk…`` Multikey; errors name the field and say whether the header or length is wrong."""
    if not isinstance(text, str):
        raise ValidationError(f"must be a multibase string, got {type(text).__name__}", field=field)
    return _public_key_from_multibase(text, field)


@lru_cache(maxsize=1024)
def _public_key_from_multibase(text: str, field: str) -> PublicKey:
    # Cached: a verifier sees the same few issuer keys over and over, and PublicKey is immutable.
    # Failures raise and so are never cached.
    data = multibase_decode(text, field=field, expected_len=len(ED25519_PUB_HEADER) + PUBLIC_KEY_LEN)
    if data[:2] != ED25519_PUB_HEADER:
        raise ValidationError(
            f"is not an Ed25519 public Multikey (multicodec header {data[:2].hex()}, expected ed01)",
            field=field,
        )
    return PublicKey(data[2:])


def secret_key_to_multibase(seed: bytes) -> str:
    """The Multikey ``secretKeyMultibase`` of a 32-byte Ed25519 seed: ``z3u2…``.

    This is key material: keep it out of logs and documents.
    """
    if len(seed) != SEED_LEN:
        raise ValidationError(
            f"an Ed25519 private key seed has 32 bytes, got {len(seed)}", field="private_key"
        )
    return multibase_encode(ED25519_PRIV_HEADER + seed)


def secret_key_from_multibase(text: str, *, field: str = "secretKeyMultibase") -> bytes:
    """The 32-byte Ed25519 seed of a ``z3u2…`` Multikey secret key."""
    data = multibase_decode(text, field=field, expected_len=len(ED25519_PRIV_HEADER) + SEED_LEN)
    if data[:2] != ED25519_PRIV_HEADER:
        raise ValidationError(
            f"is not an Ed25519 secret Multikey (multicodec header {data[:2].hex()}, expected 8026)",
            field=field,
        )
    return data[2:]


def signer_from_multibase(text: str, *, field: str = "secretKeyMultibase") -> Ed25519Signer:
    """An in-memory signer for a ``z3u2…`` secret key (tests, conformance vectors, imports)."""
    return Ed25519Signer.from_seed(secret_key_from_multibase(text, field=field))


def did_key(key: PublicKey | bytes) -> str:
    """The ``did:key`` of an Ed25519 public key: ``did:key:z6Mk…``."""
    return DID_KEY_PREFIX + public_key_to_multibase(key)


def did_key_verification_method(key: PublicKey | bytes) -> str:
    """The verification method id of a did:key: ``did:key:z6Mk…#z6Mk…`` (what a proof names)."""
    multikey = public_key_to_multibase(key)
    return f"{DID_KEY_PREFIX}{multikey}#{multikey}"


def public_key_from_did_key(did: str, *, field: str = "verificationMethod") -> PublicKey:
    """The key of a ``did:key:z6Mk…`` or ``did:key:z6Mk…#z6Mk…`` (the fragment must repeat the key)."""
    if not isinstance(did, str) or not did.startswith(DID_KEY_PREFIX):
        raise ValidationError("is not a did:key", field=field)
    ident, sep, fragment = did[len(DID_KEY_PREFIX) :].partition("#")
    if sep and fragment != ident:
        raise ValidationError(
            "a did:key has one verification method, whose fragment repeats the key", field=field
        )
    return public_key_from_multibase(ident, field=field)


def resolve_verification_method(verification_method: str, *, field: str = "verificationMethod") -> PublicKey:
    """The Ed25519 key a verification method URL names, found without I/O.

    Accepted: a ``did:key`` (with or without its fragment), or any URL whose fragment is an Ed25519
    public Multikey (``https://issuer.example/keys#z6Mk…``). Anything else needs a resolver with I/O
    (a DID document, a controller document), which is not this module's job: it is an error here.
    Note that resolving a non-did:key URL this way proves only which key signed, not that the URL's
    controller owns that key; binding issuers to keys is the caller's policy.
    """
    if not isinstance(verification_method, str) or not verification_method:
        raise ValidationError("must be a non-empty string", field=field)
    if verification_method.startswith(DID_KEY_PREFIX):
        return public_key_from_did_key(verification_method, field=field)
    _, sep, fragment = verification_method.partition("#")
    if not sep or not fragment.startswith(MULTIBASE_BASE58BTC):
        raise ValidationError(
            "cannot be resolved offline: it is neither a did:key "
            "nor a URL whose fragment is a z6Mk… Multikey",
            field=field,
        )
    return public_key_from_multibase(fragment, field=field)
