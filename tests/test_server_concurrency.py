"""Many HTTP clients racing to spend the same lot through a real server: exactly one succeeds, the
others get 409 (custody), and the log audit passes — with and without group commit, on each back end."""

from __future__ import annotations

import threading

import httpx
import pytest

from raretrace.ledger.audit import audit
from raretrace.ledger.participants import add_participant, issue_token
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.chain_fixtures import ORE_LOT, mine_and_separator, separation
from tests.test_server_support import running

RACERS = 16


@pytest.mark.parametrize("group_commit", [True, False], ids=["group-commit", "one-by-one"])
def test_racing_clients_spend_a_lot_once(db_url: str, group_commit: bool) -> None:
    chain = mine_and_separator(db_url)
    chain.ship("US-MINE", "US-SEP", [ORE_LOT])
    engine = chain.registry.engine
    add_participant(engine, "sep", "Separator", "operator", ["US-SEP"])
    add_participant(engine, "secretariat", "Secretariat", "secretariat")
    issue_token(engine, "secretariat")
    token = issue_token(engine, "sep").token
    envelopes = [separation(chain, event_id=f"race-{i}", out_mass=5.0) for i in range(RACERS)]
    app = create_app(Settings(group_commit=group_commit), registry=chain.registry)
    size = chain.registry.tree_size()
    statuses: list[int] = []
    barrier = threading.Barrier(RACERS)
    with running(app) as url:

        def race(envelope: bytes) -> None:
            with httpx.Client(base_url=url, timeout=60) as client:
                barrier.wait()
                response = client.post(
                    "/api/v1/events", content=envelope, headers={"Authorization": f"Bearer {token}"}
                )
                statuses.append(response.status_code)

        threads = [threading.Thread(target=race, args=(e,)) for e in envelopes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(statuses) == [201] + [409] * (RACERS - 1), statuses
    assert chain.registry.tree_size() == size + 1
    assert chain.registry.lot(ORE_LOT).remaining_kg == 0
    assert audit(chain.registry).ok
