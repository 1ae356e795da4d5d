"""C2SP tlog-cosignature v1 (https://c2sp.org/tlog-cosignature): witnesses cosigning checkpoints.

A cosignature is a note signature line whose key hash uses key type 0x04 and whose signature bytes
are ``timestamp (u64, big-endian) || Ed25519 signature`` over
``"cosignature/v1\\ntime <timestamp>\\n" + checkpoint note body``.
"""

from __future__ import annotations

import base64
import struct

from raretrace.crypto.keys import PublicKey, Signer
from raretrace.errors import ProofError, SignatureError
from raretrace.log.note import (
    check_name,
    check_text,
    key_hash,
    parse_signature_line,
    parse_verifier_key,
    verifier_key_text,
)

COSIGNATURE_V1 = 0x04
_MAX_TIMESTAMP = 2**63 - 1


def cosigned_message(checkpoint_text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + checkpoint_text.encode()


def witness_key_text(name: str, public_key: bytes) -> str:
    return verifier_key_text(name, public_key, COSIGNATURE_V1)


def parse_witness_key(text: str) -> tuple[str, bytes]:
    return parse_verifier_key(text, COSIGNATURE_V1)


def cosign(checkpoint_text: str, name: str, signer: Signer, timestamp: int) -> str:
    """The cosignature line (no trailing newline) a witness adds to a checkpoint."""
    check_name(name)
    check_text(checkpoint_text)
    if not 0 <= timestamp <= _MAX_TIMESTAMP:
        raise ProofError("a cosignature timestamp is between 0 and 2^63-1", field="timestamp")
    sig = signer.sign(cosigned_message(checkpoint_text, timestamp))
    blob = key_hash(name, COSIGNATURE_V1, signer.public_key) + struct.pack(">Q", timestamp) + sig
    return f"— {name} {base64.b64encode(blob).decode()}"


def verify_cosignature(checkpoint_text: str, line: str, witness_key: str) -> int:
    """Verify one cosignature line against a witness verifier key; returns its timestamp."""
    name, public = parse_witness_key(witness_key)
    line_name, hash4, body = parse_signature_line(line.rstrip("\n"))
    if line_name != name or hash4 != key_hash(name, COSIGNATURE_V1, public):
        raise ProofError(f"the cosignature is not by witness {name}", field="cosignature")
    if len(body) != 8 + 64:
        raise ProofError(
            "a v1 cosignature holds an 8-byte timestamp and a 64-byte signature", field="cosignature"
        )
    (timestamp,) = struct.unpack(">Q", body[:8])
    if timestamp > _MAX_TIMESTAMP:
        raise ProofError("cosignature timestamp above 2^63-1", field="cosignature")
    try:
        PublicKey(public).verify(body[8:], cosigned_message(checkpoint_text, timestamp))
    except SignatureError as e:
        raise ProofError(f"cosignature by {name} does not verify", field="cosignature") from e
    return int(timestamp)
