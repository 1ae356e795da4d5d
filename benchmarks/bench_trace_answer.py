"""What an API trace answer costs in CPU: this tree against an older one (issue #18), in one run.

    python benchmarks/bench_trace_answer.py [--old /work/wt/tracejson-old] [--lots 6000] [--rounds 6]
                                            [--passes 3] [--callgrind-passes 2] [--no-callgrind]

Issue #18 made the services answer with frozen dataclasses (``ledger.trace_answers``) where they had
answered with dicts; its figures must stay those of the dict version. The older tree (by default a
``git worktree add /work/wt/tracejson-old b0759df`` checkout: the last commit before typed traces) and
this one each run in a worker process of their own (``--worker``, the tree's ``src`` first on its path),
on a registry each builds with its own ``benchmarks/synthetic_graph.py`` from the same seed, with the
older tree's lot ids (the newer registry made with ``namespaced_ids=False``): the same graph and the
same answers, byte for byte, which the run checks (a digest of every answer of each case).

One request is what the API route ``GET /lots/{id}/trace`` computes: ``server.api_lots.trace_view``
(access check, trace, redaction for a caller who does not see everything) and ``server.answers.
json_answer`` (the JSON body), called in-process, without the HTTP layer. Four cases, each over the
same sample of lots:

* ``up/secretariat``: the up-trace of systems (a few hundred lots each), seen whole;
* ``up/operator``: the same traces for the integrators' operator: other participants' lots redacted;
* ``down/secretariat``: the down-trace (recall list) of ore lots;
* ``down/operator``: the same for the mines' operator.

Two figures, both as new/old ratios:

* thread CPU time (``time.thread_time``) per request, in rounds that alternate the trees (old, new,
  new, old, ...), every case ``--passes`` times over its sample per round: medians over rounds;
* instructions per request (valgrind callgrind, independent of the machine's load): each worker run once
  under callgrind, every case warmed up once, then ``--callgrind-passes`` passes; the counts are split
  at marks the worker sets by calling ``os.getppid`` (``--dump-before=getppid``).
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
NEW_TREE = HERE.parent
SEED = 18
CASES = ("up/secretariat", "up/operator", "down/secretariat", "down/operator")
INTEGRATORS = "integrators"
MINES = "mines"


# --- the worker (one per tree) --------------------------------------------------------------------------


def _build(db: Path, lots: int) -> None:
    """The registry: the synthetic chain from ``SEED``, a secretariat, and two operators."""
    import synthetic_graph as graph  # the tree's own (its lot ids)

    from raretrace.ledger.participants import add_participant, issue_token
    from raretrace.ledger.registry import Registry
    from raretrace.store.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    if "namespaced_ids" in inspect.signature(Registry.init).parameters:  # the newer tree: the older ids
        registry = Registry.init(engine, "bench.raretrace.example/trace-answer", namespaced_ids=False)
    else:
        registry = Registry.init(engine, "bench.raretrace.example/trace-answer")
    chain = graph.SyntheticChain(registry, random.Random(SEED), batch=2000, ores_per_wave=20)

    def open_id(*where: str) -> str:
        """The older tree's lot ids (``urn:raretrace:lot:ore-00000001``), so both answer the same bytes."""
        chain._serial += 1
        return f"urn:raretrace:lot:{where[-1]}-{chain._serial:08d}"

    chain._lot_id = open_id  # type: ignore[method-assign, assignment]  # both trees' chains: one numbering
    chain.register_facilities()
    chain.build(lots)
    engine = registry.engine
    add_participant(engine, "secretariat", "Secretariat", "secretariat")
    add_participant(engine, INTEGRATORS, "Integrators", "operator", [f[0] for f in graph.INTEGRATORS])
    add_participant(engine, MINES, "Mines", "operator", [f[0] for f in graph.MINES])
    tokens = {name: str(issue_token(engine, name).token) for name in ("secretariat", INTEGRATORS, MINES)}
    db.with_suffix(".tokens.json").write_text(json.dumps(tokens))


