"""Worker processes that verify chunks of Ed25519 signatures, fed through pipes.

Why not ``ProcessPoolExecutor``: on the append path the writer is the bottleneck once verification
leaves it, and the executor costs the writer about 20 µs an event (pickling each task, a feeder
thread and a result thread taking the GIL from it: measured on the ingest benchmark). Here a chunk is
one bytes object written to a worker's pipe (no pickling, no thread in the writer), and the reply is
the chunk's number and the index of its first bad signature. Each worker reads its pipe on a thread
of its own, so a chunk is taken off the pipe as soon as it arrives and the writer never blocks
behind a busy worker. Workers are started by ``spawn`` (a clean interpreter: the parent may hold
threads and database connections that a fork would copy).
"""

from __future__ import annotations

import contextlib
import itertools
import multiprocessing
import os
import queue
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from raretrace.crypto import ed25519

_ITEM = struct.Struct("<II")  # signature length, message length; then key (32), signature, message
_REPLY = struct.Struct("<Qq")  # chunk number, index of the first bad signature or -1
_STOP = b""

#: (raw public key, signature, message)
Item = tuple[bytes, bytes, bytes]


def encode(chunk: Sequence[Item]) -> bytes:
    parts: list[bytes] = []
    for public, signature, message in chunk:
        if len(public) != ed25519.PUBLIC_KEY_LEN:
            raise ValueError("an Ed25519 public key has 32 bytes")
        parts += (_ITEM.pack(len(signature), len(message)), public, signature, message)
    return b"".join(parts)


def first_bad(blob: bytes) -> int:
    """Index of the first item of an encoded chunk whose signature does not verify, or -1."""
    verify, view, at, index = ed25519.verify, memoryview(blob), 0, 0
    while at < len(blob):
        sig_len, msg_len = _ITEM.unpack_from(blob, at)
        at += _ITEM.size
        public = bytes(view[at : at + 32])
        signature = bytes(view[at + 32 : at + 32 + sig_len])
        at += 32 + sig_len
        message = bytes(view[at : at + msg_len])
        at += msg_len
        if not verify(public, signature, message):
            return index
        index += 1
    return -1


def _serve(conn: Connection) -> None:
    """A worker: a thread drains the pipe into a queue; this thread verifies and replies in order."""
    inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                blob = conn.recv_bytes()
                inbox.put(blob)
                if blob == _STOP:
                    return
        except (EOFError, OSError):
            inbox.put(_STOP)

    threading.Thread(target=read, daemon=True).start()
    while (blob := inbox.get()) != _STOP:
        number = int.from_bytes(blob[:8], "little")
        conn.send_bytes(_REPLY.pack(number, first_bad(blob[8:])))


@dataclass
class Ticket:
    """One submitted chunk: ``result()`` is the index of its first bad signature, or None."""

    pool: VerifierPool
    worker: int
    number: int
    cancelled: bool = False

    def result(self) -> int | None:
        bad = self.pool._reply(self.worker, self.number)
        return None if bad < 0 else bad

    def cancel(self) -> bool:
        self.cancelled = True
        self.pool._abandon(self.worker, self.number)
        return True


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    early: dict[int, int] = field(default_factory=dict)  # replies read before they were asked for
    abandoned: set[int] = field(default_factory=set)


class VerifierPool:
    """``workers`` processes verifying Ed25519 chunks; chunks go to them in turn."""

    def __init__(self, workers: int | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._workers: list[_Worker] = []
        for _ in range(workers or os.cpu_count() or 1):
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(target=_serve, args=(theirs,), daemon=True, name="raretrace-verifier")
            process.start()
            theirs.close()
            self._workers.append(_Worker(process, ours))
        self._numbers = itertools.count()
        self._turn = itertools.cycle(range(len(self._workers)))

    @property
    def size(self) -> int:
        return len(self._workers)

    def submit(self, chunk: Sequence[Item]) -> Ticket:
        number, worker = next(self._numbers), next(self._turn)
        self._workers[worker].conn.send_bytes(number.to_bytes(8, "little") + encode(chunk))
        return Ticket(self, worker, number)

    def _reply(self, index: int, number: int) -> int:
        worker = self._workers[index]
        if number in worker.early:
            return worker.early.pop(number)
        while True:
            try:
                got, bad = _REPLY.unpack(worker.conn.recv_bytes())
            except (EOFError, OSError) as e:
                raise RuntimeError("a signature verifying process ended unexpectedly") from e
            if got == number:
                return int(bad)
            if got in worker.abandoned:
                worker.abandoned.discard(got)
            else:
                worker.early[got] = bad

    def _abandon(self, index: int, number: int) -> None:
        worker = self._workers[index]
        if worker.early.pop(number, None) is None:
            worker.abandoned.add(number)

    def close(self) -> None:
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.conn.send_bytes(_STOP)
            worker.conn.close()
        for worker in self._workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
        self._workers = []

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
