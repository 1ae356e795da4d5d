"""The request-rate table every process of one server shares, so ``--workers N`` does not multiply
the limits by N.

Each key (a client address, a token's digest) has one cell holding its *theoretical arrival time*
(GCRA, the generic cell rate algorithm of ITU-T I.371, which is a token bucket kept as one number):
a request at ``now`` passes if that time lies at most ``(burst - 1) / rate`` ahead of ``now``, and
then moves it on by ``1 / rate``. The cells live in a file mapped into every worker's memory, an
open-addressed hash table of fixed size; each decision is made under an exclusive ``flock`` on the
file, so two workers never both spend the last request of a bucket. A decision costs two system
calls and a few dozen bytes of memory, not a database write: the registry's SQLite database has one
writer, and a rate write per read request would queue every read behind the appends.

Times are ``time.monotonic()`` seconds, one clock for every process of the machine; the table is made
afresh each time the server starts (``raretrace serve`` makes it before it starts its workers and
removes it when they stop), so no cell outlives the clock it was set by. Only the processes of one
machine share it: servers on several machines behind one balancer each keep their own.

If a key's neighbourhood (``PROBES`` cells) is full of buckets still refilling, the one closest to full
is taken over: its owner then starts again with a full bucket. That needs tens of thousands of keys
active within the few seconds a bucket takes to refill.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from raretrace.errors import ValidationError

MAGIC = b"raretrace-rates1"
HEADER = struct.Struct("<16sQ")  # magic, number of cells
CELL = struct.Struct("<16sd")  # key digest, theoretical arrival time (monotonic seconds)
CELLS = 1 << 16  # 1.5 MiB
PROBES = 8
_EMPTY = bytes(16)
_unpack_cell, _pack_cell = CELL.unpack_from, CELL.pack_into

#: Forks of this process so far, counted in the child: a table mapped before a fork is mapped again
#: after it (cheaper to compare on every request than asking the kernel for the process id).
_forks = [0]
os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


@dataclass(frozen=True)
class Rate:
    """``rate`` requests a second on average, ``burst`` at once; a rate of 0 is no limit."""

    rate: float
    burst: float

    @property
    def off(self) -> bool:
        return self.rate <= 0


def _shared_directory() -> str:
    """Memory-backed where the system has it (Linux's /dev/shm), else the temporary directory."""
    shm = "/dev/shm"  # noqa: S108 -- only the parent of a mkdtemp directory (private, unguessable name)
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def _size(cells: int) -> int:
    """Bytes of a table of ``cells`` (plus ``PROBES - 1`` at the end, so no key's run of cells wraps)."""
    return HEADER.size + (cells + PROBES - 1) * CELL.size


def create_table(directory: str | None = None, cells: int = CELLS) -> Path:
    """A new, empty table file in a fresh directory (readable by its owner only); the caller removes
    the directory when the server stops."""
    folder = Path(tempfile.mkdtemp(prefix="raretrace-rates-", dir=directory or _shared_directory()))
    path = folder / "rates"
    with path.open("wb") as out:
        out.write(HEADER.pack(MAGIC, cells))
        out.truncate(_size(cells))
    return path


def key_of(kind: bytes, value: bytes) -> bytes:
    """The table's key (a 16-byte digest) for ``value`` of ``kind`` (an address, a token digest)."""
    return hashlib.blake2b(value, digest_size=16, person=kind).digest()


class RateTable:
    """The table in one process: mapped on first use (again after a fork, whose copy of the file
    description would share the parent's lock instead of competing for it)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: a private table (``private``)
        self._generation = -1
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._cells = 0

    @classmethod
    def private(cls) -> RateTable:
        """A table for this process alone, its file removed as soon as it is mapped (nothing is left
        behind, whatever happens to the process). A process forked from this one makes its own."""
        return cls(None)

    def _map_private(self) -> mmap.mmap:
        path = create_table()
        try:
            self.path = path
            return self._open()
        finally:
            self.path = None
            path.unlink()
            path.parent.rmdir()

    def _open(self) -> mmap.mmap:
        if self.path is None:
            return self._map_private()
        fd = os.open(self.path, os.O_RDWR)
        try:
            mapped = mmap.mmap(fd, 0)
        except (OSError, ValueError) as e:
            os.close(fd)
            raise ValidationError(f"{self.path} is not a rate table ({e})", field="rate_file") from e
        magic, cells = HEADER.unpack_from(mapped, 0)
        if magic != MAGIC or len(mapped) != _size(cells):
            mapped.close()
            os.close(fd)
            raise ValidationError(f"{self.path} is not a rate table", field="rate_file")
        if self._map is not None:  # mapped before a fork: the child lets go of its copies
            self._map.close()
            os.close(self._fd)
        self._fd, self._map, self._cells, self._generation = fd, mapped, cells, _forks[0]
        return mapped

    def take(self, requests: Sequence[tuple[bytes, Rate]], now: float) -> float:
        """Spend one request from each key's bucket in turn (keys from ``key_of``); 0 if all passed,
        else the seconds until the first refusing bucket would pass (those after it are not touched)."""
        mapped = self._map if self._generation == _forks[0] and self._map is not None else self._open()
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for key, limit in requests:
                wait = self._spend(mapped, key, limit, now)
                if wait:
                    return wait
            return 0.0
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _spend(self, mapped: mmap.mmap, key: bytes, limit: Rate, now: float) -> float:
        offset = HEADER.size + (int.from_bytes(key[:8], "little") % self._cells) * CELL.size
        held, arrival = _unpack_cell(mapped, offset)  # where a key almost always is
        if held != key:
            offset, arrival = _place(mapped, offset, key, now)
        period = 1.0 / limit.rate
        ahead: float = arrival - now - (limit.burst - 1) * period
        if ahead > 0:
            return ahead
        _pack_cell(mapped, offset, key, max(arrival, now) + period)
        return 0.0


def _place(mapped: mmap.mmap, first: int, key: bytes, now: float) -> tuple[int, float]:
    """The key's cell among the ``PROBES`` from ``first`` and its time; if it has none, the cell it
    takes — an empty one or one whose bucket is full again, else the one nearest to full — and ``now``
    (a new, full bucket)."""
    spare: int | None = None
    closest, closest_at = first, float("inf")
    for offset in range(first, first + PROBES * CELL.size, CELL.size):
        held, arrival = _unpack_cell(mapped, offset)
        if held == key:
            return offset, arrival
        if spare is None and (held == _EMPTY or arrival <= now):
            spare = offset
        if arrival < closest_at:
            closest, closest_at = offset, arrival
    return (closest if spare is None else spare), now
