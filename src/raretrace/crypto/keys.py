"""Ed25519 keys behind a small signer interface.

Signing goes through ``Signer`` so that a registry or a facility can keep its private key in a KMS
or an HSM later: everything above this module only needs ``key_id``, ``public_key`` and ``sign``.
Key ids are the hex SHA-256 of the raw 32-byte public key, so anyone can recompute them.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from raretrace.crypto import b64, ed25519
from raretrace.crypto.ed25519 import PUBLIC_KEY_LEN, SEED_LEN, SIGNATURE_LEN
from raretrace.errors import SignatureError, ValidationError

__all__ = ["PUBLIC_KEY_LEN", "SIGNATURE_LEN", "Ed25519Signer", "PublicKey", "Signer"]


def key_id_for(public_key: bytes) -> str:
    """The key id every part of raretrace uses: hex SHA-256 of the raw public key."""
    return hashlib.sha256(public_key).hexdigest()


@runtime_checkable
class Signer(Protocol):
    """Anything that can produce Ed25519 signatures for one public key."""

    @property
    def key_id(self) -> str: ...

    @property
    def public_key(self) -> bytes: ...

    def sign(self, message: bytes) -> bytes: ...


@dataclass(frozen=True)
class PublicKey:
    """A raw Ed25519 public key with its id; verification is pure and raises on failure."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != PUBLIC_KEY_LEN:
            raise ValidationError(
                f"an Ed25519 public key has 32 bytes, got {len(self.raw)}", field="public_key"
            )

    @cached_property
    def key_id(self) -> str:
        """Worked out once a key (a SHA-256): the append path asks a key for it at every signature."""
        return key_id_for(self.raw)

    def verify(self, signature: bytes, message: bytes) -> None:
        if not ed25519.verify(self.raw, signature, message):
            raise SignatureError(f"signature does not verify for key {self.key_id[:16]}")

    def is_valid(self, signature: bytes, message: bytes) -> bool:
        return ed25519.verify(self.raw, signature, message)

    def to_b64(self) -> str:
        return base64.b64encode(self.raw).decode()

    @classmethod
    def from_b64(cls, text: str, *, field: str = "public_key") -> PublicKey:
        return cls(b64decode_strict(text, field=field))


class Ed25519Signer:
    """A signer holding its private key (the 32-byte RFC 8032 seed) in memory (files, tests, the
    embedded registry); it signs through the fastest Ed25519 backend installed."""

    def __init__(self, private_key: Ed25519PrivateKey | bytes) -> None:
        seed = (
            private_key
            if isinstance(private_key, bytes)
            else private_key.private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        )
        if len(seed) != SEED_LEN:
            raise ValidationError("an Ed25519 private key seed has 32 bytes", field="private_key")
        self._seed = bytes(seed)
        self._public = ed25519.public_from_seed(self._seed)

    @classmethod
    def generate(cls) -> Ed25519Signer:
        return cls(os.urandom(SEED_LEN))

    @classmethod
    def from_seed(cls, seed: bytes) -> Ed25519Signer:
        return cls(seed)

    @property
    def key_id(self) -> str:
        return key_id_for(self._public)

    @property
    def public_key(self) -> bytes:
        return self._public

    @property
    def seed(self) -> bytes:
        return self._seed

    def sign(self, message: bytes) -> bytes:
        return ed25519.sign(self._seed, message)


def b64decode_strict(text: str, *, field: str) -> bytes:
    """Standard base64 with padding; anything else is an error naming the field."""
    try:
        return b64.strict(text)
    except ValueError as e:  # binascii.Error and non-ASCII text are ValueErrors
        raise ValidationError("is not valid base64", field=field) from e


# --- key files -------------------------------------------------------------------------------------
# A private key file is PKCS#8 PEM (what openssl and every KMS import understand); the public key file
# is SubjectPublicKeyInfo PEM. Both are written atomically, the private one with mode 0600.


def write_key_pair(signer: Ed25519Signer, out: Path) -> tuple[Path, Path]:
    """Write ``out`` (private, 0600) and ``out.pub`` (public); refuses to overwrite."""
    private_path, public_path = out, out.with_name(out.name + ".pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ValidationError(f"{path} already exists; refusing to overwrite a key", field="out")
    pem = Ed25519PrivateKey.from_private_bytes(signer.seed).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    public_path.write_bytes(public_pem(signer.public_key))
    return private_path, public_path


def public_pem(raw: bytes) -> bytes:
    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_signer(path: Path) -> Ed25519Signer:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValidationError(f"cannot read key file {path}: {e.strerror}", field="key") from e
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ValidationError(f"{path} is not an unencrypted PEM private key", field="key") from e
    if not isinstance(key, Ed25519PrivateKey):
        raise ValidationError(f"{path} is not an Ed25519 key", field="key")
    return Ed25519Signer(key)


def load_public_key(path: Path) -> PublicKey:
    """Read a public key from a PEM file, or a file holding the raw key in base64."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ValidationError(f"cannot read key file {path}: {e.strerror}", field="key") from e
    if data.lstrip().startswith(b"-----BEGIN"):
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as e:
            raise ValidationError(f"{path} is not a PEM public key", field="key") from e
        if not isinstance(key, Ed25519PublicKey):
            raise ValidationError(f"{path} is not an Ed25519 key", field="key")
        return PublicKey(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return PublicKey.from_b64(data.decode("ascii", "replace").strip(), field="key")
