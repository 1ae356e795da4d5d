"""Run ``raretrace serve`` (one process) under a profiler, to find where a request's time goes and what
makes the tail. ``bench_server.py --profile MODE`` starts the server through this script.

    python benchmarks/profile_server.py --mode sample|cprofile --out DIR -- --db DB serve --port N ...

Modes (both also record what makes a tail, written to DIR/tail.json):
- ``sample``: a sampling profiler (py-spy is not installed): a thread takes every thread's stack about
  every millisecond (``sys._current_frames``); DIR/stacks-<thread>.txt holds the folded stacks and their
  counts, and DIR/summary.txt the functions by share of samples (self and inclusive) per thread kind
  (the event loop's thread, the worker threads). The sampler needs the GIL to look, so its "self"
  shares lean to where threads release it (database calls, locks): trust the inclusive shares more.
  It costs the server CPU too (PostgreSQL single submissions 3.2 -> 7.1 ms a request measured).
- ``cprofile``: cProfile (timed by each thread's CPU time) in every thread (the event loop's and each
  pool thread's), merged per kind into DIR/loop.pstats and DIR/pool.pstats, and their top functions in
  DIR/summary.txt. Exact counts, but it slows Python calls several-fold: read shares, not times.

The tail record: how late the event loop runs a callback scheduled every 2 ms from another thread (its
lag: how long a request can wait behind whatever the loop is doing), every garbage collection's
generation and duration, and the group commit's group sizes and durations.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import pstats
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

LAG_EVERY_S = 0.002
SAMPLE_EVERY_S = 0.001


class Tail:
    """Loop lag, GC pauses and group commits, gathered while the server runs."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gcs: list[tuple[int, float]] = []
        self.groups: list[tuple[int, float]] = []
        self._gc_start = 0.0
        self._stop = threading.Event()

    def on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_start = time.thread_time()
        else:  # the collecting thread's CPU time: what it costs, whatever else the machine runs
            self.gcs.append((int(info["generation"]), time.thread_time() - self._gc_start))

    def watch_group_commit(self) -> None:
        from raretrace.server import group_commit

        original = group_commit.append_group

        def timed(registry: Any, submissions: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(registry, submissions)
            finally:
                self.groups.append((len(submissions), time.perf_counter() - start))

        group_commit.append_group = timed  # type: ignore[assignment]  # a profiling wrapper, same signature

    def watch_loop(self) -> None:
        """Find the serving loop when it starts, then ping it from a thread."""

        def pinger() -> None:
            loop = None
            while loop is None and not self._stop.is_set():
                time.sleep(0.05)
                loop = _main_loop()
            while not self._stop.is_set() and loop is not None and not loop.is_closed():
                sent = time.perf_counter()
                done = threading.Event()

                def pong(sent: float = sent, done: threading.Event = done) -> None:
                    self.lags.append(time.perf_counter() - sent)
                    done.set()

                try:
                    loop.call_soon_threadsafe(pong)
                except RuntimeError:
                    return
                done.wait(5)
                time.sleep(LAG_EVERY_S)

        threading.Thread(target=pinger, daemon=True, name="lag-pinger").start()

    def stop(self) -> None:
        self._stop.set()

    def write(self, out: Path) -> None:
        def pcts(values: list[float]) -> dict[str, float]:
            if not values:
                return {}
            s = sorted(values)
            return {
                f"p{p}_ms": 1000 * s[min(len(s) - 1, int(p / 100 * len(s)))] for p in (50, 90, 99, 99.9)
            } | {"max_ms": 1000 * s[-1], "count": len(s)}

        record = {
            "loop_lag": pcts(self.lags),
            "loop_lag_over_10ms": sum(1 for x in self.lags if x > 0.010),
            "gc": {str(g): pcts([d for gen, d in self.gcs if gen == g]) for g in (0, 1, 2)},
            "gc_total_s": sum(d for _, d in self.gcs),
            "group_sizes": Counter(n for n, _ in self.groups).most_common(20),
            "group_mean_size": sum(n for n, _ in self.groups) / max(1, len(self.groups)),
            "group_duration": pcts([d for _, d in self.groups]),
        }
        (out / "tail.json").write_text(json.dumps(record, indent=1))


def _main_loop() -> Any:
    """The running event loop of the main thread, if any (found through its frames)."""
    import asyncio

    frame = sys._current_frames().get(threading.main_thread().ident or 0)
    while frame is not None:
        candidate = frame.f_locals.get("self")
        candidate = getattr(candidate, "_loop", candidate)  # asyncio.Runner holds the loop
        if isinstance(candidate, asyncio.AbstractEventLoop) and candidate.is_running():
            return candidate
        for value in frame.f_locals.values():
            if isinstance(value, asyncio.AbstractEventLoop) and value.is_running():
                return value
        frame = frame.f_back
    return None


class Sampler:
    """Every thread's stack about every millisecond, folded and counted."""

    def __init__(self) -> None:
        self.stacks: dict[str, Counter[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="sampler")

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        me = threading.get_ident()
        main = threading.main_thread().ident
        names = {}
        while not self._stop.is_set():
            time.sleep(SAMPLE_EVERY_S)
            for ident, frame in sys._current_frames().items():
                if ident == me:
                    continue
                if ident not in names:
                    names = {t.ident: t.name for t in threading.enumerate()}
                name = names.get(ident, "?")
                kind = (
                    "loop"
                    if ident == main
                    else ("pool" if "AnyIO" in name or "worker" in name.lower() else name)
                )
                if kind in ("lag-pinger",):
                    continue
                parts = []
                f: Any = frame
                while f is not None:
                    code = f.f_code
                    parts.append(f"{Path(code.co_filename).name}:{code.co_name}")
                    f = f.f_back
                self.stacks.setdefault(kind, Counter())[";".join(reversed(parts))] += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2)

    def write(self, out: Path) -> None:
        lines = []
        for kind, counter in sorted(self.stacks.items()):
            total = sum(counter.values())
            (out / f"stacks-{kind}.txt").write_text(
                "".join(f"{stack} {n}\n" for stack, n in counter.most_common())
            )
            own: Counter[str] = Counter()
            inclusive: Counter[str] = Counter()
            for stack, n in counter.items():
                frames = stack.split(";")
                own[frames[-1]] += n
                for fn in set(frames):
                    inclusive[fn] += n
            lines.append(f"== {kind}: {total} samples")
            lines.append("-- self")
            lines += [f"{100 * n / total:6.1f}% {fn}" for fn, n in own.most_common(40)]
            lines.append("-- inclusive")
            lines += [f"{100 * n / total:6.1f}% {fn}" for fn, n in inclusive.most_common(80)]
        (out / "summary.txt").write_text("\n".join(lines) + "\n")


class Profiles:
    """cProfile in every thread, kept per thread kind."""

    def __init__(self) -> None:
        self.loop = cProfile.Profile(time.thread_time)  # CPU time: the machine's load does not count
        self.pool: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.loop.enable()

        def hook(*_: Any) -> None:
            profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self.pool.append(profile)
            profile.enable()  # replaces this hook for the thread

        threading.setprofile(hook)

    def stop(self) -> None:
        self.loop.disable()

    def write(self, out: Path) -> None:
        lines = []
        for kind, profiles in (("loop", [self.loop]), ("pool", self.pool)):
            if not profiles:
                continue
            stats = pstats.Stats(profiles[0])
            for extra in profiles[1:]:
                stats.add(extra)
            stats.dump_stats(out / f"{kind}.pstats")
            import io

            text = io.StringIO()
            pstats.Stats(str(out / f"{kind}.pstats"), stream=text).sort_stats("cumulative").print_stats(60)
            text2 = io.StringIO()
            pstats.Stats(str(out / f"{kind}.pstats"), stream=text2).sort_stats("tottime").print_stats(40)
            lines += [f"== {kind} cumulative", text.getvalue(), f"== {kind} tottime", text2.getvalue()]
        (out / "summary.txt").write_text("\n".join(lines))


def dump_phase(out: Path, sampler: Sampler, tail: Tail) -> None:
    """SIGUSR1 (sent by bench_server.py after each phase, having named it in DIR/phase.txt): write what
    was gathered since the last dump to DIR/<phase>/ and start afresh."""
    phase = (out / "phase.txt").read_text().strip()
    stacks, sampler.stacks = sampler.stacks, {}
    lags, gcs, groups = tail.lags, tail.gcs, tail.groups
    tail.lags, tail.gcs, tail.groups = [], [], []
    target = out / phase
    target.mkdir(exist_ok=True)
    done = Sampler()
    done.stacks = stacks
    done.write(target)
    record = Tail()
    record.lags, record.gcs, record.groups = lags, gcs, groups
    record.write(target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("sample", "cprofile"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("serve", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tail = Tail()
    gc.callbacks.append(tail.on_gc)
    tail.watch_group_commit()
    tail.watch_loop()
    profiler: Sampler | Profiles = Sampler() if args.mode == "sample" else Profiles()
    profiler.start()
    if isinstance(profiler, Sampler):
        signal.signal(signal.SIGUSR1, lambda *_: dump_phase(out, profiler, tail))
    # uvicorn raises the signal that stopped it again once it has shut down, under the handler it found:
    # this one, so the profile is written rather than the process killed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.argv = ["raretrace", *[a for a in args.serve if a != "--"]]
    from raretrace.cli.main import main as cli

    try:
        cli()
    except SystemExit:
        pass
    finally:
        profiler.stop()
        tail.stop()
        profiler.write(out)
        tail.write(out)


if __name__ == "__main__":
    main()
