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
machine share it: servers on several machines behind one balancer share a Redis instead
(``serve --rate-store redis://…``, ``server/ratestore_redis.py``).

Keys are keyed BLAKE2b digests of the address or token, keyed with a random salt the table makes at
its creation and keeps in its header: without it anyone could compute offline which addresses or
tokens land in one neighbourhood of cells and grind a set of them that evicts another client's bucket
or shares one. A platform without ``flock`` and shared ``mmap`` (not POSIX: Windows) has no shared
table; a single server process there keeps its buckets in a dictionary of its own (``ProcessRates``),
and ``serve --workers N`` refuses to start (``require_shared_table``).

If a key's neighbourhood (``PROBES`` cells) is full of buckets still refilling, the one closest to full
is taken over: its owner then starts again with a full bucket. That needs tens of thousands of keys
active within the few seconds a bucket takes to refill.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import struct
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from raretrace.errors import ValidationError

#: Whether this platform can share a table between processes (``flock`` on a mapped file): not where
#: there is no ``fcntl`` (Windows), where only ``ProcessRates`` is used.
try:
    import fcntl

    SHARED_TABLES = True
except ImportError:
    SHARED_TABLES = False

MAGIC = b"raretrace-rates2"
SALT_BYTES = 32  # a BLAKE2b key (at most 64 bytes); 256 bits: no one guesses it
HEADER = struct.Struct(f"<16sQ{SALT_BYTES}s")  # magic, number of cells, salt
CELL = struct.Struct("<16sd")  # key digest, theoretical arrival time (monotonic seconds)
CELLS = 1 << 16  # 1.5 MiB
PROBES = 8
_EMPTY = bytes(16)
_unpack_cell, _pack_cell = CELL.unpack_from, CELL.pack_into

#: Forks of this process so far, counted in the child: a table mapped before a fork is mapped again
#: after it (cheaper to compare on every request than asking the kernel for the process id).
_forks = [0]
if hasattr(os, "register_at_fork"):  # POSIX only; where there is no fork, there is nothing to count
    os.register_at_fork(after_in_child=lambda: _forks.__setitem__(0, _forks[0] + 1))


@dataclass(frozen=True)
class Rate:
    """``rate`` requests a second on average, ``burst`` at once; a rate of 0 is no limit."""

    rate: float
    burst: float

    @property
    def off(self) -> bool:
        return self.rate <= 0


#: One request's spending: (kind of key, its value: an address or a token, the limit of that kind).
Spend = tuple[bytes, bytes, Rate]


class RateStore(Protocol):
    """Where the buckets live: this machine's shared table, one process's dictionary, or a Redis.
    ``remote``: a decision waits on the network (the server makes it off its event loop)."""

    remote: bool

    def take(self, requests: Sequence[Spend], now: float) -> float:
        """Spend one request from each key's bucket in turn; 0 if all passed, else the seconds until
        the first refusing bucket would pass (those after it are not touched)."""
        ...


def salted_key(salt: bytes, kind: bytes, value: bytes) -> bytes:
    """The 16-byte digest a store files ``value`` of ``kind`` under: BLAKE2b keyed with the store's
    secret ``salt`` (RFC 7693 §2.5), so no one outside can tell which values share a cell."""
    return hashlib.blake2b(value, digest_size=16, key=salt, person=kind).digest()


def gcra(arrival: float, now: float, limit: Rate) -> tuple[float, float]:
    """(seconds to wait, 0 if the request passes; the key's new theoretical arrival time) for a key
    whose theoretical arrival time is ``arrival`` (``now`` for a new or refilled key)."""
    period = 1.0 / limit.rate
    ahead = arrival - now - (limit.burst - 1) * period
    if ahead > 0:
        return ahead, arrival
    return 0.0, max(arrival, now) + period


class ProcessRates:
    """The buckets of one process in a dictionary (no lock, no system call: the fastest there is):
    where a platform shares no table, and the baseline of ``benchmarks/bench_ratelimit.py``. A key's
    time is dropped once its bucket is full again, so the dictionary holds the keys active in the last
    few seconds only."""

    remote = False

    def __init__(self) -> None:
        self._salt = os.urandom(SALT_BYTES)
        self._arrivals: dict[bytes, float] = {}
        self._swept = 0.0

    def take(self, requests: Sequence[Spend], now: float) -> float:
        arrivals = self._arrivals
        if now - self._swept > SWEEP_SECONDS:
            self._swept = now
            for key in [k for k, at in arrivals.items() if at <= now]:
                del arrivals[key]
        for kind, value, limit in requests:
            key = salted_key(self._salt, kind, value)
            wait, arrivals[key] = gcra(arrivals.get(key, now), now, limit)
            if wait:
                return wait
        return 0.0


#: How often ``ProcessRates`` drops the keys whose buckets are full again.
SWEEP_SECONDS = 10.0


def require_shared_table(workers: int) -> None:
    """Refuse to start several workers where they cannot share one table (each would let through
    its own full rate), naming the ways out."""
    if workers > 1 and not SHARED_TABLES:
        raise ValidationError(
            "--workers above 1 needs a rate table the workers share, and this platform has no flock "
            "(it is not POSIX); serve with --workers 1, or share the limits through Redis with "
            "--rate-store redis://…",
            field="workers",
        )


def open_store(rate_file: str | None, rate_url: str | None) -> RateStore | None:
    """The store a server's settings name: a Redis (``rate_url``), else the table its workers share
    (``rate_file``), else None (the app makes one of its own)."""
    if rate_url:
        from raretrace.server.ratestore_redis import RedisRates

        return RedisRates.from_url(rate_url)
    return RateTable(Path(rate_file)) if rate_file else None


def local_store() -> RateStore:
    """A store for this process alone: a private table where the platform has one, else a dictionary."""
    return RateTable.private() if SHARED_TABLES else ProcessRates()


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
        out.write(HEADER.pack(MAGIC, cells, os.urandom(SALT_BYTES)))
        out.truncate(_size(cells))
    return path


class RateTable:
    """The table in one process: mapped on first use (again after a fork, whose copy of the file
    description would share the parent's lock instead of competing for it)."""

    remote = False

    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: a private table (``private``)
        self._generation = -1
        self._fd = -1
        self._map: mmap.mmap | None = None
        self._cells = 0
        self._salt = b""

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
        magic, cells, salt = HEADER.unpack_from(mapped, 0)
        if magic != MAGIC or len(mapped) != _size(cells):
            mapped.close()
            os.close(fd)
            raise ValidationError(f"{self.path} is not a rate table", field="rate_file")
        if self._map is not None:  # mapped before a fork: the child lets go of its copies
            self._map.close()
            os.close(self._fd)
        self._fd, self._map, self._cells, self._salt = fd, mapped, cells, salt
        self._generation = _forks[0]
        return mapped

    def take(self, requests: Sequence[Spend], now: float) -> float:
        """``RateStore.take``: the keys are hashed with the table's salt before the lock is taken."""
        mapped = self._map if self._generation == _forks[0] and self._map is not None else self._open()
        salt = self._salt
        keyed = [(salted_key(salt, kind, value), limit) for kind, value, limit in requests]
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for key, limit in keyed:
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
        wait, after = gcra(arrival, now, limit)
        if not wait:
            _pack_cell(mapped, offset, key, after)
        return wait


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
