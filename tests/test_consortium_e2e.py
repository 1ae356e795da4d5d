"""The consortium running: three member registries as separate server processes on loopback, each
on its own PostgreSQL database, witnessing each other with ``raretrace witness run --once``.

Checked: every member's checkpoint carries a quorum of the other members' cosignatures (counted with
the consortium file); a member offline for a while is reported, not alarmed about, and caught up
with nothing lost once it is back; a member presenting a split view to one peer is detected and
reported by the others through gossip, and a rolled-back view is an alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from raretrace.ledger import consortium as cs
from raretrace.ledger.logview import latest_checkpoint
from tests.consortium_net import Network

pytestmark = pytest.mark.postgres


@pytest.fixture
def network(tmp_path: Path, pg_database: str) -> Iterator[Network]:
    net = Network(tmp_path, ["JP", "US", "AU"])
    try:
        yield net
    finally:
        net.close()


def statuses(report: dict[str, object]) -> dict[str, str]:
    return {p["member"]: p["status"] for p in report["peers"]}  # type: ignore[index, union-attr]


def test_members_witness_each_other_to_a_quorum_and_catch_up_after_an_outage(network: Network) -> None:
    c = network.found_consortium(quorum=2)
    m1, m2, m3 = network.members
    network.start()
    for m in network.members:
        m.submit(m.extracts(40, "week1"))
    # two rounds: a log keeps only cosignatures of witnesses it trusts, and learns them (from the
    # consortium file) in its own first round, which may come after a peer's
    for _ in range(2):
        for m in network.members:
            report = m.round(network.consortium_dir)
            assert report["ok"] and set(statuses(report).values()) == {"cosigned"}, report
    assert all(p["accepted_by_log"] for p in report["peers"]), report
    for m in network.members:
        note = m.checkpoint()
        assert note == latest_checkpoint(m.registry)
        assert cs.cosigners(c, note) == sorted(x.id for x in network.members if x is not m), note
    # m3 goes offline; its registry keeps recording (the server is down, the database is not)
    m3.stop()
    m3.chain.registry.append(m3.extracts(30, "week2"))
    for m in (m1, m2):
        m.submit(m.extracts(20, "week2"))
    code, report, err = m1.witness(network.consortium_dir)
    assert code == 0, err  # offline is not an alarm
    assert statuses(report) == {"m2": "cosigned", "m3": "offline"}
    network.start([m3])
    for m in network.members:
        report = m.round(network.consortium_dir)
        assert report["ok"], report
        assert set(statuses(report).values()) == {"cosigned"}, report
        assert all(g["status"] in ("agreed", "behind") for g in report["gossip"]), report["gossip"]
    sizes = {p["member"]: p["size"] for p in m1.round(network.consortium_dir)["peers"]}
    assert sizes["m3"] == m3.registry.tree_size() == 1 + 40 + 30  # its facility, week 1, week 2
    for m in network.members:
        assert len(cs.cosigners(c, m.checkpoint())) >= c.witness_quorum


def test_a_split_view_shown_to_one_peer_is_reported_by_the_others(network: Network) -> None:
    network.found_consortium(quorum=2)
    m1, m2, m3 = network.members
    # m2's fork: the same origin and key, another history, shown to m3 only
    fork = network.new_member("m2", "US", signer=m2.registry.signer, name="m2fork")
    network.members.append(fork)  # stopped and dropped with the others
    network.start()
    m2.submit(m2.extracts(30, "true"))
    fork.submit(fork.extracts(25, "forged"))
    m1.submit(m1.extracts(5, "a"))
    m3.submit(m3.extracts(5, "a"))
    report = m3.round(network.consortium_dir, {"m2": fork.url})
    assert report["ok"] and statuses(report)["m2"] == "cosigned", report  # alone, the victim cannot tell
    code, report, err = m1.witness(network.consortium_dir)
    assert code == 6, report  # m1 offers m2's true checkpoint to m3, which holds the fork
    alarms = " ".join(report["alarms"])
    assert "registry.m2.example/log as seen by witness m3: split_view" in alarms, alarms
    assert "ALARM" in err
    # shown the fork, which is smaller than the tree m1 cosigned: a rollback
    report = m1.round(network.consortium_dir, {"m2": fork.url})
    assert not report["ok"] and statuses(report)["m2"] == "rollback", report
