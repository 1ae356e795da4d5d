"""The pipe-fed verifier pool finds the first bad signature of every chunk, in any order of asking
(a registry using it: ``test_bad_input.test_wrong_signature_found_by_worker_processes``)."""

from __future__ import annotations

import os

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.verifier_pool import VerifierPool, encode, first_bad

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
