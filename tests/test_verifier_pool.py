"""The pipe-fed verifier pool finds the first bad signature of every chunk, in any order of asking,
and a registry using it refuses a batch with one bad signature without writing anything."""

from __future__ import annotations

import json
import os

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.verifier_pool import VerifierPool, encode, first_bad
from raretrace.errors import SignatureError
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from tests.chain_fixtures import snapshot
from tests.test_bad_input import _shipped

SIGNER = Ed25519Signer.from_seed(bytes(32))


def _items(count: int, bad: set[int]) -> list[tuple[bytes, bytes, bytes]]:
    out = []
    for i in range(count):
        message = os.urandom(i % 50)
        signature = SIGNER.sign(message)
        if i in bad:  # a flipped bit, or a signature of the wrong length
            signature = signature[:-1] if i % 2 else bytes([signature[0] ^ 4]) + signature[1:]
        out.append((SIGNER.public_key, signature, message))
    return out


def test_first_bad_in_process() -> None:
    assert first_bad(encode(_items(10, set()))) == -1
    assert first_bad(encode(_items(10, {7, 3}))) == 3
    assert first_bad(encode(_items(10, {8}))) == 8
    with pytest.raises(ValueError, match="32 bytes"):
        encode([(b"short", b"", b"")])


def test_pool_answers_each_chunk_whatever_the_order_of_asking() -> None:
    chunks = [_items(20, bad) for bad in (set(), {5}, {0, 19}, set(), {19}, {12, 13})]
    expected = [None, 5, 0, None, 19, 12]
    with VerifierPool(2) as pool:
        tickets = [pool.submit(chunk) for chunk in chunks]
        tickets[1].cancel()  # an abandoned chunk's reply is skipped, not handed to another
        order = [5, 0, 3, 2, 4]
        assert {i: tickets[i].result() for i in order} == {i: expected[i] for i in order}
        again = pool.submit(chunks[5])  # the pool stays in step after a cancellation
        assert again.result() == 12


def test_registry_with_the_pool_refuses_a_bad_signature_and_writes_nothing(db_url: str) -> None:
    chain = _shipped(db_url)
    batch = [
        chain.envelope(
            "US-MINE",
            "extract",
            deposit="Mountain Pass",
            outputs=[lot(f"urn:raretrace:lot:vp-{i}", "ore", 1.0, {"Nd": 0.01})],
        )
        for i in range(300)
    ]
    env = json.loads(batch[250])
    env["signatures"] = json.loads(batch[4])["signatures"]
    batch[250] = json.dumps(env).encode()
    with VerifierPool(2) as pool:
        pooled = ScriptedChain(Registry(chain.registry.engine, signature_pool=pool))
        before = snapshot(pooled.registry)
        with pytest.raises(SignatureError, match="envelope 250 .*does not verify over the payload"):
            pooled.registry.append(batch)
        assert snapshot(pooled.registry) == before
        result = pooled.registry.append(batch[:250])
        assert result.count == 250
