"""Market benchmark: 10,000 Monte Carlo paths x 120 months WITH prices, against the quantity-only
model on the same draws in the same run.

    python benchmarks/bench_market.py [--paths 10000] [--months 120] [--repeat 3]

The market is the 2010 back-test's (``data/world/backtest_2010.json``: the quota path, then the 2011
level held) stretched to ``--months``; the numbers are a workload, not a forecast. Both models are the
vectorised loops of ``raretrace.world.market`` (``price_paths``: price formation, stock rule,
thrifting, supply response; ``quantity_paths``: tonnes only, the model the scenarios had before prices,
and the fastest implementation of the same months that exists here). Times are the median of
``--repeat`` runs (the machine is shared); the target is < 30 s for the priced model.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

from raretrace.world.backtest import episode_market, load_episode
from raretrace.world.market import draw, price_paths, quantity_paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = episode_market(load_episode())
    allowed = base.allowed + (base.allowed[-1],) * max(0, args.months - base.months)
    market = dataclasses.replace(base, months=args.months, allowed=allowed[: args.months])
    draws = draw(market, args.paths, 0)
    priced, quantity = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        paths = price_paths(market, draws)
        priced.append(time.perf_counter() - t)
        t = time.perf_counter()
        quantity_paths(market, draws)
        quantity.append(time.perf_counter() - t)
    p, q = statistics.median(priced), statistics.median(quantity)
    print(f"{args.paths:,} paths x {args.months} months, median of {args.repeat}")
    print(f"  priced model (price, stock rule, thrifting, supply response): {p:.3f} s")
    print(f"  quantity-only model (same draws):                             {q:.3f} s")
    print(f"  ratio priced / quantity-only: {p / q:.2f}x; target < 30 s: {'met' if p < 30 else 'MISSED'}")
    print(f"  (check: median price in the last month {float(paths.band('price', 0.5)[-1]):.1f} $/kg)")


if __name__ == "__main__":
    main()
