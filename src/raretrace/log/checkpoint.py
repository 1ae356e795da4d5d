"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the log's signed tree head.

The note text is the origin line, the tree size in decimal, the base64 root hash, then optional
extension lines, all non-empty. ``Checkpoint`` checks those rules when built, so an invalid checkpoint
cannot exist; ``to_text`` is the one serializer whose bytes get signed. The log's key name is its
origin, and opening a checkpoint insists on that unless told another origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from raretrace.crypto.keys import Signer
from raretrace.errors import ProofError, ValidationError
from raretrace.log.merkle import HASH_SIZE
from raretrace.log.note import (
    NoteVerifier,
    b64decode,
    b64encode,
    check_note_text,
    open_note,
    parse_verifier_key,
    sign_note,
)

MAX_TREE_SIZE = 2**64 - 1
_DECIMAL = re.compile(r"0|[1-9][0-9]*")


def _check_line(line: str, what: str) -> None:
    if not isinstance(line, str) or not line:
        raise ValidationError(f"the {what} line must be a non-empty string", field="checkpoint")
    if "\n" in line:
        raise ValidationError(f"the {what} line cannot contain a newline", field="checkpoint")


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: log ``origin``, tree ``size``, 32-byte ``root_hash`` and opaque extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if (
            isinstance(self.size, bool)
            or not isinstance(self.size, int)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise ValidationError(f"tree size {self.size!r} is not an integer 0..2^64-1", field="checkpoint")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ValidationError(f"the root hash must be {HASH_SIZE} bytes", field="checkpoint")
        object.__setattr__(self, "extensions", tuple(self.extensions))
        for line in self.extensions:
            _check_line(line, "extension")
        check_note_text(self.to_text(), field="checkpoint")  # no control characters anywhere

    def to_text(self) -> str:
        """The note text that is signed (ends with a newline)."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """Parse a checkpoint note text (not a signed note: open that with ``open_checkpoint``)."""
        check_note_text(text, field="checkpoint")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise ValidationError(
                f"a checkpoint has at least an origin, a size and a root hash line, got {len(lines)} line(s)",
                field="checkpoint",
            )
        origin, size, root, *extensions = lines
        if not _DECIMAL.fullmatch(size) or int(size) > MAX_TREE_SIZE:
            raise ValidationError(
                f"tree size {size[:30]!r} is not a decimal 0..2^64-1 without leading zeros",
                field="checkpoint",
            )
        root_hash = b64decode(root, field="checkpoint")
        if len(root_hash) != HASH_SIZE:
            raise ValidationError(
                f"the root hash has {len(root_hash)} bytes, a SHA-256 hash has {HASH_SIZE}",
                field="checkpoint",
            )
        return cls(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, name: str, signer: Signer) -> str:
    """The signed checkpoint note, signed by key ``name`` (the log's origin by convention)."""
    return sign_note(checkpoint.to_text(), [(name, signer)])


def open_checkpoint(
    note: str, verifier: NoteVerifier | str, public_key: bytes | None = None, *, origin: str | None = None
) -> Checkpoint:
    """Verify the log's signature on a checkpoint note and parse it.

    ``verifier`` is a NoteVerifier, a verifier key text, or the key name with ``public_key`` raw bytes.
    The checkpoint's origin must equal ``origin``, by default the key's name. Other signatures (witness
    cosignatures, say) are ignored here.
    """
    if public_key is not None:
        if not isinstance(verifier, str):
            raise ValidationError("with a public key, the verifier is the key name", field="verifier")
        key = NoteVerifier(verifier, public_key)
    else:
        key = verifier if isinstance(verifier, NoteVerifier) else parse_verifier_key(verifier)
    text = open_note(note, [key]).text
    checkpoint = Checkpoint.parse(text)
    expected = key.name if origin is None else origin
    if checkpoint.origin != expected:
        raise ProofError(
            f"the checkpoint is for origin {checkpoint.origin!r}, not {expected!r}", field="checkpoint"
        )
    return checkpoint
