"""RFC 9162 hashing, proof generation against the RFC's own recursive definitions, and verification."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raretrace.errors import ProofError, ValidationError
from raretrace.log.merkle import (
    EMPTY_ROOT,
    ProvenNodes,
    TreeBorder,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    memory_source,
    node_hash,
    range_nodes,
    root_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.log_helpers import flip, leaves_of

# --- an independent transcription of RFC 9162 §2.1 (recursive, slow, obviously right) -------------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return _h(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = _k(len(leaves))
    return _h(b"\x01" + rfc_mth(leaves[:k]) + rfc_mth(leaves[k:]))


def rfc_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*rfc_path(m, leaves[:k]), rfc_mth(leaves[k:])]
    return [*rfc_path(m - k, leaves[k:]), rfc_mth(leaves[:k])]


def rfc_subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if whole else [rfc_mth(leaves)]
    k = _k(n)
    if m <= k:
        return [*rfc_subproof(m, leaves[:k], whole), rfc_mth(leaves[k:])]
    return [*rfc_subproof(m - k, leaves[k:], False), rfc_mth(leaves[:k])]


# --- hashing -------------------------------------------------------------------------------------


def test_hashes_use_the_rfc_domain_separation() -> None:
    assert leaf_hash(b"abc") == _h(b"\x00abc")
    assert node_hash(b"L" * 32, b"R" * 32) == _h(b"\x01" + b"L" * 32 + b"R" * 32)
    assert root_hash([]) == EMPTY_ROOT == _h(b"")
    # The well-known hash of an empty entry (RFC 6962 test data): the root of a one-entry tree.
    assert (
        root_hash([leaf_hash(b"")]).hex()
        == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@given(st.integers(min_value=0, max_value=300), st.binary(max_size=4))
def test_root_matches_the_rfc_definition(n: int, salt: bytes) -> None:
    leaves = leaves_of(n, salt)
    assert root_hash(leaves) == rfc_mth(leaves)
    assert TreeBorder(n, memory_source(leaves)).root == rfc_mth(leaves)


@given(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=5000))
def test_range_nodes_cover_the_range_exactly(a: int, b: int) -> None:
    begin, end = min(a, b), max(a, b)
    covered = []
    for level, index in range_nodes(begin, end):
        covered.extend(range(index << level, (index + 1) << level))
    assert covered == list(range(begin, end))


# --- generation against the RFC ------------------------------------------------------------------


@settings(max_examples=150)
@given(st.data(), st.integers(min_value=1, max_value=600))
def test_generated_proofs_are_the_rfc_proofs_and_verify(data: st.DataObject, n: int) -> None:
    leaves = leaves_of(n)
    source = memory_source(leaves)
    root = rfc_mth(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1), label="index")
    proof = inclusion_proof(index, n, source)
    assert proof == rfc_path(index, leaves)
    verify_inclusion(leaves[index], index, n, proof, root)
    m = data.draw(st.integers(min_value=1, max_value=n), label="size1")
    cons = consistency_proof(m, n, source)
    assert cons == rfc_subproof(m, leaves, True)
    verify_consistency(m, n, cons, rfc_mth(leaves[:m]), root)


def test_every_proof_of_small_trees() -> None:
    for n in range(1, 40):
        leaves = leaves_of(n, b"small")
        source = memory_source(leaves)
        border = TreeBorder(n, source)
        for i in range(n):
            assert inclusion_proof(i, n, source, border) == rfc_path(i, leaves)
        for m in range(1, n + 1):
            assert consistency_proof(m, n, source, border) == rfc_subproof(m, leaves, True)


@pytest.mark.parametrize(("index", "size"), [(0, 1), (5, 8), (6, 7), (12, 13), (3, 13)])
def test_any_flipped_bit_breaks_an_inclusion_proof(index: int, size: int) -> None:
    leaves = leaves_of(size, b"flip")
    proof = inclusion_proof(index, size, memory_source(leaves))
    root = rfc_mth(leaves)
    for bit in range(256):
        with pytest.raises(ProofError):
            verify_inclusion(flip(leaves[index], bit), index, size, proof, root)
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, proof, flip(root, bit))
        for k in range(len(proof)):
            bad = [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]]
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, size, bad, root)


def _judged(
    leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes, proven: ProvenNodes | None
) -> str:
    try:
        verify_inclusion(leaf, index, size, proof, root, proven)
    except ProofError as e:
        return f"refused: {e.message}"
    return "included"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 8, 13, 33])
def test_proofs_sharing_proven_nodes_are_judged_as_each_alone(size: int) -> None:
    """Every proof of a tree verified with one ``ProvenNodes`` (so each later one stops where an
    earlier one's path joins it), and then, with it full, every proof changed in each way a forger
    could (a flipped element, another leaf or index, one element more or less): each judged exactly as
    without it. Nodes proven in one tree are not taken for another's."""
    leaves = leaves_of(size, b"shared")
    source = memory_source(leaves)
    root = rfc_mth(leaves)
    proofs = [inclusion_proof(i, size, source) for i in range(size)]
    proven = ProvenNodes(size, root)
    for i in (*range(0, size, 2), *range(1, size, 2)):
        assert _judged(leaves[i], i, size, proofs[i], root, proven) == "included"
    assert proven.nodes or size == 1
    for i, proof in enumerate(proofs):
        flipped = [[*proof[:k], flip(proof[k], 3), *proof[k + 1 :]] for k in range(len(proof))]
        variants = [(leaves[(i + 1) % size], i, proof), (leaves[i], (i + 1) % size, proof)]
        variants += [(leaves[i], i, changed) for changed in (*flipped, [*proof, root], proof[:-1])]
        for leaf, index, changed in variants:
            assert _judged(leaf, index, size, changed, root, proven) == _judged(
                leaf, index, size, changed, root, None
            )
    with pytest.raises(ValueError, match="another tree"):
        verify_inclusion(leaves[0], 0, size, proofs[0], rfc_mth(leaves_of(size, b"other")), proven)


@pytest.mark.parametrize(("size1", "size2"), [(1, 8), (3, 8), (4, 8), (6, 7), (5, 13)])
def test_any_flipped_bit_breaks_a_consistency_proof(size1: int, size2: int) -> None:
    leaves = leaves_of(size2, b"flip")
    proof = consistency_proof(size1, size2, memory_source(leaves))
    root1, root2 = rfc_mth(leaves[:size1]), rfc_mth(leaves)
    for bit in range(256):
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, flip(root1, bit), root2)
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, proof, root1, flip(root2, bit))
        for k in range(len(proof)):
            bad = [*proof[:k], flip(proof[k], bit), *proof[k + 1 :]]
            with pytest.raises(ProofError):
                verify_consistency(size1, size2, bad, root1, root2)


