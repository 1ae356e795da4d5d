"""Witness cosignatures (C2SP tlog-cosignature) accepted, verified and served with the checkpoint."""

from __future__ import annotations

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.errors import ProofError, ValidationError
from raretrace.ledger.logview import add_cosignatures, add_witness, latest_checkpoint
from raretrace.log.cosignature import cosign, verify_cosignature, witness_key_text
from raretrace.log.note import split_note
from tests.chain_fixtures import mine_and_separator, snapshot

WITNESS = "witness.consortium.example/w1"


def test_cosignature_from_a_trusted_witness_is_served(db_url: str) -> None:
    registry = mine_and_separator(db_url).registry
    witness = Ed25519Signer.generate()
    add_witness(registry, witness_key_text(WITNESS, witness.public_key))
    note = latest_checkpoint(registry)
    text, _ = split_note(note)
    line = cosign(text, WITNESS, witness, 1_764_000_000)
    assert add_cosignatures(registry, note + line + "\n") == [WITNESS]

    served = latest_checkpoint(registry)
    assert served.startswith(note) and served.endswith(line + "\n")
    served_text, lines = split_note(served)
    assert served_text == text and len(lines) == 2
    assert (
        verify_cosignature(served_text, lines[1], witness_key_text(WITNESS, witness.public_key))
        == 1_764_000_000
    )


def test_bad_or_untrusted_cosignatures_are_refused_and_change_nothing(db_url: str) -> None:
    registry = mine_and_separator(db_url).registry
    witness, stranger = Ed25519Signer.generate(), Ed25519Signer.generate()
    add_witness(registry, witness_key_text(WITNESS, witness.public_key))
    note = latest_checkpoint(registry)
    text, _ = split_note(note)
    before = snapshot(registry)
    with pytest.raises(ProofError, match="no cosignature from a trusted witness"):
        add_cosignatures(registry, note + cosign(text, "someone.else/w", stranger, 5) + "\n")
    forged = cosign(text, WITNESS, stranger, 5)  # right name, wrong key
    with pytest.raises((ProofError, ValidationError)):
        add_cosignatures(registry, note + forged + "\n")
    other_text = text.replace("\n4\n", "\n3\n")
    with pytest.raises(ProofError, match="not one this log signed"):
        add_cosignatures(registry, other_text + "\n" + cosign(other_text, WITNESS, witness, 5) + "\n")
    assert snapshot(registry) == before
    with pytest.raises(ValidationError, match="already trusted"):
        add_witness(registry, witness_key_text(WITNESS, witness.public_key))