def _sample(registry: Any, stage: str, count: int) -> list[str]:
    """``count`` lots of ``stage`` spread evenly over them in serial order (the same in both trees)."""
    from sqlalchemy import text

    with registry.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(text("SELECT id FROM lots WHERE stage = :s"), {"s": stage})]
    ids.sort(key=lambda lot: lot.rsplit("-", 1)[-1])  # by serial number: namespaces differ by tree
    step = max(len(ids) // count, 1)
    return ids[::step][:count]


def _requests(db: Path, sample: int) -> dict[str, Callable[[], str]]:
    """Each case as one call running its sample once; the call returns a digest of the bytes answered."""
    from raretrace.ledger.lineage import DEFAULT_MAX_PATHS
    from raretrace.ledger.participants import authenticate
    from raretrace.ledger.registry import Registry
    from raretrace.server.answers import json_answer
    from raretrace.server.api_lots import trace_view
    from raretrace.store.db import make_engine

    registry = Registry(make_engine(f"sqlite:///{db}"))
    tokens = json.loads(db.with_suffix(".tokens.json").read_text())
    callers = {}
    with registry.engine.connect() as conn:
        for name, token in tokens.items():
            caller = authenticate(conn, token)
            if caller is None:
                raise RuntimeError(f"{name}'s token is refused")
            callers[name] = caller
    systems, ores = _sample(registry, "system", sample), _sample(registry, "mining", sample)
    plan = {
        "up/secretariat": ("secretariat", "up", systems),
        "up/operator": (INTEGRATORS, "up", systems),
        "down/secretariat": ("secretariat", "down", ores),
        "down/operator": (MINES, "down", ores),
    }

    def run(who: str, direction: str, lots: list[str]) -> str:
        caller = callers[who]
        digest = hashlib.sha256()
        for lot in lots:
            digest.update(json_answer(trace_view(registry, caller, lot, direction, DEFAULT_MAX_PATHS)).body)
        return digest.hexdigest()[:16]

    return {case: partial(run, *plan[case]) for case in CASES}


def _mark() -> int:
    """Under callgrind (``--dump-before=getppid``): end the current count; the number of the file it went
    to (files are numbered in order, and other getppid calls may have made some)."""
    os.getppid()
    out = os.environ["BENCH_CALLGRIND_OUT"]
    folder, stem = os.path.split(out)
    numbers = [int(n.rsplit(".", 1)[1]) for n in os.listdir(folder) if n.startswith(stem + ".")]
    return max(numbers, default=0)


def worker(args: argparse.Namespace) -> None:
    """Serve the parent: one JSON line in (a command), one JSON line out."""
    sys.path.insert(0, str(Path(args.tree) / "benchmarks"))
    db = Path(args.db)
    if not db.exists():
        _build(db, args.lots)
    cases = _requests(db, args.sample)
    if os.environ.get("BENCH_CALLGRIND_OUT"):
        files: dict[str, int] = {}
        for case, run in cases.items():
            run()  # warm: caches, prepared statements
            _mark()
            for _ in range(args.callgrind_passes):
                run()
            files[case] = _mark()
        print(json.dumps({"files": files}), flush=True)
        return
    digests = {case: run() for case, run in cases.items()}  # warm: caches, prepared statements
    print(json.dumps({"digests": digests}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        times: dict[str, float] = {}
        for case in CASES:
            run = cases[case]
            start = time.thread_time()
            for _ in range(command["passes"]):
                run()
            times[case] = time.thread_time() - start
        print(json.dumps({"times": times}), flush=True)


# --- the parent -------------------------------------------------------------------------------------------


def _python() -> str:
    return os.path.realpath(sys.executable)  # not a shim script: valgrind must run Python itself


def _worker_command(tree: Path, db: Path, args: argparse.Namespace) -> list[str]:
    return [
        _python(),
        str(Path(__file__).resolve()),
        "--worker",
        "--tree",
        str(tree),
        "--db",
        str(db),
        "--lots",
        str(args.lots),
        "--sample",
        str(args.sample),
        "--callgrind-passes",
        str(args.callgrind_passes),
    ]


def _env(tree: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree / "src"), **extra}


def _start(tree: Path, db: Path, args: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, Any]]:
    process = subprocess.Popen(
        _worker_command(tree, db, args),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(tree),
    )
    assert process.stdout is not None
    return process, json.loads(process.stdout.readline())


def _ask(process: subprocess.Popen[str], command: dict[str, Any]) -> dict[str, Any]:
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(json.dumps(command) + "\n")
    process.stdin.flush()
    answer: dict[str, Any] = json.loads(process.stdout.readline())
    return answer


def _instructions(
    trees: dict[str, Path], dbs: dict[str, Path], work: Path, args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """Instructions per request of each case: one callgrind run of each tree's worker, side by side."""
    runs = {}
    for name, tree in trees.items():
        out = work / f"callgrind.{name}"
        for stale in work.glob(f"callgrind.{name}*"):  # a kept --work's older dumps would shift the marks
            stale.unlink()
        command = ["valgrind", "--tool=callgrind", "--dump-before=getppid", f"--callgrind-out-file={out}"]
        runs[name] = (
            out,
            subprocess.Popen(
                command + _worker_command(tree, dbs[name], args),
                env=_env(tree, BENCH_CALLGRIND_OUT=str(out)),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            ),
        )
    requests = args.sample * args.callgrind_passes
    counts = {}
    for name, (out, process) in runs.items():
        stdout, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the {name} worker under callgrind failed ({process.returncode})")
        files = json.loads(stdout.strip().splitlines()[-1])["files"]
        counts[name] = {case: _total(Path(f"{out}.{files[case]}")) / requests for case in CASES}
    return counts


def _total(dump: Path) -> int:
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise ValueError(f"{dump}: no totals line")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--old", default="/work/wt/tracejson-old", help="the older tree (a git worktree)")
    parser.add_argument("--lots", type=int, default=6000, help="lots in each registry")
    parser.add_argument("--sample", type=int, default=8, help="lots traced per case")
    parser.add_argument("--rounds", type=int, default=6, help="timing rounds (0: instruction counts only)")
    parser.add_argument("--passes", type=int, default=3, help="passes over each case's sample per round")
    parser.add_argument("--callgrind-passes", type=int, default=2)
    parser.add_argument("--no-callgrind", action="store_true")
    parser.add_argument("--work", help="keep the registries here (built when absent) instead of a temp dir")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as temp:
        work = Path(args.work or temp)
        work.mkdir(parents=True, exist_ok=True)
        trees = {"old": Path(args.old).resolve(), "new": NEW_TREE}
        dbs = {name: work / f"{name}-{args.lots}.db" for name in trees}
        compare(trees, dbs, work, args)


def compare(trees: dict[str, Path], dbs: dict[str, Path], work: Path, args: argparse.Namespace) -> None:
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}, {now}")
    if args.rounds:
        _timing(trees, dbs, args)
    if args.no_callgrind:
        return
    counts = _instructions(trees, dbs, work, args)
    print(f"\ninstructions per request (callgrind, {args.sample * args.callgrind_passes} requests a case)")
    print(f"{'case':18} {'old':>14} {'new':>14} {'new/old':>8}")
    for case in CASES:
        old, new = counts["old"][case], counts["new"][case]
        print(f"{case:18} {old:14,.0f} {new:14,.0f} {new / old:8.3f}")
    print(f"load {Path('/proc/loadavg').read_text().split()[:3]}")


def _timing(trees: dict[str, Path], dbs: dict[str, Path], args: argparse.Namespace) -> None:
    """Thread CPU per request in rounds alternating the trees (the registries built first if absent)."""
    workers = {name: _start(tree, dbs[name], args) for name, tree in trees.items()}
    digests = {name: ready["digests"] for name, (_, ready) in workers.items()}
    for name, tree in trees.items():
        print(f"{name}: {tree}  answers' sha256 {digests[name]}")
    print("the same bytes from both trees" if digests["old"] == digests["new"] else "THE ANSWERS DIFFER")
    times: dict[str, dict[str, list[float]]] = {name: {case: [] for case in CASES} for name in trees}
    requests = args.sample * args.passes
    for r in range(args.rounds):
        for name in ("old", "new") if r % 2 == 0 else ("new", "old"):
            answer = _ask(workers[name][0], {"passes": args.passes})
            for case in CASES:
                times[name][case].append(answer["times"][case] / requests)
    for process, _ in workers.values():
        assert process.stdin is not None
        process.stdin.close()
        process.wait()
    print(f"\nthread CPU per request, median of {args.rounds} alternating rounds ({requests} requests each)")
    print(f"{'case':18} {'old ms':>9} {'new ms':>9} {'new/old':>8}   per-round ratios")
    for case in CASES:
        old, new = (statistics.median(times[n][case]) for n in ("old", "new"))
        rounds = " ".join(f"{b / a:.2f}" for a, b in zip(times["old"][case], times["new"][case], strict=True))
        print(f"{case:18} {old * 1e3:9.2f} {new * 1e3:9.2f} {new / old:8.3f}   {rounds}")


if __name__ == "__main__":
    main()
