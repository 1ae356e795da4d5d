"""C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint): the signed tree head of the log.

Body: the origin line, the tree size in decimal, the base64 root hash, then optional extension
lines; signed as a C2SP note by the log's key, whose name is the origin.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from raretrace.crypto.keys import Signer
from raretrace.errors import ProofError
from raretrace.log.merkle import HASH_SIZE
from raretrace.log.note import check_name, open_note, sign_note

_SIZE_RE = re.compile(r"^(0|[1-9][0-9]*)$")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_name(self.origin)
        if self.size < 0:
            raise ProofError("a tree size is not negative", field="size")
        if len(self.root_hash) != HASH_SIZE:
            raise ProofError(f"a root hash has {HASH_SIZE} bytes", field="root_hash")
        for line in self.extensions:
            if not line or "\n" in line:
                raise ProofError("an extension line is non-empty and has no newline", field="extensions")

    def to_text(self) -> str:
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise ProofError("a checkpoint ends in a newline", field="checkpoint")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise ProofError("a checkpoint has an origin, a size and a root hash line", field="checkpoint")
        origin, size_text, root_text, *extensions = lines
        if not _SIZE_RE.match(size_text):
            raise ProofError(f"{size_text!r} is not a decimal tree size", field="checkpoint.size")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as e:
            raise ProofError("the root hash is not valid base64", field="checkpoint.root_hash") from e
        return cls(origin, int(size_text), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, name: str, signer: Signer) -> str:
    return sign_note(checkpoint.to_text(), [(name, signer)])


def open_checkpoint(note: str, name: str, public_key: bytes) -> Checkpoint:
    """Verify the log's signature and parse the body; the origin must be the key's name."""
    text, _ = open_note(note, {name: public_key})
    checkpoint = Checkpoint.parse(text)
    if checkpoint.origin != name:
        raise ProofError(f"checkpoint is for origin {checkpoint.origin!r}, not {name!r}", field="checkpoint")
    return checkpoint
