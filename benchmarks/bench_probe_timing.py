"""Does a refusal about another participant's lot take longer than one about a lot that does not
exist? The competitor arena (tests/test_competitor.py: a registry made with the defaults, the
reference chains, participants of every role), probed in one process through the in-process test
client: thousands of requests of each kind, alternating (ABBA order, so drift and load fall on both
alike), timed by the wall clock and by the process's CPU clock.

    python benchmarks/bench_probe_timing.py [--pairs 3000] [--resamples 2000] [--profile]

For each route it prints the medians, the differences of the 10/25/50/75/90th percentiles (another's
minus missing) and the median of the paired differences, each with a 95% bootstrap confidence interval
(percentile method, Efron & Tibshirani 1993, ch. 13), and the load average before and after. The test
client runs the app in a thread of its own, so ``--direct`` also times the service the read route
calls (``server.api_lots.lot_view``, ``server.submit.submit``) in this thread, where the thread's CPU
clock and cProfile see only their work; with ``--profile`` it profiles 2,000 calls of each kind and
prints the functions whose cumulative time or number of calls differ between the two.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.test_competitor import NOT_VISIBLE, Arena, Probe, ask, build_arena, lot_probes, missing_like

QUANTILES = (10, 25, 50, 75, 90)
#: The probe routes timed: an index into ``lot_probes`` and the HTTP status both answers must have.
SUBMISSION = "POST /api/v1/events (a process, refused)"
ROUTES = {"GET /api/v1/lots/{id}": (0, 404), SUBMISSION: (7, 404)}


def interleaved(
    calls: dict[str, Callable[[], None]], pairs: int, cpu_clock: Callable[[], float]
) -> dict[str, np.ndarray]:
    """Wall and CPU seconds of ``pairs`` calls of each of the two ``calls`` (another's, missing),
    alternated ABBA so that drift and load fall on both alike; after a warm-up of both."""
    for _ in range(50):  # caches, the connection pool, first-call imports
        for call in calls.values():
            call()
    names = list(calls)
    wall: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    for i in range(pairs):
        for name in names if i % 4 in (0, 3) else names[::-1]:
            c0, w0 = cpu_clock(), time.perf_counter()
            calls[name]()
            wall[name].append(time.perf_counter() - w0)
            cpu[name].append(cpu_clock() - c0)
    return {f"{clock} {n}": np.array(v[n]) for clock, v in (("wall", wall), ("cpu", cpu)) for n in names}


def sample(arena: Arena, route: int, status: int, pairs: int) -> dict[str, np.ndarray]:
    """``interleaved`` requests through the test client (the app answers in another thread, so the
    process's CPU clock counts both threads)."""
    real = NOT_VISIBLE["us"]["held"]
    probes = {
        "theirs": lot_probes(arena, "us", real)[route],
        "missing": lot_probes(arena, "us", missing_like(real))[route],
    }

    def asking(probe: Probe) -> Callable[[], None]:
        def call() -> None:
            answer = ask(arena, "us", probe)
            if answer.status_code != status:
                raise SystemExit(f"{probe[1]}: {answer.status_code} {answer.text}")

        return call

    return interleaved({name: asking(probe) for name, probe in probes.items()}, pairs, time.process_time)


def bootstrap(
    statistic: Callable[[np.ndarray, np.ndarray], float],
    a: np.ndarray,
    b: np.ndarray,
    resamples: int,
    rng: np.random.Generator,
    paired: bool = False,
) -> tuple[float, float, float]:
    """(estimate, 2.5th, 97.5th percentile of the bootstrap distribution)."""
    estimates = np.empty(resamples)
    n = len(a)
    for r in range(resamples):
        i = rng.integers(0, n, n)
        j = i if paired else rng.integers(0, len(b), len(b))
        estimates[r] = statistic(a[i], b[j])
    low, high = np.percentile(estimates, [2.5, 97.5])
    return statistic(a, b), float(low), float(high)


def report(name: str, data: dict[str, np.ndarray], resamples: int) -> None:
    rng = np.random.default_rng(17)
    print(f"\n{name}: {len(data['wall theirs'])} requests of each kind")
    for clock in ("wall", "cpu"):
        theirs, missing = data[f"{clock} theirs"] * 1e3, data[f"{clock} missing"] * 1e3
        print(f"  {clock}: median another's {np.median(theirs):.3f} ms, missing {np.median(missing):.3f} ms")
        for q in QUANTILES:
            est, low, high = bootstrap(
                lambda a, b, q=q: float(np.percentile(a, q) - np.percentile(b, q)),
                theirs,
                missing,
                resamples,
                rng,
            )
            print(f"    p{q} difference {est:+.4f} ms  (95% CI {low:+.4f} to {high:+.4f})")
        est, low, high = bootstrap(
            lambda a, b: float(np.median(a - b)), theirs, missing, resamples, rng, paired=True
        )
        print(f"    median of paired differences {est:+.4f} ms  (95% CI {low:+.4f} to {high:+.4f})")


def _print_profile(
    totals: dict[str, dict[tuple[str, int, str], float]],
    calls: dict[str, dict[tuple[str, int, str], int]],
    requests: int,
) -> None:
    keys = set(totals["theirs"]) | set(totals["missing"])
    differing = sorted(
        keys, key=lambda k: abs(totals["theirs"].get(k, 0) - totals["missing"].get(k, 0)), reverse=True
    )
    print(f"  profile, {requests} requests each: cumulative ms a request (another's, missing), calls")
    for k in differing[:15]:
        t, m = totals["theirs"].get(k, 0) / requests * 1e3, totals["missing"].get(k, 0) / requests * 1e3
        ct, cm = calls["theirs"].get(k, 0), calls["missing"].get(k, 0)
        print(f"    {t:8.4f} {m:8.4f}  {ct:6d} {cm:6d}  {Path(k[0]).name}:{k[1]} {k[2]}")
    only = sorted(k for k in keys if calls["theirs"].get(k, 0) != calls["missing"].get(k, 0))
    print(f"  functions called a different number of times: {len(only)}")
    for k in only[:30]:
        ct, cm = calls["theirs"].get(k, 0), calls["missing"].get(k, 0)
        print(f"    {ct:6d} {cm:6d}  {Path(k[0]).name}:{k[1]} {k[2]}")


def service_calls(arena: Arena) -> dict[str, dict[str, Callable[[], None]]]:
    """The services the two routes call, called in this thread as participant "us": ``lot_view``
    (GET /api/v1/lots/{id}) and ``submit`` (POST /api/v1/events; group commit aside, the same
    append and refusal), each about another's lot and about a missing one; both must end in the same
    ``NotFoundError`` (the routes' 404)."""
    from raretrace.errors import NotFoundError
    from raretrace.ledger.participants import authenticate
    from raretrace.server.api_lots import lot_view
    from raretrace.server.submit import submit

    registry = arena.w.registry
    with registry.engine.connect() as conn:
        caller = authenticate(conn, arena.w.tokens["us"])
    if caller is None:
        raise SystemExit("the arena's token for 'us' does not authenticate")
    real = NOT_VISIBLE["us"]["held"]
    ids = {"theirs": real, "missing": missing_like(real)}

    def refused(act: Callable[[], object]) -> Callable[[], None]:
        def call() -> None:
            with contextlib.suppress(NotFoundError):
                act()
                raise SystemExit("not refused")

        return call

    def viewing(lot_id: str) -> Callable[[], None]:
        return refused(lambda: lot_view(registry, caller, lot_id))

    def submitting(lot_id: str) -> Callable[[], None]:
        envelope = lot_probes(arena, "us", lot_id)[ROUTES[SUBMISSION][0]][2]["content"]
        return refused(lambda: submit(registry, caller, [envelope]))

    return {
        "lot_view (GET /api/v1/lots/{id})": {name: viewing(i) for name, i in ids.items()},
        "submit (POST /api/v1/events)": {name: submitting(i) for name, i in ids.items()},
    }


def profile_calls(calls: dict[str, Callable[[], None]], count: int = 2000) -> None:
    """``count`` calls of each kind under cProfile, in this thread."""
    totals: dict[str, dict[tuple[str, int, str], float]] = {}
    counts: dict[str, dict[tuple[str, int, str], int]] = {}
    for name, call in calls.items():
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(count):
            call()
        profiler.disable()
        stats: Any = pstats.Stats(profiler).stats
        totals[name] = {k: v[3] for k, v in stats.items()}
        counts[name] = {k: v[1] for k, v in stats.items()}
    _print_profile(totals, counts, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=3000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--route", choices=list(ROUTES), action="append")
    parser.add_argument("--direct", action="store_true", help="also time the services in this thread")
    parser.add_argument("--no-routes", action="store_true", help="only the services (with --direct)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        arena = build_arena(Path(folder))
        try:
            for name in [] if args.no_routes else args.route or list(ROUTES):
                route, status = ROUTES[name]
                before = os.getloadavg()
                data = sample(arena, route, status, args.pairs)
                after = os.getloadavg()
                report(name, data, args.resamples)
                print(f"  load average {before[0]:.1f} before, {after[0]:.1f} after")
            for service, calls in service_calls(arena).items() if args.direct else ():
                before = os.getloadavg()
                data = interleaved(calls, args.pairs, time.thread_time)
                after = os.getloadavg()
                report(f"{service}, called in this thread", data, args.resamples)
                print(f"  load average {before[0]:.1f} before, {after[0]:.1f} after")
                if args.profile:
                    profile_calls(calls)
        finally:
            arena.w.client.close()


if __name__ == "__main__":
    main()
