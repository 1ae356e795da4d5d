"""C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys (signature type 0x01).

A note is a text ending in a newline, a blank line, and signature lines ``— <name> base64(keyhash ||
signature)``. Checkpoints and witness cosignatures are notes, so every rule of the format lives here
once: what a valid text and key name are, how a note is split, and how key texts are encoded. The
behaviour follows the Go reference (golang.org/x/mod/sumdb/note): signatures by unknown keys are
ignored but reported, a known key's bad signature rejects the whole note, and a note without any
verified signature is rejected.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Self

from raretrace.crypto.keys import PUBLIC_KEY_LEN, SIGNATURE_LEN, Ed25519Signer, PublicKey, Signer
from raretrace.errors import ProofError, ValidationError

SIG_ED25519 = 0x01
KEY_HASH_LEN = 4
MAX_SIGNATURES = 100  # the spec asks verifiers to accept at least 16
SIGNATURE_PREFIX = "— "  # em dash, space


# --- names, texts, base64 ------------------------------------------------------------------------


def check_key_name(name: str, *, field: str = "name") -> None:
    """A key name is non-empty, valid UTF-8, and has no Unicode spaces, '+' or control characters."""
    if not isinstance(name, str) or not name:
        raise ValidationError("a key name must be a non-empty string", field=field)
    bad = next(
        (c for c in name if c.isspace() or c == "+" or ord(c) < 0x20 or 0xD800 <= ord(c) <= 0xDFFF), None
    )
    if bad is not None:
        raise ValidationError(
            f"key name {name!r} contains {bad!r}; spaces and '+' are not allowed", field=field
        )


def check_note_text(text: str, *, field: str = "text") -> None:
    """Note text: UTF-8 ending in a newline, with no control characters other than newline."""
    if not isinstance(text, str):
        raise ValidationError("note text must be a string", field=field)
    if not text.endswith("\n"):
        raise ValidationError("note text must end with a newline", field=field)
    _check_chars(text, field)


_BAD_NOTE_CHAR = re.compile("[\x00-\x09\x0b-\x1f\ud800-\udfff]")


def _check_chars(text: str, field: str) -> None:
    bad = _BAD_NOTE_CHAR.search(text)
    if bad is not None:
        i, c = bad.start(), bad.group()
        raise ValidationError(f"character {i} ({c!r}) is not allowed in a note", field=field)


def b64decode(text: str, *, field: str) -> bytes:
    """Standard padded base64 in its one canonical spelling; anything else names the field."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as e:
        raise ValidationError(f"{text[:40]!r} is not valid base64", field=field) from e
    if base64.b64encode(raw).decode() != text:
        raise ValidationError(f"{text[:40]!r} is not canonical base64", field=field)
    return raw


def b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# --- keys ----------------------------------------------------------------------------------------


def key_hash(name: str, key_type: int, public_key: bytes) -> bytes:
    """The 4-byte key ID: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:KEY_HASH_LEN]


def key_text(name: str, key_type: int, public_key: bytes) -> str:
    """A verifier key in note form: ``name+hash8hex+base64(type || public key)``."""
    check_key_name(name)
    return f"{name}+{key_hash(name, key_type, public_key).hex()}+{b64encode(bytes([key_type]) + public_key)}"


def parse_key_text(text: str, key_type: int, *, field: str = "verifier_key") -> tuple[str, bytes]:
    """``name+hash+base64(type || key)`` of the given type -> (name, raw 32-byte public key)."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise ValidationError("a verifier key is name+hash+base64key", field=field)
    name, hash_hex, key64 = parts
    check_key_name(name, field=field)
    if len(hash_hex) != 2 * KEY_HASH_LEN or any(c not in "0123456789abcdefABCDEF" for c in hash_hex):
        raise ValidationError(f"key hash {hash_hex!r} is not 8 hex digits", field=field)
    raw = b64decode(key64, field=field)
    if not raw or raw[0] != key_type:
        got = f"0x{raw[0]:02x}" if raw else "nothing"
        raise ValidationError(f"key type is {got}, expected 0x{key_type:02x}", field=field)
    public = raw[1:]
    if len(public) != PUBLIC_KEY_LEN:
        raise ValidationError(
            f"an Ed25519 public key has {PUBLIC_KEY_LEN} bytes, got {len(public)}", field=field
        )
    if bytes.fromhex(hash_hex) != key_hash(name, key_type, public):
        raise ValidationError(f"key hash {hash_hex} does not match name {name!r} and the key", field=field)
    return name, public


