"""Signing events as they are made and appending them in large batches.

Building thousands of lots one ``Registry.append`` at a time would spend most of its time opening and
committing transactions and re-signing checkpoints; one append per ~2,000 envelopes keeps every check
(signatures, custody, mass balance, origin vectors) and costs a fraction. Events are signed when made,
so a batch is exactly what real participants would have submitted. Shared by the demo world and the
lineage benchmark's synthetic graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from raretrace.ledger.registry import Registry

#: Envelopes per ``Registry.append``: large enough to amortize a transaction and a checkpoint,
#: small enough that a progress bar moves.
BATCH = 2000


@dataclass
class BatchedAppender:
    """Queues signed envelopes and appends them ``batch`` at a time, timing both halves."""

    registry: Registry
    batch: int = BATCH
    on_append: Callable[[BatchedAppender], None] | None = None
    events: int = 0  # appended
    lots: int = 0  # created by appended events
    sign_seconds: float = 0.0
    append_seconds: float = 0.0
    _pending: list[bytes] = field(default_factory=list)
    _pending_lots: int = 0

    def add(self, make: Callable[[], Sequence[bytes]], new_lots: int = 0) -> None:
        """Sign (``make`` returns the envelopes) and queue; appends when a batch is full."""
        start = time.perf_counter()
        self._pending.extend(make())
        self._pending_lots += new_lots
        self.sign_seconds += time.perf_counter() - start
        if len(self._pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        """Append whatever is queued (all or nothing, as ``Registry.append`` is)."""
        if not self._pending:
            return
        start = time.perf_counter()
        self.registry.append(self._pending)
        self.append_seconds += time.perf_counter() - start
        self.events += len(self._pending)
        self.lots += self._pending_lots
        self._pending, self._pending_lots = [], 0
        if self.on_append is not None:
            self.on_append(self)

    @property
    def queued_lots(self) -> int:
        """Lots in signed events not yet appended."""
        return self._pending_lots
