"""What writing a trace costs ``trace --json`` and the web lot page: the old way against ``json_ready``,
in one process, alternated.

    python benchmarks/bench_trace_text.py [--lots 3000] [--sample 8] [--rounds 8] [--no-callgrind]
                                          [--work DIR]

The CLI and the web lot page made a trace's JSON with ``as_object`` (``render.jsonable``), which copies
every edge and lot summary member by member since those became ``TypedDict``s (plain dicts); they now
write it from ``render.jsonable.json_ready`` as the API does. The old code is ``tests/trace_reference.py``
(the code as it was); the registry is ``benchmarks/bench_trace_answer.py``'s (``synthetic_graph.py``,
its seed, a secretariat and the integrators' operator), built in ``--work`` when absent. Four cases,
each over the same sample of lots, the old and the new way checked to give the same bytes first:

* ``cli up``: the text of ``trace LOT --up --json`` (graph, shares per element) of systems: the old
  ``json.dumps(as_object(t), indent=2, sort_keys=True)`` against ``cli.common.answer_text(t)``; the
  trace made once, outside the count (its cost is printed beside);
* ``cli down``: the same for ``--down`` of ores;
* ``page secretariat``, ``page operator``: ``server.web.lot_model`` of those systems (details, both
  traces, the graph and the Sankeys when drawn, verdicts, certificates) against the old one.

Two figures: thread CPU (``time.thread_time``) per lot, in rounds that alternate old and new (old first
in even rounds), medians; and instructions per lot (callgrind, one process running every case both
ways between marks set by calling ``os.getppid``: ``--dump-before=getppid``), which the machine's load
does not change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CASES = ("cli up", "cli down", "page secretariat", "page operator")
WAYS = ("old", "new")


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _cases(db: Path, sample: int) -> tuple[dict[str, dict[str, Callable[[], str]]], dict[str, float]]:
    """Each case's two ways, each one call over the sample returning what it wrote; and the thread CPU
    per lot of making the traces the CLI cases write."""
    import orjson
    from bench_trace_answer import INTEGRATORS, _sample
    from tests import trace_reference as old

    from raretrace.cli.common import answer_text
    from raretrace.ledger.lineage import trace_down, trace_up
    from raretrace.ledger.participants import authenticate
    from raretrace.ledger.registry import Registry
    from raretrace.render.jsonable import jsonable
    from raretrace.server import web
    from raretrace.store.db import make_engine

    registry = Registry(make_engine(f"sqlite:///{db}"))
    tokens = json.loads(db.with_suffix(".tokens.json").read_text())
    callers = {}
    with registry.engine.connect() as conn:
        for who in ("secretariat", INTEGRATORS):
            callers[who] = authenticate(conn, tokens[who])
    systems, ores = _sample(registry, "system", sample), _sample(registry, "mining", sample)
    start = time.thread_time()
    ups = [trace_up(registry, lot, graph=True, by_element=True) for lot in systems]
    made = {"trace up": (time.thread_time() - start) / len(systems)}
    start = time.thread_time()
    downs = [trace_down(registry, lot) for lot in ores]
    made["trace down"] = (time.thread_time() - start) / len(ores)

    def texts(write: Callable[[Any], str], traces: list[Any]) -> Callable[[], str]:
        return lambda: "".join(write(t) for t in traces)

    def pages(make: Callable[..., dict[str, Any]], who: str) -> Callable[[], str]:
        caller = callers[who]

        def run() -> str:
            models = [make(registry, caller, lot) for lot in systems]
            drawn = [[m["up"], m["down"], m["graph"], m["sankeys"]] for m in models]
            return _UUID.sub("-", orjson.dumps(drawn, default=jsonable).decode())  # plotly's div ids

        return run

    cases = {
        "cli up": {"old": texts(old.trace_text, ups), "new": texts(answer_text, ups)},
        "cli down": {"old": texts(old.trace_text, downs), "new": texts(answer_text, downs)},
    }
    for who, name in (("secretariat", "page secretariat"), (INTEGRATORS, "page operator")):
        cases[name] = {"old": pages(old.lot_model, who), "new": pages(web.lot_model, who)}
    return cases, made


def _mark() -> int:
    """Under callgrind (``--dump-before=getppid``): end the current count; the number of the file it
    went to."""
    os.getppid()
    out = os.environ["BENCH_CALLGRIND_OUT"]
    folder, stem = os.path.split(out)
    return max(int(n.rsplit(".", 1)[1]) for n in os.listdir(folder) if n.startswith(stem + "."))


def worker(args: argparse.Namespace) -> None:
    """Time (or, under callgrind, count) every case both ways; one JSON line out."""
    sys.path[:0] = [str(HERE), str(ROOT)]  # bench_trace_answer; tests.trace_reference
    cases, made = _cases(Path(args.db), args.sample)
    for case, ways in cases.items():  # warm, and the same bytes both ways
        if ways["old"]() != ways["new"]():
            raise SystemExit(f"{case}: the old and the new way write different bytes")
    if os.environ.get("BENCH_CALLGRIND_OUT"):
        files: dict[str, dict[str, int]] = {case: {} for case in CASES}
        _mark()
        for case in CASES:
            for way in WAYS:
                for _ in range(args.callgrind_passes):
                    cases[case][way]()
                files[case][way] = _mark()
        print(json.dumps({"files": files}), flush=True)
        return
    times: dict[str, dict[str, list[float]]] = {case: {way: [] for way in WAYS} for case in CASES}
    for r in range(args.rounds):
        for case in CASES:
            for way in WAYS if r % 2 == 0 else WAYS[::-1]:
                start = time.thread_time()
                cases[case][way]()
                times[case][way].append((time.thread_time() - start) / args.sample)
    print(json.dumps({"times": times, "made": made}), flush=True)


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals line")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lots", type=int, default=3000, help="lots in the registry")
    parser.add_argument("--sample", type=int, default=8, help="lots per case")
    parser.add_argument("--rounds", type=int, default=8, help="timing rounds (0: instruction counts only)")
    parser.add_argument("--callgrind-passes", type=int, default=1)
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--work", help="keep the registry here (built when absent) instead of a temp dir")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as temp:
        work = Path(args.work or temp)
        work.mkdir(parents=True, exist_ok=True)
        db = work / f"new-{args.lots}.db"
        if not db.exists():
            sys.path.insert(0, str(HERE))
            from bench_trace_answer import _build

            _build(db, args.lots)
        compare(db, work, args)


def compare(db: Path, work: Path, args: argparse.Namespace) -> None:
    python = os.path.realpath(sys.executable)  # not a shim script: valgrind must run Python itself
    command = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        "--db",
        str(db),
        "--sample",
        str(args.sample),
    ]
    command += ["--rounds", str(args.rounds), "--callgrind-passes", str(args.callgrind_passes)]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    print(f"load {_load()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {db}")
    if args.rounds:
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        answer = json.loads(done.stdout.strip().splitlines()[-1])
        made = answer["made"]
        up, down = made["trace up"] * 1e3, made["trace down"] * 1e3
        print(f"making the traces (not counted below): up {up:.2f} ms, down {down:.2f} ms a lot")
        print(f"\nthread CPU per lot, median of {args.rounds} alternating rounds ({args.sample} lots each)")
        print(f"{'case':18} {'old ms':>9} {'new ms':>9} {'new/old':>8}   per-round ratios")
        for case in CASES:
            old, new = (answer["times"][case][way] for way in WAYS)
            ratios = " ".join(f"{b / a:.2f}" for a, b in zip(old, new, strict=True))
            print(
                f"{case:18} {statistics.median(old) * 1e3:9.2f} {statistics.median(new) * 1e3:9.2f} "
                f"{statistics.median(new) / statistics.median(old):8.3f}   {ratios}"
            )
        print(f"load {_load()}")
    if args.no_callgrind:
        return
    out = work / "callgrind.text"
    for stale in work.glob("callgrind.text*"):
        stale.unlink()
    valgrind = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={out}"]
    done = subprocess.run(
        valgrind + command,
        env={**env, "BENCH_CALLGRIND_OUT": str(out)},
        capture_output=True,
        text=True,
        check=True,
    )
    files = json.loads(done.stdout.strip().splitlines()[-1])["files"]
    lots = args.sample * args.callgrind_passes
    print(f"\ninstructions per lot (callgrind, {lots} lots a case and way)")
    print(f"{'case':18} {'old':>14} {'new':>14} {'new/old':>8}")
    for case in CASES:
        old, new = (_total(Path(f"{out}.{files[case][way]}")) / lots for way in WAYS)
        print(f"{case:18} {old:14,.0f} {new:14,.0f} {new / old:8.3f}")
    print(f"load {_load()}")


if __name__ == "__main__":
    main()