class NamedKey(tuple[str, bytes]):
    """A trusted key, ``(name, raw Ed25519 public key)``, of the signature type ``key_type``.

    It unpacks like the pair it is; subclasses fix the type (note signatures, cosignatures).
    """

    __slots__ = ()
    key_type: int = SIG_ED25519

    def __new__(cls, name: str, public_key: bytes) -> Self:
        check_key_name(name)
        return super().__new__(cls, (name, PublicKey(bytes(public_key)).raw))

    @property
    def name(self) -> str:
        return self[0]

    @property
    def public_key(self) -> bytes:
        return self[1]

    @property
    def key_hash(self) -> bytes:
        return key_hash(self.name, self.key_type, self.public_key)

    def key_text(self) -> str:
        return key_text(self.name, self.key_type, self.public_key)


class NoteVerifier(NamedKey):
    """A trusted Ed25519 note key (signature type 0x01)."""

    __slots__ = ()

    def verify(self, text: bytes, signature: bytes) -> bool:
        return len(signature) == SIGNATURE_LEN and PublicKey(self.public_key).is_valid(signature, text)


def verifier_key_text(name: str, public_key: bytes) -> str:
    """The verifier key text of an Ed25519 note key (what clients configure)."""
    return key_text(name, SIG_ED25519, PublicKey(public_key).raw)


def parse_verifier_key(text: str) -> NoteVerifier:
    return NoteVerifier(*parse_key_text(text, SIG_ED25519))


def signer_key_text(name: str, signer: Ed25519Signer) -> str:
    """``PRIVATE+KEY+name+hash+base64(0x01 || seed)``: secret, for key files only."""
    kh = key_hash(name, SIG_ED25519, signer.public_key)
    check_key_name(name)
    return f"PRIVATE+KEY+{name}+{kh.hex()}+{b64encode(bytes([SIG_ED25519]) + signer.seed)}"


def parse_signer_key(text: str) -> tuple[str, Ed25519Signer]:
    """A signer key text -> (name, signer); the key hash must match the derived public key."""
    field = "signer_key"
    text = text.strip()
    if not text.startswith("PRIVATE+KEY+"):
        raise ValidationError("a signer key starts with PRIVATE+KEY+", field=field)
    parts = text.removeprefix("PRIVATE+KEY+").split("+", 2)
    if len(parts) != 3:
        raise ValidationError("a signer key is PRIVATE+KEY+name+hash+base64key", field=field)
    name, hash_hex, key64 = parts
    check_key_name(name, field=field)
    raw = b64decode(key64, field=field)
    if len(raw) != 1 + PUBLIC_KEY_LEN or raw[0] != SIG_ED25519:
        raise ValidationError("a signer key holds 0x01 and a 32-byte Ed25519 seed", field=field)
    signer = Ed25519Signer.from_seed(raw[1:])
    if hash_hex != key_hash(name, SIG_ED25519, signer.public_key).hex():
        raise ValidationError(f"key hash {hash_hex!r} does not match name {name!r} and the key", field=field)
    return name, signer


# --- signature lines -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One parsed signature line: key name, 4-byte key hash, and the signature after the hash."""

    name: str
    key_hash: bytes
    signature: bytes

    @property
    def line(self) -> str:
        """The signature line, without its newline."""
        return f"{SIGNATURE_PREFIX}{self.name} {b64encode(self.key_hash + self.signature)}"


