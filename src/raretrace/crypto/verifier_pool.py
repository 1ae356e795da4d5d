"""Worker processes that verify chunks of Ed25519 signatures, fed through pipes.

Why not ``ProcessPoolExecutor``: on the append path the writer is the bottleneck once verification
leaves it, and the executor costs the writer about 20 µs an event (pickling each task, a feeder
thread and a result thread taking the GIL from it: measured on the ingest benchmark). Here a chunk is
one bytes object written to a worker's pipe (no pickling, no thread in the writer), and the reply is
the chunk's number and the index of its first bad signature. Each worker reads its pipe on a thread
of its own, so a chunk is taken off the pipe as soon as it arrives and the writer never blocks
behind a busy worker. Workers are fresh interpreters (``python -m raretrace.crypto.verifier_pool``,
their stdin and stdout the pipes): the parent may hold threads and database connections that a fork
would copy, and unlike ``multiprocessing``'s spawn nothing re-imports the parent's main script.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

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


def _widen(fd: int) -> None:
    """Let a pipe hold a few whole chunks (Linux: up to pipe-max-size, 1 MiB by default), so that the
    writer's send returns at once instead of waiting for the worker to read."""
    with contextlib.suppress(OSError, AttributeError):
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)


def _serve(inbound: Connection, outbound: Connection) -> None:
    """A worker: a thread drains the pipe into a queue; this thread verifies and replies in order."""
    # The reading thread needs the GIL only briefly, but must get it soon: the writer may be blocked
    # on a full pipe until it does (the default switch interval is 5 ms).
    sys.setswitchinterval(0.0002)
    inbox: queue.SimpleQueue[bytes] = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                blob = inbound.recv_bytes()
                inbox.put(blob)
                if blob == _STOP:
                    return
        except (EOFError, OSError):
            inbox.put(_STOP)

    threading.Thread(target=read, daemon=True).start()
    while (blob := inbox.get()) != _STOP:
        number = int.from_bytes(blob[:8], "little")
        outbound.send_bytes(_REPLY.pack(number, first_bad(blob[8:])))


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
    process: subprocess.Popen[bytes]
    send: Connection
    receive: Connection
    early: dict[int, int] = field(default_factory=dict)  # replies read before they were asked for
    abandoned: set[int] = field(default_factory=set)


class VerifierPool:
    """``workers`` processes verifying Ed25519 chunks; chunks go to them in turn."""

    def __init__(self, workers: int | None = None) -> None:
        # the workers import this very raretrace, whatever the parent's sys.path or installed copy
        package_root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONPATH": path}
        self._workers: list[_Worker] = []
        for _ in range(workers or os.cpu_count() or 1):
            process = subprocess.Popen(
                [sys.executable, "-m", "raretrace.crypto.verifier_pool"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            assert process.stdin is not None
            assert process.stdout is not None
            _widen(process.stdin.fileno())
            send = Connection(os.dup(process.stdin.fileno()), readable=False)
            receive = Connection(os.dup(process.stdout.fileno()), writable=False)
            process.stdin.close()
            process.stdout.close()
            self._workers.append(_Worker(process, send, receive))
        self._numbers = itertools.count()
        self._turn = itertools.cycle(range(len(self._workers)))

    @property
    def size(self) -> int:
        return len(self._workers)

    def submit(self, chunk: Sequence[Item]) -> Ticket:
        number, worker = next(self._numbers), next(self._turn)
        self._workers[worker].send.send_bytes(number.to_bytes(8, "little") + encode(chunk))
        return Ticket(self, worker, number)

    def _reply(self, index: int, number: int) -> int:
        worker = self._workers[index]
        if number in worker.early:
            return worker.early.pop(number)
        while True:
            try:
                got, bad = _REPLY.unpack(worker.receive.recv_bytes())
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
                worker.send.send_bytes(_STOP)
            worker.send.close()
        for worker in self._workers:
            try:
                worker.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.receive.close()
        self._workers = []

    def __enter__(self) -> VerifierPool:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


if __name__ == "__main__":  # a worker: chunks on stdin, replies on stdout
    _serve(Connection(os.dup(0), writable=False), Connection(os.dup(1), readable=False))
