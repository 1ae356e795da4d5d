"""C2SP tlog-cosignature v1: witness keys, cosigning, verification, and tampering of every part."""

from __future__ import annotations

import base64

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.errors import ProofError, RaretraceError, ValidationError
from raretrace.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from raretrace.log.cosignature import (
    COSIGNATURE_V1,
    MAX_TIMESTAMP,
    WitnessKey,
    cosign,
    cosigned_message,
    parse_witness_key,
    verify_cosignature,
    witness_key_text,
)
from raretrace.log.note import (
    NoteSignature,
    key_hash,
    open_note,
    parse_signature_line,
    split_note,
    verifier_key_text,
)

LOG = Ed25519Signer.from_seed(b"\x0a" * 32)
WITNESS = Ed25519Signer.from_seed(b"\x0b" * 32)
OTHER = Ed25519Signer.from_seed(b"\x0c" * 32)
ORIGIN = "registry.example.org/rare-earths"
W = "witness.example.org/w1"
TEXT = Checkpoint(ORIGIN, 20852163, bytes(range(32))).to_text()
T = 1679315147


def witness() -> WitnessKey:
    return WitnessKey(W, WITNESS.public_key)


def test_the_signed_message_is_the_spec_layout() -> None:
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert cosigned_message(body, T) == (
        b"cosignature/v1\ntime 1679315147\n"
        b"example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )


def test_the_spec_example_line_frames_a_timestamped_signature() -> None:
    """The spec publishes no key for its example, so only the framing can be checked."""
    line = (
        "— witness.example.com/w1 "
        "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
    )
    sig = parse_signature_line(line)
    assert sig.key_hash.hex() == "8d66cf3f" and len(sig.signature) == 72
    assert int.from_bytes(sig.signature[:8], "big") == T
    impostor = WitnessKey("witness.example.com/w1", WITNESS.public_key)
    with pytest.raises(ProofError, match="key hash 8d66cf3f"):
        verify_cosignature(
            "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
            line,
            impostor,
        )


def test_witness_keys_use_type_0x04() -> None:
    text = witness_key_text(W, WITNESS.public_key)
    _, hash_hex, key64 = text.split("+", 2)
    assert base64.b64decode(key64) == bytes([COSIGNATURE_V1]) + WITNESS.public_key
    assert bytes.fromhex(hash_hex) == key_hash(W, 0x04, WITNESS.public_key)
    assert parse_witness_key(text) == (W, WITNESS.public_key) == witness()
    assert witness().key_text() == text
    with pytest.raises(ValidationError, match="key type is 0x01, expected 0x04"):
        parse_witness_key(verifier_key_text(W, WITNESS.public_key))
    with pytest.raises(ValidationError, match="does not match"):
        parse_witness_key(text.replace(W, "witness.example.org/w2"))


def test_cosign_and_verify_round_trip() -> None:
    line = cosign(TEXT, W, WITNESS, T)
    assert line.startswith(f"— {W} ") and not line.endswith("\n")
    assert verify_cosignature(TEXT, line, witness()) == T
    assert verify_cosignature(TEXT, line + "\n", witness_key_text(W, WITNESS.public_key)) == T
    assert verify_cosignature(TEXT, cosign(TEXT, W, WITNESS, 0), witness()) == 0
    assert verify_cosignature(TEXT, cosign(TEXT, W, WITNESS, MAX_TIMESTAMP), witness()) == MAX_TIMESTAMP


def test_a_cosigned_checkpoint_note_still_opens_for_the_log() -> None:
    note = sign_checkpoint(Checkpoint.parse(TEXT), ORIGIN, LOG) + cosign(TEXT, W, WITNESS, T) + "\n"
    assert open_checkpoint(note, ORIGIN, LOG.public_key) == Checkpoint.parse(TEXT)
    text, lines = split_note(note)
    assert text == TEXT and len(lines) == 2
    assert verify_cosignature(text, lines[1], witness()) == T
    assert [s.name for s in open_note(note, [verifier_key_text(ORIGIN, LOG.public_key)]).unknown] == [W]


def test_tampering_with_anything_fails() -> None:
    line = cosign(TEXT, W, WITNESS, T)
    sig = parse_signature_line(line)
    # another checkpoint
    with pytest.raises(ProofError, match="does not verify"):
        verify_cosignature(TEXT.replace("20852163", "20852164"), line, witness())
    # another timestamp in the signed bytes
    later = (T + 1).to_bytes(8, "big") + sig.signature[8:]
    with pytest.raises(ProofError, match="does not verify"):
        verify_cosignature(TEXT, NoteSignature(W, sig.key_hash, later).line, witness())
    # another witness name or key
    with pytest.raises(ProofError, match="not witness"):
        verify_cosignature(TEXT, line, WitnessKey("witness.example.org/w2", WITNESS.public_key))
    with pytest.raises(ProofError, match="key hash"):
        verify_cosignature(TEXT, line, WitnessKey(W, OTHER.public_key))
    # a note signature (type 0x01) by the same key is not a cosignature
    plain = NoteSignature(W, key_hash(W, 0x01, WITNESS.public_key), WITNESS.sign(TEXT.encode())).line
    with pytest.raises(ProofError, match="not a v1 cosignature"):
        verify_cosignature(TEXT, plain, witness())
    # truncated and extended signatures
    for body in (sig.signature[:-1], sig.signature + b"\x00"):
        with pytest.raises(ProofError, match="72 bytes"):
            verify_cosignature(TEXT, NoteSignature(W, sig.key_hash, body).line, witness())
    # every byte of the line
    raw = line.encode()
    for i in range(len(raw)):
        changed = raw[:i] + bytes([raw[i] ^ 0x01]) + raw[i + 1 :]
        with pytest.raises((RaretraceError, UnicodeDecodeError)):
            verify_cosignature(TEXT, changed.decode(), witness())


def test_timestamps_above_2_63_are_rejected() -> None:
    too_late = 2**63
    signature = WITNESS.sign(cosigned_message(TEXT, too_late))
    line = NoteSignature(W, witness().key_hash, too_late.to_bytes(8, "big") + signature).line
    with pytest.raises(ProofError, match="exceeds 2\\^63-1"):
        verify_cosignature(TEXT, line, witness())
    for bad in (-1, 2**63, True):
        with pytest.raises(ValidationError, match="timestamp"):
            cosign(TEXT, W, WITNESS, bad)


def test_only_checkpoints_are_cosigned() -> None:
    with pytest.raises(ValidationError):
        cosign("not a checkpoint\n", W, WITNESS, T)
    with pytest.raises(ValidationError):
        cosign(TEXT, "bad name", WITNESS, T)
    with pytest.raises(ValidationError):
        verify_cosignature("not a checkpoint\n", cosign(TEXT, W, WITNESS, T), witness())
