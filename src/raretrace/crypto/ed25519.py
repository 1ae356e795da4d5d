"""Ed25519 (RFC 8032, pure EdDSA) through the fastest implementation installed.

Verification is the one cost of an append, a certificate check or a log audit that no care in
raretrace's own code removes, so every Ed25519 operation goes through this module, which picks at
import the fastest backend present: libsodium (through PyNaCl), which verifies about twice as fast as
OpenSSL here, else OpenSSL (through ``cryptography``, always installed: it also reads and writes PEM
key files). Both are RFC 8032 implementations and sign identically (Ed25519 is deterministic); a test
checks that each verifies the other's signatures and that both reject the same tampering.

libsodium is the stricter verifier: besides ``S < L`` it refuses small-order public keys and ``R``
points, which no honestly generated key or signature has. ``BACKENDS`` keeps every backend present so
that benchmarks can show each one's rate beside the other.

``RARETRACE_ED25519=openssl`` forces the fallback (for comparison runs); the default is the fastest.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
SEED_LEN = 32

#: the environment variable that can force a backend by name ("libsodium" or "openssl")
BACKEND_ENV = "RARETRACE_ED25519"


class Ed25519Backend(Protocol):
    """One implementation of the three operations raretrace needs."""

    @property
    def name(self) -> str: ...

    def public_from_seed(self, seed: bytes) -> bytes: ...

    def sign(self, seed: bytes, message: bytes) -> bytes: ...

    def verify(self, public: bytes, signature: bytes, message: bytes) -> bool: ...


def _well_formed(public: bytes, signature: bytes) -> bool:
    return len(public) == PUBLIC_KEY_LEN and len(signature) == SIGNATURE_LEN


@dataclass(frozen=True)
class OpenSSLBackend:
    """OpenSSL through ``cryptography``: always present, the fallback."""

    name: str = "openssl"

    def public_from_seed(self, seed: bytes) -> bytes:
        return (
            Ed25519PrivateKey.from_private_bytes(seed)
            .public_key()
            .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    def sign(self, seed: bytes, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(seed).sign(message)

    def verify(self, public: bytes, signature: bytes, message: bytes) -> bool:
        if not _well_formed(public, signature):
            return False
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


class LibsodiumBackend:
    """libsodium through PyNaCl's bindings (``crypto_sign_open`` over signature + message)."""

    name = "libsodium"

    def __init__(self) -> None:
        import nacl.bindings
        import nacl.exceptions

        self._seed_keypair = nacl.bindings.crypto_sign_seed_keypair
        self._sign = nacl.bindings.crypto_sign
        self._open = nacl.bindings.crypto_sign_open
        self._bad = (nacl.exceptions.BadSignatureError, nacl.exceptions.CryptoError, ValueError, TypeError)
        # Expanding a seed costs a scalar multiplication; a signer signs with the same few keys.
        self._secrets: dict[bytes, bytes] = {}

    def _secret(self, seed: bytes) -> bytes:
        secret = self._secrets.get(seed)
        if secret is None:
            if len(seed) != SEED_LEN:
                raise ValueError("an Ed25519 seed has 32 bytes")
            if len(self._secrets) >= 1024:
                self._secrets.clear()
            secret = self._secrets[seed] = self._seed_keypair(seed)[1]
        return secret

    def public_from_seed(self, seed: bytes) -> bytes:
        return self._secret(seed)[SEED_LEN:]

    def sign(self, seed: bytes, message: bytes) -> bytes:
        return self._sign(message, self._secret(seed))[:SIGNATURE_LEN]

    def verify(self, public: bytes, signature: bytes, message: bytes) -> bool:
        if not _well_formed(public, signature):
            return False
        try:
            self._open(signature + message, public)
        except self._bad:
            return False
        return True


def _available() -> dict[str, Ed25519Backend]:
    found: dict[str, Ed25519Backend] = {}
    with contextlib.suppress(ImportError):  # PyNaCl missing: OpenSSL serves alone
        found["libsodium"] = LibsodiumBackend()
    found["openssl"] = OpenSSLBackend()
    return found


#: every backend installed, fastest first
BACKENDS: dict[str, Ed25519Backend] = _available()


def _choose() -> Ed25519Backend:
    forced = os.environ.get(BACKEND_ENV, "").strip().lower()
    if forced:
        if forced not in BACKENDS:
            raise RuntimeError(f"${BACKEND_ENV}={forced!r}: installed backends are {', '.join(BACKENDS)}")
        return BACKENDS[forced]
    return next(iter(BACKENDS.values()))


#: the backend every verification and signature uses
BACKEND: Ed25519Backend = _choose()

verify = BACKEND.verify
sign = BACKEND.sign
public_from_seed = BACKEND.public_from_seed
