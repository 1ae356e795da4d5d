"""A writer killed with SIGKILL mid-batch leaves a registry whose audit passes, batch wholly in or out."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from raretrace.crypto.keys import write_key_pair
from raretrace.ledger.audit import audit
from raretrace.ledger.registry import Registry
from raretrace.store.db import make_engine
from tests.chain_fixtures import mine_and_separator, snapshot

CHILD = Path(__file__).with_name("crash_child.py")
BATCH = 3000


def _prepare(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    chain = mine_and_separator(url)
    write_key_pair(chain.signers["US-MINE"], Path(str(tmp_path / "crash.db") + ".mine.key"))
    chain.registry.engine.dispose()
    return url


def _start(url: str, first: int, *extra: str) -> subprocess.Popen[str]:
    root = Path(__file__).resolve().parents[1]
    # the tests' package and this checkout's raretrace (not whichever copy is installed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(root), str(root / "src")))}
    return subprocess.Popen(
        [sys.executable, str(CHILD), url, str(first), str(BATCH), *extra],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(proc: subprocess.Popen[str], marker: str, timeout: float = 120.0) -> None:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.strip() == marker:
            return
        if not line and proc.poll() is not None:
            raise AssertionError(f"child ended (code {proc.returncode}) before printing {marker}")
    raise AssertionError(f"child did not print {marker} within {timeout}s")


def _check(url: str, size_before: int) -> int:
    registry = Registry(make_engine(url))
    result = audit(registry)
    assert result.ok, result.problems
    size = registry.tree_size()
    assert size in (size_before, size_before + BATCH), (
        f"partial batch: {size - size_before} of {BATCH} events"
    )
    registry.engine.dispose()
    return size


def test_kill_after_rows_written_before_commit(tmp_path: Path) -> None:
    url = _prepare(tmp_path)
    registry = Registry(make_engine(url))
    before = snapshot(registry)
    size_before = registry.tree_size()
    registry.engine.dispose()
    proc = _start(url, 0, "pause")
    _wait_for(proc, "WRITTEN")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _check(url, size_before) == size_before
    assert snapshot(Registry(make_engine(url))) == before


def test_kill_at_random_moments_during_large_batches(tmp_path: Path) -> None:
    url = _prepare(tmp_path)
    size = Registry(make_engine(url)).tree_size()
    rng = random.Random(7)
    outcomes = set()
    for attempt in range(4):
        proc = _start(url, (attempt + 1) * BATCH)
        _wait_for(proc, "APPENDING")
        time.sleep(rng.uniform(0.05, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        new_size = _check(url, size)
        outcomes.add(new_size - size)
        size = new_size
    assert outcomes <= {0, BATCH}
