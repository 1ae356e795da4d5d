"""Five member registries trading for a month over HTTP: real ``raretrace serve`` processes on loopback,
each on its own PostgreSQL database; hundreds of certified shipments fetched, imported and confirmed;
every checkpoint cosigned by a quorum; every pair's signed statistics reconciled with no mismatch.

Scale from the environment: ``RT_MEMBERS`` (default 5) countries, ``RT_PER_PAIR`` (default 10)
shipments from each member to each other one (5 members: 20 pairs, 200 shipments).
``benchmarks/bench_consortium.py`` runs the same month and prints its phase times and the load.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.consortium_net import Network, month_of_trade

pytestmark = pytest.mark.postgres

COUNTRIES = ["JP", "US", "AU", "DE", "FR", "CA", "KR", "GB"]


def test_a_month_of_trade_among_five_members(tmp_path: Path, pg_database: str) -> None:
    members = int(os.environ.get("RT_MEMBERS", "5"))
    per_pair = int(os.environ.get("RT_PER_PAIR", "10"))
    network = Network(tmp_path, COUNTRIES[:members])
    try:
        month = month_of_trade(network, per_pair, quorum=members - 2)
    finally:
        network.close()
    assert month.shipments == month.confirmed == members * (members - 1) * per_pair
    assert month.reconciled_pairs == members * (members - 1)