# --- verification edge cases ---------------------------------------------------------------------


def test_inclusion_rejections_name_the_problem() -> None:
    leaves = leaves_of(5)
    proof = inclusion_proof(1, 5, memory_source(leaves))
    root = rfc_mth(leaves)
    with pytest.raises(ProofError, match="not in a tree of size 5"):
        verify_inclusion(leaves[1], 5, 5, proof, root)
    with pytest.raises(ProofError, match="more elements"):
        verify_inclusion(leaves[1], 1, 5, [*proof, proof[0]], root)
    with pytest.raises(ProofError, match="too short"):
        verify_inclusion(leaves[1], 1, 5, proof[:-1], root)
    with pytest.raises(ProofError, match="leaf hash has 31 bytes"):
        verify_inclusion(leaves[1][:31], 1, 5, proof, root)
    with pytest.raises(ProofError, match="element 0 has 33 bytes"):
        verify_inclusion(leaves[1], 1, 5, [proof[0] + b"x", *proof[1:]], root)
    with pytest.raises(ProofError, match="does not lead to the root"):
        verify_inclusion(leaves[2], 1, 5, proof, root)
    with pytest.raises(ValidationError):
        verify_inclusion(leaves[1], -1, 5, proof, root)


def test_consistency_rejections_name_the_problem() -> None:
    leaves = leaves_of(7)
    r3, r7 = rfc_mth(leaves[:3]), rfc_mth(leaves)
    proof = consistency_proof(3, 7, memory_source(leaves))
    verify_consistency(3, 7, proof, r3, r7)
    with pytest.raises(ProofError, match="smaller than the first"):
        verify_consistency(7, 3, proof, r7, r3)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 7, proof, EMPTY_ROOT, r7)
    with pytest.raises(ProofError, match="empty tree"):
        verify_consistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(7, 7, proof, r7, r7)
    with pytest.raises(ProofError, match="roots differ"):
        verify_consistency(7, 7, [], r7, r3)
    verify_consistency(7, 7, [], r7, r7)
    with pytest.raises(ProofError, match="is empty"):
        verify_consistency(3, 7, [], r3, r7)
    with pytest.raises(ProofError, match="too many"):
        verify_consistency(3, 7, [*proof, proof[0]], r3, r7)
    with pytest.raises(ProofError, match="too short"):
        verify_consistency(3, 7, proof[:-1], r3, r7)
    with pytest.raises(ProofError, match="first root"):
        verify_consistency(3, 7, proof, r7, r7)


def test_generation_rejects_impossible_requests() -> None:
    source = memory_source(leaves_of(4))
    with pytest.raises(ValidationError):
        inclusion_proof(4, 4, source)
    with pytest.raises(ValidationError):
        consistency_proof(0, 4, source)
    with pytest.raises(ValidationError):
        consistency_proof(5, 4, source)
    assert consistency_proof(4, 4, source) == []
    with pytest.raises(ValidationError, match="not complete"):
        source([(3, 0)])
