"""C2SP tlog-cosignature v1 with Ed25519 (https://c2sp.org/tlog-cosignature): witnesses' cosignatures.

A witness (another consortium member) states that, as of a time, this checkpoint is the largest
consistent one it has seen for the log. The statement is a note signature line whose key hash uses
signature type 0x04 and whose bytes after the key hash are a ``timestamped_signature``: the timestamp
as a big-endian u64, then the Ed25519 signature over

    "cosignature/v1\\n" "time <timestamp>\\n" <checkpoint note text>

The message does not name the witness, which is why a witness key must serve one witness only.
"""

from __future__ import annotations

from raretrace.crypto.keys import PublicKey, Signer
from raretrace.errors import ProofError, ValidationError
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.note import (
    NamedKey,
    NoteSignature,
    check_key_name,
    key_hash,
    key_text,
    parse_key_text,
    parse_signature_line,
)

COSIGNATURE_V1 = 0x04
MAX_TIMESTAMP = 2**63 - 1
_TIMESTAMP_LEN = 8
_ED25519_SIG_LEN = 64


class WitnessKey(NamedKey):
    """A trusted witness: its cosignatures carry key type 0x04 (cosignature/v1)."""

    __slots__ = ()
    key_type = COSIGNATURE_V1


def witness_key_text(name: str, public_key: bytes) -> str:
    """The witness verifier key text ``name+hash+base64(0x04 || public key)``."""
    return key_text(name, COSIGNATURE_V1, PublicKey(public_key).raw)


def parse_witness_key(text: str) -> WitnessKey:
    """Parse a witness verifier key text (type 0x04), checking its key hash."""
    return WitnessKey(*parse_key_text(text, COSIGNATURE_V1))


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    """The bytes a witness signs: header line, time line, then the checkpoint's note text."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}".encode()


def _check_timestamp(timestamp: int) -> None:
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValidationError(f"a timestamp is an integer 0..2^63-1, got {timestamp!r}", field="timestamp")


def cosign(checkpoint_text: str, name: str, signer: Signer, timestamp: int) -> str:
    """The witness's cosignature line (without a newline) on a checkpoint text, at POSIX ``timestamp``."""
    Checkpoint.parse(checkpoint_text)  # a witness cosigns checkpoints, nothing else
    check_key_name(name)
    _check_timestamp(timestamp)
    signature = signer.sign(cosigned_message(checkpoint_text, timestamp))
    stamped = timestamp.to_bytes(_TIMESTAMP_LEN, "big") + signature
    return NoteSignature(name, key_hash(name, COSIGNATURE_V1, signer.public_key), stamped).line


def verify_cosignature(checkpoint_text: str, line: str, witness: WitnessKey | str) -> int:
    """Verify one cosignature line by ``witness`` on a checkpoint text; returns its timestamp.

    Raises ProofError if the line is not by that witness's key or does not verify, ValidationError
    if the line, the checkpoint text or the witness key is malformed.
    """
    key = witness if isinstance(witness, WitnessKey) else parse_witness_key(witness)
    Checkpoint.parse(checkpoint_text)
    sig = parse_signature_line(line)
    # 1. The line must name the witness and carry its key hash (type 0x04).
    if sig.name != key.name:
        raise ProofError(f"the cosignature is by {sig.name!r}, not witness {key.name!r}", field="cosignature")
    if sig.key_hash != key.key_hash:
        raise ProofError(
            f"the cosignature's key hash {sig.key_hash.hex()} is not witness {key.name}'s "
            f"{key.key_hash.hex()} (another key, or not a v1 cosignature)",
            field="cosignature",
        )
    # 2. The rest is a timestamped_signature: u64 timestamp, 64-byte Ed25519 signature.
    if len(sig.signature) != _TIMESTAMP_LEN + _ED25519_SIG_LEN:
        raise ProofError(
            f"a v1 cosignature has {_TIMESTAMP_LEN + _ED25519_SIG_LEN} bytes after the key hash, "
            f"got {len(sig.signature)}",
            field="cosignature",
        )
    timestamp = int.from_bytes(sig.signature[:_TIMESTAMP_LEN], "big")
    if timestamp > MAX_TIMESTAMP:
        raise ProofError(f"the cosignature's timestamp {timestamp} exceeds 2^63-1", field="cosignature")
    # 3. The Ed25519 signature must cover the cosigned message at that timestamp.
    message = cosigned_message(checkpoint_text, timestamp)
    if not PublicKey(key.public_key).is_valid(sig.signature[_TIMESTAMP_LEN:], message):
        raise ProofError(
            f"the cosignature by {key.name} does not verify on this checkpoint", field="cosignature"
        )
    return timestamp
