"""Verifying a batch's signatures: in this process, or in worker processes while validation goes on.

Ed25519 verification is the one cost of an append that no amount of care removes, so with a pool
the pipeline hands each chunk of queued signatures to a worker as soon as validation has queued it
and keeps validating, then writing; it waits only before the commit (``Registry.append_parsed``).
The first failing signature (in batch order) is reported either way.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from raretrace.crypto import ed25519
from raretrace.crypto.keys import PublicKey
from raretrace.crypto.verifier_pool import VerifierPool
from raretrace.custody.state import SignatureTask

#: what verifies a registry's signatures besides its own process: ``VerifierPool`` (pipes, the fast
#: one) or any ``ProcessPoolExecutor``
SignaturePool = VerifierPool | ProcessPoolExecutor


class _Pending(Protocol):
    def result(self) -> int | None: ...

    def cancel(self) -> bool: ...


CHUNK = 128


def verify_chunk(chunk: list[tuple[bytes, bytes, bytes]]) -> int | None:
    """Index of the first (public key, signature, message) that fails, or None; runs in a worker."""
    for i, (public, signature, message) in enumerate(chunk):
        if not PublicKey(public).is_valid(signature, message):
            return i
    return None


@dataclass
class BatchVerifier:
    pool: SignaturePool | None = None
    _submitted: int = 0
    _futures: list[tuple[int, _Pending]] = field(default_factory=list)
    _verified: int = 0  # in this process: how many of the tasks, from the first, verified so far
    _failed: SignatureTask | None = None  # … and the first that failed, when one did

    def verify_some(self, tasks: list[SignatureTask], count: int) -> None:
        """In this process, the next ``count`` tasks verified now, in batch order, stopping at the first
        that fails: work for the writer while the database takes its rows (``Store.insert_batch``'s
        ``meanwhile``). With a pool, nothing: the workers have them."""
        if self.pool is not None or self._failed is not None:
            return
        verify = ed25519.verify
        end = min(len(tasks), self._verified + count)
        for i in range(self._verified, end):
            task = tasks[i]
            if not verify(task.public_key, task.signature, task.message):
                self._failed = task
                return
        self._verified = end

    def feed(self, tasks: list[SignatureTask], *, final: bool = False) -> None:
        """Hand over queued tasks not yet submitted, once a chunk is full (or at the end)."""
        if self.pool is None:
            return
        waiting = len(tasks) - self._submitted
        if waiting >= CHUNK or (final and waiting):
            chunk = [(t.public_key, t.signature, t.message) for t in tasks[self._submitted :]]
            pending: _Pending = (
                self.pool.submit(chunk)
                if isinstance(self.pool, VerifierPool)
                else self.pool.submit(verify_chunk, chunk)
            )
            self._futures.append((self._submitted, pending))
            self._submitted = len(tasks)

    def first_failure(self, tasks: list[SignatureTask]) -> SignatureTask | None:
        if self.pool is None:  # the rest not yet verified (``verify_some``), the backend's call itself
            self.verify_some(tasks, len(tasks))
            return self._failed
        self.feed(tasks, final=True)
        for offset, future in self._futures:
            bad = future.result()
            if bad is not None:
                self.cancel()
                return tasks[offset + bad]
        return None

    def cancel(self) -> None:
        for _, future in self._futures:
            future.cancel()
