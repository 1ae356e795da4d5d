"""RFC 9162 §2.1 Merkle tree hashing, proof verification and proof generation.

Verification is pure and follows the RFC's algorithms step by step (numbered in the comments), so a
reviewer can hold the code next to the RFC text. Generation is independent of where hashes live: it
asks a ``HashSource`` for the hashes of perfect subtrees (``NodeId``), many in one call, which lets the
tiled tree read every tile a proof needs in a single storage round trip.

A node ``(level, index)`` is the root of the perfect subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from raretrace.errors import ProofError, ValidationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeId = tuple[int, int]
HashSource = Callable[[Sequence[NodeId]], Sequence[bytes]]

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH of one entry: SHA-256(0x00 || data) (RFC 9162 §2.1.1)."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Interior node: SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return _sha256(b"\x01" + left + right).digest()


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) straight from the RFC's recursive definition; the reference the tiled tree must match."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
    return node_hash(root_hash(leaf_hashes[:k]), root_hash(leaf_hashes[k:]))


def fold(hashes: Sequence[bytes]) -> bytes:
    """MTH of adjacent perfect subtrees given left to right with non-increasing sizes."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


# --- verification --------------------------------------------------------------------------------


def _check_hash(value: bytes, what: str) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} has {len(value)} bytes, a SHA-256 hash has {HASH_SIZE}")


class ProvenNodes:
    """States of ``verify_inclusion`` in the tree of ``size`` and ``root`` that passing proofs went
    through: (fn, sn, hash) at the start of a step -> the rest of the proof that led from there to the
    root. Tied to its tree: handed a proof against another one, ``verify_inclusion`` refuses it.

    Kept by a caller for one tree, it lets proofs of nearby leaves share their upper path: the rest of
    the algorithm from a step depends only on ``fn``, ``sn``, the hash ``r`` and the proof elements
    not yet used, so a path that reaches a state an earlier proof reached, with the same elements left,
    would compute the same hashes to the same root, and stops there. Every step of a proof that
    passes is recorded; a failing proof records nothing. Without it every hash is computed, as the
    RFC does.
    """

    __slots__ = ("nodes", "root", "size")

    def __init__(self, size: int, root: bytes) -> None:
        self.size, self.root = size, root
        self.nodes: dict[tuple[int, int, bytes], tuple[bytes, ...]] = {}


def verify_inclusion(
    leaf: bytes,
    index: int,
    size: int,
    proof: Sequence[bytes],
    root: bytes,
    proven: ProvenNodes | None = None,
) -> None:
    """Check that ``leaf`` is entry ``index`` of the tree of ``size`` with ``root`` (RFC 9162 §2.1.3.2).

    Returns None on success; raises ProofError naming what does not hold.

    With ``proven`` (see ``ProvenNodes``) a proof stops where it joins an earlier passing proof's path.
    """
    _check_inclusion_inputs(leaf, index, size, proof, root, proven)
    nodes = None if proven is None else proven.nodes
    # 1. The leaf index must lie inside the tree.
    if index >= size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    # 2. fn is the leaf index, sn the last index of the tree.
    fn, sn = index, size - 1
    # 3. Start from the leaf hash.
    r = leaf
    elements = tuple(proof)
    steps: list[tuple[int, int, bytes, int]] = []  # each step's state, recorded in ``proven`` at the end
    # 4. Walk up the proof.
    for k, p in enumerate(elements):
        if nodes is not None:
            rest = nodes.get((fn, sn, r))
            if rest is not None and rest == elements[k:]:  # an earlier proof's rest: it led to the root
                _record(nodes, steps, elements)
                return
            steps.append((fn, sn, r, k))
        # 4a. A proof longer than the path is wrong.
        if sn == 0:
            raise ProofError(
                f"inclusion proof has more elements than the path from leaf {index} in a tree of size {size}"
            )
        # 4b. The proof hash is a left sibling (or we are on the right border); else a right sibling.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        # 4c. One level up.
        fn >>= 1
        sn >>= 1
    # 5. The proof must reach the root exactly, and the root must match.
    if sn != 0:
        raise ProofError(f"inclusion proof is too short for leaf {index} in a tree of size {size}")
    if r != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of size {size}")
    if nodes is not None:
        _record(nodes, steps, elements)


