"""Five member registries trading for a month over HTTP, with the faults issue #22 names: real
``raretrace serve`` processes on loopback, each on its own PostgreSQL database; hundreds of certified
shipments fetched, imported and confirmed; every checkpoint cosigned by a quorum; every pair's
signed statistics reconciled.

The faults, in the order they happen:

- **a member offline for part of the month** (m5's server down for a week; its registry keeps
  recording): the others' fetches from it and their witnessing of it say ``offline`` (no alarm), its
  shipments and the confirmations owed to it wait, and once it is back everything is caught up:
  every shipment of the month imported and confirmed, its log cosigned up to its new size;
- **a member's log key rotated mid-month** (m2, while its server runs, nothing restarted): the server
  signs with the new key at once; certificates issued before the rotation and fetched after it
  still import, those issued after carry the new key, the importers trust the new key through
  their running servers' API, witnessing continues (the others check m2's new tree extends the
  one they cosigned under the old key) and statistics signed under the new key reconcile;
- **a replayed certificate** (m2's magnet maker imports a certificate of m1 into m3 too): m1
  refuses the second confirmation and the reconciliation of m1 with m3 names exactly that
  certificate, every other pair agreeing;
- **a split view shown to one peer** (a copy of m3's log that goes on with another history, shown
  to m4 only): m4 cannot tell on its own; every other member reports it (m4's gossip offers them
  the fork; the true log does not extend it).

Scale from the environment: ``RT_PER_PAIR`` (default 10) shipments from each member to each other
one over the month (20 pairs: 200 shipments). ``benchmarks/bench_consortium.py`` times the same month
without faults.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.multikey import did_key
from raretrace.errors import ProofError
from raretrace.ledger import consortium as cs
from raretrace.log.checkpoint import open_checkpoint
from raretrace.log.note import parse_verifier_key
from tests.consortium_net import (
    Member,
    Network,
    cli,
    confirmations_held,
    issued_by,
    receive_at,
    reconcile_month,
    replay,
    running_network,
    ship_among,
    witness_rounds,
    write_key,
)

pytestmark = pytest.mark.postgres

COUNTRIES = ["JP", "US", "AU", "DE", "FR"]


def statuses(report: dict[str, Any]) -> dict[str, str]:
    return {p["member"]: p["status"] for p in report["peers"]}


def imported_from(got: list[dict[str, Any]]) -> dict[str, int]:
    """How many certificates were imported from each exporter."""
    out: dict[str, int] = {}
    for g in got:
        assert g["status"] in ("imported", "offline"), g
        if g["status"] == "imported":
            out[g["exporter"]] = out.get(g["exporter"], 0) + 1
    return out


def trust(importers: list[Member], exporter: Member) -> None:
    """Each importer trusts the exporter's current trusted-keys file, through its running server."""
    keys = httpx.get(exporter.url + "/trusted-keys", timeout=10).json()
    for m in importers:
        answer = httpx.post(
            m.url + "/api/v1/trusted-registries", json={"trusted_keys": keys}, headers=m.auth, timeout=10
        )
        assert answer.status_code == 201, answer.text


def test_a_month_of_trade_among_five_members_with_faults(tmp_path: Path, pg_database: str) -> None:
    per_pair = int(os.environ.get("RT_PER_PAIR", "10"))
    first, second = per_pair // 2, per_pair - per_pair // 2
    with running_network(tmp_path, COUNTRIES) as network:
        month_with_faults(network, first, second)


