"""A consortium's month over HTTP, timed: member registries as real ``raretrace serve`` processes on
loopback, each on its own PostgreSQL database (tests/consortium_net.py, the end-to-end test's code).

    python benchmarks/bench_consortium.py [--members 5] [--per-pair 10]

Every member ships ``--per-pair`` certified lots to every other member, every member fetches, checks,
imports and confirms what waits for it, everybody witnesses everybody (two rounds each), and every
pair's signed monthly statistics are reconciled. Printed: the wall-clock time of each phase, the
total, the time per shipment, and the 1-minute load average before and after (the machine is
shared, so the load says what the figures are worth). The servers' start-up is printed as its own
phase, since it is most of a small run.

The baseline, measured in the same run once the month is over (``limits.py``, ``registry_work`` on
every member's database before it is dropped): the least work of the month, done by the fastest
implementations: every event's and import confirmation's signature made and verified once, every
checkpoint signed once, every cosignature made and verified once, every certificate's eddsa-jcs-2022
hashing and signature once (libsodium through PyNaCl, hashlib), and every row of every member's
tables written once (raw sqlite3 executemany). Checks made more than once (a checkpoint by every
witness, a certificate by its importer) count once, so it is a floor. Printed: its CPU seconds against
the month's wall clock with the servers running, and the ratio: the month runs on many processes
sharing the machine's cores, the limit on one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from limits import Work, limit_seconds, ratio_line, registry_work  # noqa: E402
from tests.consortium_net import Network, month_of_trade  # noqa: E402

COUNTRIES = ["JP", "US", "AU", "DE", "FR", "CA", "KR", "GB"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=5)
    parser.add_argument("--per-pair", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    work = Work()
    with tempfile.TemporaryDirectory() as tmp:
        network = Network(Path(tmp), COUNTRIES[: args.members])
        started = time.monotonic()
        try:
            month = month_of_trade(network, args.per_pair, quorum=args.members - 2)
            total = time.monotonic() - started
            for member in network.members:
                work.add(registry_work(member.registry.engine))
        finally:
            network.close()
    limit = limit_seconds(work)
    print(
        f"{month.members} members, {month.shipments} shipments, {month.confirmed} confirmed, "
        f"{month.reconciled_pairs} pairs reconciled with no mismatch"
    )
    for phase, seconds in month.phases.items():
        print(f"  {phase:45s} {seconds:8.2f} s")
    print(f"  {'total':45s} {total:8.2f} s")
    work_time = total - month.phases.get("start servers", 0.0)
    print(f"  {'per shipment, servers running':45s} {1000 * work_time / month.shipments:8.1f} ms")
    print(ratio_line("the month with the servers running (wall clock)", work_time, limit, work))
    print(
        f"load average (1 min): {load_before:.2f} before, {os.getloadavg()[0]:.2f} after, "
        f"{os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
