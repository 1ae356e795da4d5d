"""How the group commit's writer gathers a group (``GroupCommit._gather``): what is queued at once; while
fewer than the previous group's callers, what arrives within the window; never waiting for a lone caller."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from raretrace.server.group_commit import GroupCommit

GAP, WINDOW = 0.2, 0.6  # wide, so a busy test machine does not decide the outcome


def gather(
    queued: int, later: int, expected: int, *, later_after: float = 0.0, most: int = 1000
) -> tuple[int, float]:
    """The size of the group gathered, and how long gathering took, with ``queued`` submissions waiting
    and ``later`` more arriving one every ``later_after`` seconds (0: one each turn of the event loop)."""

    async def run() -> tuple[int, float]:
        group = GroupCommit(registry=None, max_group=most, gather=(GAP, WINDOW))  # type: ignore[arg-type]  # never appends here
        queue: asyncio.Queue[Any] = asyncio.Queue()
        group._queue = queue
        for i in range(queued):
            queue.put_nowait((i, None))

        async def arrive() -> None:
            for i in range(later):
                await asyncio.sleep(later_after)
                queue.put_nowait((queued + i, None))

        arriving = asyncio.create_task(arrive())
        start = time.perf_counter()
        gathered = await group._gather(expected)
        took = time.perf_counter() - start
        arriving.cancel()
        assert [item for item, _ in gathered] == list(range(len(gathered)))  # in arrival order, none lost
        return len(gathered), took

    return asyncio.run(run())


def test_a_lone_caller_does_not_wait() -> None:
    # nothing queued, the one caller answered sends again: it goes alone, whatever follows
    size, took = gather(queued=0, later=5, expected=1, later_after=GAP / 10)
    assert size == 1
    assert took < GAP


def test_the_callers_just_answered_join_one_group() -> None:
    # 2 queued during the last append, the 30 it answered send again a moment later: one group of 32
    size, took = gather(queued=2, later=30, expected=30)
    assert size == 32
    assert took < WINDOW


def test_a_gap_ends_the_wait() -> None:
    size, took = gather(queued=2, later=0, expected=30)
    assert size == 2
    assert GAP * 0.9 <= took < WINDOW


def test_the_window_bounds_the_wait() -> None:
    # they keep coming, one every third of the gap, more than the window can hold
    size, took = gather(queued=2, later=1000, expected=1000, later_after=GAP / 5)
    assert 2 < size < 1000
    assert WINDOW * 0.9 <= took < 3 * WINDOW


def test_a_full_group_goes_without_waiting() -> None:
    size, took = gather(queued=40, later=5, expected=30, most=40)
    assert size == 40
    assert took < GAP
