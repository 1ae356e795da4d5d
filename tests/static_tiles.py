"""A small static-tile client written from the specifications, sharing no code with raretrace.log.

It reads a published log (a directory or a plain HTTP server) the way any outside verifier would:
C2SP signed-note and tlog-checkpoint for the checkpoint, C2SP tlog-tiles for the paths, tiles and
entry bundles, RFC 6962 / RFC 9162 section 2 for the hashes and for checking inclusion and
consistency proofs. Only ``hashlib`` and ``cryptography`` do the work, so a bug in the registry's
Merkle or tile code cannot hide behind the same bug here.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

WIDTH = 256


class StaticLogError(Exception):
    """The published files do not prove what they claim."""


def _sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    """RFC 6962 section 2.1: MTH({d}) = SHA-256(0x00 || d)."""
    return _sha(b"\x00" + entry)


def node(left: bytes, right: bytes) -> bytes:
    return _sha(b"\x01" + left + right)


def mth(hashes: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 over leaf hashes: split at the largest power of two below n."""
    if not hashes:
        return _sha(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node(mth(hashes[:k]), mth(hashes[k:]))


def index_path(n: int) -> str:
    """C2SP tlog-tiles: N in 3-digit groups, every group but the last prefixed with 'x'."""
    groups = []
    while True:
        groups.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(("x" if i < len(groups) - 1 else "") + f"{g:03d}" for i, g in enumerate(groups))


def tile_name(level: str, n: int, width: int) -> str:
    return f"tile/{level}/{index_path(n)}" + ("" if width == WIDTH else f".p/{width}")


@dataclass(frozen=True)
class Head:
    origin: str
    size: int
    root: bytes
    note: str


def open_checkpoint(note: str, origin: str, public_key: bytes) -> Head:
    """C2SP signed-note: text, empty line, signature lines '— <name> base64(keyhash[4] || sig)'.
    The key hash is SHA-256(name || '\\n' || 0x01 || key)[:4] for an Ed25519 key."""
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        raise StaticLogError("the checkpoint has no signature block")
    text += "\n"
    want = _sha(origin.encode() + b"\n" + b"\x01" + public_key)[:4]
    key = Ed25519PublicKey.from_public_bytes(public_key)
    verified = False
    for line in sigs.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise StaticLogError(f"malformed signature line {line!r}")
        name, _, b64 = line[2:].partition(" ")
        raw = base64.b64decode(b64)
        if name == origin and raw[:4] == want:
            try:
                key.verify(raw[4:], text.encode())
            except InvalidSignature as e:
                raise StaticLogError("the log's signature on the checkpoint does not verify") from e
            verified = True
    if not verified:
        raise StaticLogError("no signature by the log's key on the checkpoint")
    lines = text[:-1].split("\n")
    if lines[0] != origin:
        raise StaticLogError(f"checkpoint origin {lines[0]!r} is not {origin!r}")
    return Head(origin, int(lines[1]), base64.b64decode(lines[2]), note)


class StaticLog:
    """A published log read through ``fetch(path) -> bytes``."""

    def __init__(self, fetch: Callable[[str], bytes], origin: str, public_key: bytes) -> None:
        self.fetch = fetch
        self.origin = origin
        self.public_key = public_key
        self.fetched = 0

    def _get(self, path: str) -> bytes:
        self.fetched += 1
        return self.fetch(path)

    def head(self) -> Head:
        return open_checkpoint(self._get("checkpoint").decode(), self.origin, self.public_key)

    def level_hashes(self, level: int, count: int) -> list[bytes]:
        """The ``count`` hashes of a tile level, read tile by tile (partial last tile by its width)."""
        out: list[bytes] = []
        for n in range((count + WIDTH - 1) // WIDTH):
            width = min(WIDTH, count - n * WIDTH)
            data = self._get(tile_name(str(level), n, width))
            if len(data) != 32 * width:
                raise StaticLogError(f"tile {level}/{n} has {len(data)} bytes, expected {32 * width}")
            out += [data[i : i + 32] for i in range(0, len(data), 32)]
        return out

    def entries(self, size: int) -> list[bytes]:
        """Every entry, from the entry bundles: a big-endian uint16 length, then the entry."""
        out: list[bytes] = []
        for n in range((size + WIDTH - 1) // WIDTH):
            width = min(WIDTH, size - n * WIDTH)
            data, pos, bundle = self._get(tile_name("entries", n, width)), 0, []
            while pos < len(data):
                length = int.from_bytes(data[pos : pos + 2], "big")
                bundle.append(data[pos + 2 : pos + 2 + length])
                pos += 2 + length
            if len(bundle) != width or pos != len(data):
                raise StaticLogError(f"entry bundle {n} holds {len(bundle)} entries, expected {width}")
            out += bundle
        return out

    def verify(self, *, with_entries: bool = True) -> tuple[Head, list[bytes]]:
        """Check every published file against the checkpoint; return it and the leaf hashes.

        1. the checkpoint is signed by the log; 2. the level-0 tiles hash to its root; 3. each higher
        level's hashes are the roots of the full tiles below; 4. each entry hashes to its leaf."""
        head = self.head()
        leaves = self.level_hashes(0, head.size)
        if mth(leaves) != head.root:
            raise StaticLogError("the leaf hashes of the tiles do not hash to the checkpoint's root")
        below, level = leaves, 1
        while head.size >> (8 * level):
            upper = self.level_hashes(level, head.size >> (8 * level))
            for j, h in enumerate(upper):
                if mth(below[j * WIDTH : (j + 1) * WIDTH]) != h:
                    raise StaticLogError(f"hash {j} of level-{level} tiles is not its subtree's root")
            below, level = upper, level + 1
        if with_entries:
            for i, entry in enumerate(self.entries(head.size)):
                if leaf(entry) != leaves[i]:
                    raise StaticLogError(f"entry {i} does not hash to leaf {i} of the tiles")
        return head, leaves


def verify_inclusion(index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(size1: int, size2: int, proof: list[bytes], root1: bytes, root2: bytes) -> bool:
    """RFC 9162 section 2.1.4.2."""
    if size1 == size2:
        return not proof and root1 == root2
    if not 0 < size1 < size2 or not proof:
        return False
    if size1 & (size1 - 1) == 0:
        proof = [root1, *proof]
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == root1 and sr == root2
