"""Clients racing to spend the same lot: exactly one succeeds, and the log audit passes."""

from __future__ import annotations

import threading

from raretrace.errors import CustodyError
from raretrace.ledger.audit import audit
from raretrace.ledger.registry import Registry
from raretrace.store.db import make_engine
from tests.chain_fixtures import ORE_LOT, mine_and_separator, separation

RACERS = 8


def test_racing_spends_of_one_lot(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    chain.ship("US-MINE", "US-SEP", [ORE_LOT])
    # each racer spends the whole ore lot, with its own event id
    envelopes = [separation(chain, event_id=f"race-{i}", out_mass=5.0) for i in range(RACERS)]
    outcomes: list[str] = []
    barrier = threading.Barrier(RACERS)

    def race(envelope: bytes) -> None:
        registry = Registry(make_engine(db_url))  # each client with its own connection pool
        barrier.wait()
        try:
            registry.append([envelope])
            outcomes.append("ok")
        except CustodyError:
            outcomes.append("custody")
        except Exception as e:
            outcomes.append(f"{type(e).__name__}: {e}")
        finally:
            registry.engine.dispose()

    threads = [threading.Thread(target=race, args=(e,)) for e in envelopes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["custody"] * (RACERS - 1) + ["ok"], outcomes
    assert chain.registry.lot(ORE_LOT).remaining_kg == 0
    assert audit(chain.registry).ok
