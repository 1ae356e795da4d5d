"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(key hash (4 bytes) || signature)``. The key hash is the first four bytes of
SHA-256(name || "\\n" || key type || public key); Ed25519 note keys have type 0x01 (cosignatures use
0x04, see ``cosignature.py``). Verifier keys are written ``name+hash+base64(type || public key)``.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence

from raretrace.crypto.keys import PublicKey, Signer, b64decode_strict
from raretrace.errors import ProofError, SignatureError, ValidationError

ED25519 = 0x01
SIG_PREFIX = "— "
MAX_SIGNATURES = 100


def check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise ValidationError(f"{name!r} is not a key name (non-empty, no spaces, no '+')", field="name")


def key_hash(name: str, key_type: int, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def verifier_key_text(name: str, public_key: bytes, key_type: int = ED25519) -> str:
    check_name(name)
    return (f"{name}+{key_hash(name, key_type, public_key).hex()}+"
            f"{base64.b64encode(bytes([key_type]) + public_key).decode()}")


def signer_key_text(name: str, seed: bytes) -> str:
    """The Go note package's private key text; for interoperability tests and key export."""
    from raretrace.crypto.keys import Ed25519Signer

    public = Ed25519Signer.from_seed(seed).public_key
    return (f"PRIVATE+KEY+{name}+{key_hash(name, ED25519, public).hex()}+"
            f"{base64.b64encode(bytes([ED25519]) + seed).decode()}")


def parse_verifier_key(text: str, key_type: int = ED25519) -> tuple[str, bytes]:
    """(name, raw public key) of a verifier key, checking its type byte and hash."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise ValidationError("a verifier key is name+hash+base64key", field="verifier_key")
    name, hash_hex, key_b64 = parts
    check_name(name)
    raw = b64decode_strict(key_b64, field="verifier_key")
    if len(raw) != 33 or raw[0] != key_type:
        raise ValidationError(f"not an Ed25519 key of type 0x{key_type:02x}", field="verifier_key")
    if hash_hex != key_hash(name, key_type, raw[1:]).hex():
        raise ValidationError("the key hash does not match the name and key", field="verifier_key")
    return name, raw[1:]


def sign_note(text: str, signers: Sequence[tuple[str, Signer]]) -> str:
    """The signed note: text, a blank line, one signature line per (name, signer)."""
    check_text(text)
    lines = []
    for name, signer in signers:
        check_name(name)
        sig = signer.sign(text.encode())
        blob = key_hash(name, ED25519, signer.public_key) + sig
        lines.append(f"{SIG_PREFIX}{name} {base64.b64encode(blob).decode()}\n")
    return text + "\n" + "".join(lines)


def check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise ValidationError("note text must end in a newline", field="note")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise ValidationError("note text holds a control character", field="note")


def split_note(note: str) -> tuple[str, list[str]]:
    """(text, signature lines without their newline); errors if the note is not well formed."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise ProofError("not a signed note: no blank line before the signatures", field="note")
    text, block = note[:split + 1], note[split + 2:]
    check_text(text)
    lines = block[:-1].split("\n") if block else []
    if not lines or len(lines) > MAX_SIGNATURES:
        raise ProofError("a signed note carries 1 to 100 signature lines", field="note")
    for line in lines:
        if not line.startswith(SIG_PREFIX) or len(line.split(" ")) != 3:
            raise ProofError(f"malformed signature line {line!r}", field="note")
    return text, lines


def parse_signature_line(line: str) -> tuple[str, bytes, bytes]:
    """(name, key hash, signature bytes) of a signature line."""
    _, name, b64 = line.split(" ")
    try:
        blob = base64.b64decode(b64, validate=True)
    except ValueError as e:
        raise ProofError(f"signature of {name} is not valid base64", field="note") from e
    if len(blob) < 5:
        raise ProofError(f"signature of {name} is too short", field="note")
    return name, blob[:4], blob[4:]


def open_note(note: str, verifiers: Mapping[str, bytes]) -> tuple[str, list[str]]:
    """Verify a note against known Ed25519 keys {name: public key}; returns (text, names that signed).

    Signatures by unknown keys are ignored; a bad signature by a known key, or no known signature at
    all, is an error.
    """
    text, lines = split_note(note)
    verified: list[str] = []
    for line in lines:
        name, hash4, sig = parse_signature_line(line)
        public = verifiers.get(name)
        if public is None or hash4 != key_hash(name, ED25519, public):
            continue
        try:
            PublicKey(public).verify(sig, text.encode())
        except SignatureError as e:
            raise ProofError(f"signature by {name} does not verify", field="note") from e
        verified.append(name)
    if not verified:
        raise ProofError(f"no signature by a known key ({', '.join(verifiers) or 'none given'})", field="note")
    return text, verified