def parse_signature_line(line: str) -> NoteSignature:
    """Parse ``— <name> base64(keyhash || signature)`` (a trailing newline is allowed)."""
    field = "signature"
    body = line.removesuffix("\n")
    if not body.startswith(SIGNATURE_PREFIX):
        raise ValidationError(f"signature line {body[:40]!r} does not start with '— '", field=field)
    name, _, sig64 = body[len(SIGNATURE_PREFIX) :].partition(" ")
    check_key_name(name, field=field)
    raw = b64decode(sig64, field=field) if sig64 else b""
    if len(raw) <= KEY_HASH_LEN:
        raise ValidationError(f"signature by {name} is too short ({len(raw)} bytes)", field=field)
    return NoteSignature(name, raw[:KEY_HASH_LEN], raw[KEY_HASH_LEN:])


def split_note(note: str | bytes) -> tuple[str, list[str]]:
    """A signed note -> (its text, its signature lines without newlines); checks the format only."""
    field = "note"
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValidationError(f"note is not valid UTF-8 at byte {e.start}", field=field) from e
    if not isinstance(note, str):
        raise ValidationError("a note is a string", field=field)
    _check_chars(note, field)
    split = note.rfind("\n\n")
    if split < 0:
        raise ValidationError("note has no blank line before its signatures", field=field)
    text, block = note[: split + 1], note[split + 2 :]
    if not block or not block.endswith("\n"):
        raise ValidationError("note must end with signature lines, each ending in a newline", field=field)
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise ValidationError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}", field=field)
    return text, lines


# --- signing and opening -------------------------------------------------------------------------


def sign_note(text: str, signers: Sequence[tuple[str, Signer]]) -> str:
    """Sign ``text`` with each (key name, Ed25519 signer); returns the signed note."""
    check_note_text(text)
    if not signers:
        raise ValidationError("at least one signer is needed", field="signers")
    message = text.encode()
    lines = []
    for name, signer in signers:
        check_key_name(name, field="signers")
        kh = key_hash(name, SIG_ED25519, signer.public_key)
        lines.append(NoteSignature(name, kh, signer.sign(message)).line + "\n")
    return text + "\n" + "".join(lines)


class OpenedNote(tuple[str, list[str]]):
    """``(text, names of the keys whose signatures verified)``, plus ``unknown`` signatures ignored."""

    unknown: list[NoteSignature]

    def __new__(cls, text: str, signers: list[str], unknown: list[NoteSignature]) -> OpenedNote:
        self = super().__new__(cls, (text, signers))
        self.unknown = unknown
        return self

    @property
    def text(self) -> str:
        return self[0]

    @property
    def signers(self) -> list[str]:
        return self[1]


def open_note(note: str | bytes, verifiers: Iterable[NoteVerifier | str]) -> OpenedNote:
    """Verify a signed note against trusted keys (C2SP signed-note, Signatures section).

    Raises ProofError when a known key's signature does not verify or no known key signed.
    """
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for v in verifiers:
        key = v if isinstance(v, NoteVerifier) else parse_verifier_key(v)
        ident = (key.name, key.key_hash)
        if ident in known and known[ident] != key:
            raise ValidationError(f"two verifier keys share name {key.name} and hash", field="verifiers")
        known[ident] = key
    # 1. Split and check the format.
    text, lines = split_note(note)
    message = text.encode()
    verified: list[str] = []
    unknown: list[NoteSignature] = []
    seen: set[tuple[str, bytes]] = set()
    for line in lines:
        sig = parse_signature_line(line)
        ident = (sig.name, sig.key_hash)
        verifier = known.get(ident)
        # 2. Unknown keys (name or hash differ) are ignored, but reported.
        if verifier is None:
            if sig not in unknown:
                unknown.append(sig)
            continue
        # 3. A known key must verify; repeated signatures by it count once.
        if ident in seen:
            continue
        seen.add(ident)
        if not verifier.verify(message, sig.signature):
            raise ProofError(
                f"the signature by {sig.name}+{sig.key_hash.hex()} does not verify", field="note"
            )
        verified.append(sig.name)
    # 4. At least one known key must have signed.
    if not verified:
        names = ", ".join(f"{s.name}+{s.key_hash.hex()}" for s in unknown) or "nobody"
        raise ProofError(f"the note has no signature by a trusted key (signed by {names})", field="note")
    return OpenedNote(text, verified, unknown)