def month_with_faults(network: Network, first: int, second: int) -> None:
    c = network.found_consortium(quorum=3)
    members = list(network.members)
    m1, m2, m3, m4, m5 = members
    others = [m1, m2, m3, m4]
    network.start()
    keys = network.open_trade()

    # --- week 1: everybody ships; then m5's server goes down for a while --------------------------
    shipped = ship_among(members, members, first, "w1")
    m5.stop()
    m5.registry.append(m5.extracts(7, "down"))  # its registry keeps recording; only the server is down
    for mid, (got, sent) in receive_at(network, others, keys).items():
        assert imported_from(got) == {x.id: first for x in others if x.id != mid}, got
        assert [g["exporter"] for g in got if g["status"] == "offline"] == ["m5"], got
        assert {s["status"] for s in sent} == {"recorded"}, sent
    code, report, err = m1.witness(network.consortium_dir)
    assert code == 0, err  # offline is not an alarm
    assert statuses(report) == {"m2": "cosigned", "m3": "cosigned", "m4": "cosigned", "m5": "offline"}

    # --- mid-month: m2 rotates its log key while its server runs; nothing is restarted -------------
    before = m2.checkpoint()
    key_file = write_key(network.work / "m2-next.key", Ed25519Signer.generate())
    done = cli("--db", m2.db, "consortium", "rotate-log-key", "--new-key", str(key_file), "--json")
    assert done.returncode == 0, done.stderr
    rotated = json.loads(done.stdout)
    c = cs.rotate_keys(
        c, "m2", log_key=rotated["log_key"], at=rotated["at"], witness_key=rotated["witness_key"]
    )
    network.publish_version(c)
    head = m2.checkpoint()  # the running server answers under the new key at once
    assert open_checkpoint(head, rotated["log_key"]).size == rotated["tree_size"]
    assert open_checkpoint(before, rotated["retired_log_key"]).size == rotated["tree_size"]
    with pytest.raises(ProofError):
        open_checkpoint(head, rotated["retired_log_key"])
    trust([m1, m3, m4], m2)  # the new trusted-keys entry, through the running servers (m5 is down)

    # --- week 2: the four ship (m2's certificates now under its new key); then m5 is back ----------
    week2 = ship_among(others, members, second, "w2")
    network.start([m5])
    trust([m5], m2)
    week2.update(ship_among([m5], members, second, "w2"))
    shipped.update(week2)
    assert len(shipped) == len(members) * (len(members) - 1) * (first + second)
    for mid, (got, sent) in receive_at(network, members, keys).items():
        if mid == "m5":  # everything of both weeks, m2's from before and after the rotation
            assert imported_from(got) == {x.id: first + second for x in others}, got
        else:  # m5's shipments of both weeks, the others' of week 2
            want = {x.id: second for x in others if x.id != mid}
            assert imported_from(got) == {**want, "m5": first + second}, got
        assert {s["status"] for s in sent} <= {"recorded", "already"}, sent
    old_did, new_did = (
        did_key(parse_verifier_key(k).public_key) for k in (rotated["retired_log_key"], rotated["log_key"])
    )
    by_id = {m.id: m for m in members}
    for cid, (ex, im) in shipped.items():
        if ex == "m2":
            issuer = by_id[im].presentation_imported(cid)["credential"]["issuer"]["id"]
            assert issuer == (new_did if cid in week2 else old_did), (cid, issuer)

    # --- witnessing caught up: m5's log as it grew while down, m2's across the rotation -------------
    reports = witness_rounds(network, members)
    for report in reports[-len(members) :]:
        assert set(statuses(report).values()) == {"cosigned"}, report
    sizes = {p["member"]: p["size"] for p in reports[-len(members)]["peers"]}  # m1's last round
    assert sizes["m5"] == m5.registry.tree_size() and sizes["m2"] == m2.registry.tree_size()
    assert open_checkpoint(m2.checkpoint(), rotated["log_key"]).size == m2.registry.tree_size()
    for m in members:
        assert len(cs.cosigners(c, m.checkpoint())) >= c.witness_quorum, m.id
    assert "m2" in cs.cosigners(c, m1.checkpoint())  # m2 cosigns with its new key

    # --- nothing lost: every shipment of the month confirmed to its exporter ------------------------
    for exporter in members:
        assert confirmations_held(exporter) == issued_by(shipped, exporter), exporter.id

    # --- a replayed certificate: m2's magnet maker imports m1's certificate into m3 as well ----------
    replayed = next(cid for cid, (ex, im) in shipped.items() if (ex, im) == ("m1", "m2"))
    replay(m3, m2, replayed, keys["m2"], network.consortium_dir)
    assert confirmations_held(m1) == issued_by(shipped, m1)  # the replay recorded nothing there

    # --- signed monthly statistics: every pair agrees but the one the replay touched ----------------
    reconcile_month(c, members, first + second, ("m1", "m3", replayed))

    # --- a split view: a copy of m3's log goes on with another history, shown to m4 only -------------
    fork = network.fork_of(m3, "m3fork")
    m3.submit(m3.extracts(9, "true"))
    fork.submit(fork.extracts(4, "forged"))
    report = m4.round(network.consortium_dir, {"m3": fork.url})
    assert report["ok"] and statuses(report)["m3"] == "cosigned", report  # alone, the victim cannot tell

    # the others hold m3's true tree, or the fork m4's gossip showed them: either way the true log
    # does not extend what they hold, or m4 holds a tree the true one does not extend
    def reports_split_view(alarms: list[str]) -> bool:
        return any(m3.registry.origin in a and "split_view" in a for a in alarms)

    code, report, err = m1.witness(network.consortium_dir)
    assert code == 6 and "ALARM" in err, report
    assert reports_split_view(report["alarms"]), report["alarms"]
    for m in (m2, m5):
        report = m.round(network.consortium_dir)
        assert not report["ok"] and reports_split_view(report["alarms"]), (m.id, report)