def _check_inclusion_inputs(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes, proven: ProvenNodes | None
) -> None:
    if index < 0 or size < 0:
        raise ValidationError("leaf index and tree size cannot be negative", field="index")
    if proven is not None and (proven.size != size or proven.root != root):
        raise ValueError("the proven nodes are those of another tree")
    _check_hash(leaf, "the leaf hash")
    _check_hash(root, "the root hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"inclusion proof element {i}")


def _record(
    nodes: dict[tuple[int, int, bytes], tuple[bytes, ...]],
    steps: list[tuple[int, int, bytes, int]],
    elements: tuple[bytes, ...],
) -> None:
    for fn, sn, r, k in steps:
        nodes[(fn, sn, r)] = elements[k:]


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check that the tree of ``size1`` with ``root1`` is a prefix of the tree of ``size2`` with ``root2``.

    RFC 9162 §2.1.4.2, with the edge cases the conformance vectors fix: a proof from the empty tree is
    rejected (it proves nothing), and equal sizes need an empty proof and equal roots.
    Returns None on success; raises ProofError naming what does not hold.
    """
    if size1 < 0 or size2 < 0:
        raise ValidationError("tree sizes cannot be negative", field="size1")
    if size2 < size1:
        raise ProofError(f"the second tree (size {size2}) is smaller than the first (size {size1})")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree is meaningless (size1 is 0)")
    if size1 == size2:
        if proof:
            raise ProofError(f"both trees have size {size1}, so the consistency proof must be empty")
        if root1 != root2:
            raise ProofError(f"both trees have size {size1} but their roots differ")
        return
    _check_hash(root1, "the first root hash")
    _check_hash(root2, "the second root hash")
    for i, p in enumerate(proof):
        _check_hash(p, f"consistency proof element {i}")
    # 1. An empty proof cannot connect two different sizes.
    if not proof:
        raise ProofError(f"the consistency proof from size {size1} to {size2} is empty")
    # 2. If the first tree is a perfect subtree, its root is the proof's implicit first element.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # 3. fn is the last index of the first tree, sn the last index of the second.
    fn, sn = size1 - 1, size2 - 1
    # 4. Skip the levels where the first tree's last node is a right child.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Both computed roots start at the first path element.
    fr = sr = path[0]
    # 6. Walk up the rest of the path.
    for c in path[1:]:
        # 6a. A proof longer than the path is wrong.
        if sn == 0:
            raise ProofError(f"consistency proof from size {size1} to {size2} has too many elements")
        # 6b. Left siblings feed both roots; right siblings only the second.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        # 6c. One level up.
        fn >>= 1
        sn >>= 1
    # 7. Both roots must match and the path must end at the second root.
    if sn != 0:
        raise ProofError(f"consistency proof from size {size1} to {size2} is too short")
    if fr != root1:
        raise ProofError(f"consistency proof does not lead to the first root (size {size1})")
    if sr != root2:
        raise ProofError(f"consistency proof does not lead to the second root (size {size2})")


# --- generation ----------------------------------------------------------------------------------


def range_nodes(begin: int, end: int) -> list[NodeId]:
    """The perfect subtrees that exactly cover leaves ``[begin, end)``, left to right."""
    nodes: list[NodeId] = []
    while begin < end:
        # The largest aligned perfect subtree starting at begin that fits in the range.
        level = (end - begin).bit_length() - 1
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


class TreeBorder:
    """The perfect subtrees covering a tree's leaves ``[0, size)`` (its compact range), with hashes.

    Why it exists: the path from any node to the root of a tree of this size runs inside perfect
    subtrees up to a *fork* node, which is one of these border subtrees; above the fork the RFC 9162
    proof holds the hash of everything to the fork's right (a fold of the smaller border subtrees) and
    then the larger border subtrees on its left. Computing those once per size leaves each proof only
    the siblings below the fork to fetch.
    """

    def __init__(self, size: int, source: HashSource) -> None:
        if size < 0:
            raise ValidationError("a tree size cannot be negative", field="size")
        self.size = size
        self.nodes = range_nodes(0, size)  # descending levels, left to right
        hashes = list(source(self.nodes)) if self.nodes else []
        if len(hashes) != len(self.nodes):
            raise ProofError(f"the hash source returned {len(hashes)} hashes for {len(self.nodes)} nodes")
        self.hashes = hashes
        self._right: dict[int, bytes | None] = {}
        self._left: dict[int, list[bytes]] = {}
        right: bytes | None = None
        for pos in range(len(hashes) - 1, -1, -1):
            level = self.nodes[pos][0]
            self._right[level] = right
            self._left[level] = hashes[:pos][::-1]
            right = hashes[pos] if right is None else node_hash(hashes[pos], right)
        self.root = EMPTY_ROOT if right is None else right

    def path(self, index: int, level: int, source: HashSource, *, with_node: bool = False) -> list[bytes]:
        """RFC 9162 PATH of node ``(level, index)`` (complete in this tree) to the root, nearest first.

        ``with_node`` puts the node's own hash first, fetched in the same ``source`` call.
        """
        # The fork is where the path to this node parts from the path to the tree's right border.
        fork = level + (index ^ (self.size >> level)).bit_length() - 1
        ids = [(level, index)] if with_node else []
        ids += [(h, (index >> (h - level)) ^ 1) for h in range(level, fork)]
        proof = list(source(ids)) if ids else []
        right = self._right[fork]
        if right is not None:
            proof.append(right)
        proof.extend(self._left[fork])
        return proof


def inclusion_proof(
    index: int, size: int, source: HashSource, border: TreeBorder | None = None
) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof for leaf ``index`` in the tree of ``size``."""
    if not 0 <= index < size:
        raise ValidationError(f"leaf {index} is not in a tree of size {size}", field="index")
    border = border if border is not None and border.size == size else TreeBorder(size, source)
    return border.path(index, 0, source)


def consistency_proof(
    size1: int, size2: int, source: HashSource, border: TreeBorder | None = None
) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof from the tree of ``size1`` to the tree of ``size2``.

    Empty for equal sizes. Otherwise the largest perfect subtree ending at ``size1`` (left out when it
    is the whole first tree, whose root the verifier holds) followed by that subtree's path in the
    second tree.
    """
    if not 0 < size1 <= size2:
        raise ValidationError(f"needs 0 < size1 <= size2, got {size1} and {size2}", field="size1")
    if size1 == size2:
        return []
    level = (size1 & -size1).bit_length() - 1
    index = (size1 - 1) >> level
    border = border if border is not None and border.size == size2 else TreeBorder(size2, source)
    return border.path(index, level, source, with_node=index != 0)


def memory_source(leaf_hashes: Sequence[bytes]) -> HashSource:
    """A hash source over a list of leaf hashes (tests, small trees); computes each node on request."""

    def node(level: int, index: int) -> bytes:
        lo, hi = index << level, (index + 1) << level
        if hi > len(leaf_hashes):
            raise ValidationError(
                f"node ({level}, {index}) is not complete in a tree of {len(leaf_hashes)}", field="node"
            )
        return root_hash(leaf_hashes[lo:hi])

    def source(ids: Sequence[NodeId]) -> list[bytes]:
        return [node(level, index) for level, index in ids]

    return source
