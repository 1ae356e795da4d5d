"""Group commit: single-event submissions arriving together are appended in one transaction.

Every append signs a checkpoint and commits, which costs far more than judging one event. Under load
the server therefore queues single submissions and one writer appends whatever has queued as one
batch (the way Tessera and Trillian batch their sequencing). Each submission keeps its own all-or-
nothing meaning: if the batch is refused at envelope ``i``, the envelopes before it are appended
together, envelope ``i`` is appended alone (so its error, or its success, is its own) and the rest
go round again. Two racing spends of one lot in one group are therefore still one success and one
custody error. A database failure (``UnavailableError``) is no envelope's fault and is never retried
here: every submission of the transaction it struck is told it, with what became of the write.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Sequence

from starlette.concurrency import run_in_threadpool

from raretrace.errors import RaretraceError, UnavailableError
from raretrace.ledger.judging import Parsed
from raretrace.ledger.participants import Principal
from raretrace.ledger.registry import AppendResult, Registry
from raretrace.server.submit import authorize

_WHICH = re.compile(r"^envelope (\d+)")
Outcome = AppendResult | Exception


def _split(result: AppendResult, count: int) -> list[Outcome]:
    """One result per envelope of a batch appended together."""
    return [
        AppendResult(result.first_index + i, 1, result.tree_size, result.checkpoint) for i in range(count)
    ]


def append_group(registry: Registry, submissions: Sequence[Parsed]) -> list[Outcome]:
    """Append independent submissions (each parsed once, by ``authorize``), as few transactions as
    their outcomes allow."""
    outcomes: list[Outcome] = []
    pending = list(submissions)
    while pending:
        try:
            outcomes.extend(_split(registry.append_parsed(pending), len(pending)))
            return outcomes
        except UnavailableError as e:
            return outcomes + [e] * len(pending)
        except RaretraceError as e:
            match = _WHICH.match(e.context or "")
            bad = int(match.group(1)) if match and int(match.group(1)) < len(pending) else None
        if bad is None or len(pending) == 1:
            # cannot tell which one: each on its own
            for item in pending:
                try:
                    outcomes.append(registry.append_parsed([item]))
                except RaretraceError as e:
                    outcomes.append(e)
            return outcomes
        if bad:
            try:
                outcomes.extend(_split(registry.append_parsed(pending[:bad]), bad))
            except UnavailableError as e:
                outcomes.extend([e] * bad)
            except RaretraceError:
                # the prefix passed inside the batch, so this should not happen; go one by one
                for item in pending[:bad]:
                    try:
                        outcomes.append(registry.append_parsed([item]))
                    except RaretraceError as inner:
                        outcomes.append(inner)
        try:
            outcomes.append(registry.append_parsed([pending[bad]]))
        except RaretraceError as alone:
            outcomes.append(alone)
        pending = pending[bad + 1 :]
    return outcomes


class GroupCommit:
    """The queue and its single writer; started and stopped with the app."""

    def __init__(self, registry: Registry, *, max_group: int = 1000) -> None:
        self.registry = registry
        self.max_group = max_group
        self._queue: asyncio.Queue[tuple[Parsed, asyncio.Future[AppendResult]]] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None

    async def submit(self, principal: Principal, envelope: bytes) -> AppendResult:
        # parsing only, no I/O (~0.1 ms): cheaper here than in a thread, and done once
        parsed = authorize(principal, [envelope])
        if self._queue is None:  # not started (no lifespan): append directly
            return await run_in_threadpool(self.registry.append_parsed, parsed)
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        await self._queue.put((parsed[0], future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            group = [await self._queue.get()]
            while len(group) < self.max_group and not self._queue.empty():
                group.append(self._queue.get_nowait())
            try:
                outcomes = await run_in_threadpool(append_group, self.registry, [item for item, _ in group])
            except Exception as e:  # storage failure: every waiting submission learns it
                outcomes = [e] * len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.cancelled():
                    continue
                if isinstance(outcome, Exception):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)
