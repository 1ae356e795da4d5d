"""The consortium running: three member registries as separate server processes on loopback, each
on its own PostgreSQL database, witnessing each other (``raretrace witness run``) and shipping to
each other over HTTP (certificates, imports, signed confirmations, signed monthly statistics).

Checked: every member's checkpoint carries a quorum of the other members' cosignatures (counted with
the consortium file); a member offline for a while is reported, not alarmed about, and caught up
with nothing lost once it is back; a member presenting a split view to one peer is detected and
reported by the others through gossip, and a rolled-back view is an alarm.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.errors import ProofError
from raretrace.ledger import consortium as cs
from raretrace.ledger.consortium import open_member_checkpoint
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.member_stats import open_monthly, sign_monthly
from raretrace.log.checkpoint import open_checkpoint
from tests.consortium_net import (
    Member,
    Network,
    cli,
    free_port,
    now_text,
    reconcile_month,
    replay,
    running_network,
    write_key,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def network(tmp_path: Path, pg_database: str) -> Iterator[Network]:
    with running_network(tmp_path, ["JP", "US", "AU"]) as net:
        yield net


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
    # the alarm as monitoring sees it on m1's own server: metric, page, status
    metrics = httpx.get(m1.url + "/witness/metrics", timeout=10).text
    assert 'raretrace_witness_alarms{kind="split_view"} 1' in metrics and "raretrace_witness_ok 0" in metrics
    page = httpx.get(m1.url + "/witness", timeout=10).text
    assert "ALARM" in page and "as seen by witness m3: split_view" in page
    assert httpx.get(m1.url + "/api/v1/witness/status", timeout=10).json()["ok"] is False
    # shown the fork, which is smaller than the tree m1 cosigned: a rollback
    report = m1.round(network.consortium_dir, {"m2": fork.url})
    assert not report["ok"] and statuses(report)["m2"] == "rollback", report
    metrics = httpx.get(m1.url + "/witness/metrics", timeout=10).text
    assert 'raretrace_witness_alarms{kind="rollback"} 1' in metrics, metrics
    assert 'status="rollback"} 1' in metrics


class FrozenView(http.server.BaseHTTPRequestHandler):
    """A log as a stale cache shows it to one witness: an old ``/checkpoint``, everything else from the
    log itself (its consistency proofs); writes refused."""

    note = ""
    upstream = ""

    def do_GET(self) -> None:
        if self.path == "/checkpoint":
            status, body = 200, self.note.encode()
        else:
            answer = httpx.get(self.upstream + self.path, timeout=10)
            status, body = answer.status_code, answer.content
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_witness_shown_an_old_tree_catches_up_from_a_witness_that_is_ahead(network: Network) -> None:
    network.found_consortium(quorum=2)
    m1, m2, m3 = network.members
    network.start()
    for m in network.members:
        m.submit(m.extracts(10, "w1"))
    for _ in range(2):
        for m in network.members:
            assert m.round(network.consortium_dir)["ok"]
    old = m2.checkpoint()  # m1 and m3 cosigned this tree of m2's log
    m2.submit(m2.extracts(15, "w2"))
    # m3 cosigns the larger tree; its gossip does not reach m1 (else m1 would hold that tree already)
    report = m3.round(network.consortium_dir, {"m1": f"http://127.0.0.1:{free_port()}"})
    assert statuses(report) == {"m1": "offline", "m2": "cosigned"}, report
    handler = type("Frozen", (FrozenView,), {"note": old, "upstream": m2.url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stale = f"http://127.0.0.1:{server.server_address[1]}"
        report = m1.round(network.consortium_dir, {"m2": stale})
    finally:
        server.shutdown()
    assert report["ok"], report["alarms"]
    [gossip] = [g for g in report["gossip"] if g["origin"] == m2.registry.origin and g["witness"] == "m3"]
    assert gossip["status"] == "caught_up", gossip
    size = m2.registry.tree_size()
    assert f"to {size}" in gossip["detail"]
    # m1 now remembers the larger tree: the next round, from the log itself, needs nothing more
    assert httpx.get(
        m1.url + "/api/v1/witnessed", params={"origin": m2.registry.origin}, timeout=10
    ).text == (
        m3_note := httpx.get(
            m3.url + "/api/v1/witnessed", params={"origin": m2.registry.origin}, timeout=10
        ).text
    )
    assert f"\n{size}\n" in m3_note
    report = m1.round(network.consortium_dir)
    assert report["ok"] and statuses(report)["m2"] == "cosigned"


def test_shipments_are_fetched_imported_confirmed_and_reconciled_over_http(network: Network) -> None:
    c = network.found_consortium(quorum=2)
    members = list(network.members)
    m1, m2, m3 = members
    network.start()
    keys = network.open_trade()
    shipments: dict[str, tuple[Member, Member]] = {}
    for exporter in members:
        for importer in (x for x in members if x is not exporter):
            for cid in exporter.ship(importer, 2, f"to-{importer.id}"):
                shipments[cid] = (exporter, importer)
    assert len(shipments) == 12  # 3 exporters x 2 importers x 2 lots
    # m2 receives while m1 is down: m1's shipments wait there, nothing is lost
    m1.stop()
    got, sent = m2.receive(network.consortium_dir, "m2-MAG", keys["m2"])
    assert sorted((g["exporter"], g["status"]) for g in got) == [
        ("m1", "offline"),
        ("m3", "imported"),
        ("m3", "imported"),
    ], got
    assert {s["status"] for s in sent} == {"recorded"}
    network.start([m1])
    # the command itself, in its own process, for m2; the others in this process
    done = cli(
        "--db", m2.db, "consortium", "receive", "--consortium", str(network.consortium_dir),
        "--facility", "m2-MAG", "--key", str(write_key(network.work / "m2-mag.key", keys["m2"])), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert sorted(r["status"] for r in answer["received"]) == ["imported", "imported"], answer
    assert {r["exporter"] for r in answer["received"]} == {"m1"}
    for m in (m1, m3):
        got, sent = m.receive(network.consortium_dir, f"{m.id}-MAG", keys[m.id])
        assert sorted(g["status"] for g in got) == ["imported"] * 4, got
        assert {s["status"] for s in sent} <= {"recorded", "already"}, sent
    # a second run finds nothing waiting: every shipment's confirmation came back
    got, sent = m3.receive(network.consortium_dir, "m3-MAG", keys["m3"])
    assert got == [] and {s["status"] for s in sent} == {"already"}
    for exporter in members:
        held = httpx.get(exporter.url + "/api/v1/confirmations", headers=exporter.auth, timeout=10).json()
        mine = sorted(cid for cid, (ex, _) in shipments.items() if ex is exporter)
        assert sorted(r["certificate"] for r in held) == mine  # every shipment confirmed
    # a fetch request signed by another facility's key is refused by the exporter
    from raretrace.ledger.shipments import fetch_request

    forged = fetch_request("m2-MAG", keys["m3"])
    answer = httpx.post(m1.url + "/api/v1/shipments/waiting", content=forged, timeout=10)
    assert answer.status_code == 403, answer.text
    # the same certificate imported again where it was imported: refused there
    replayed = next(cid for cid, (ex, im) in shipments.items() if ex is m1 and im is m2)
    presentation = m2.presentation_imported(replayed)
    again = m2.try_submit(
        [m2.chain.envelope("m2-MAG", "import", certificate=presentation, time=now_text(), signer=keys["m2"])]
    )
    assert again.status_code == 409, again.text
    # a replay: m2's magnet maker imports m1's certificate to it into m3 as well; m3 cannot tell,
    # m1 refuses the second confirmation, and the reconciliation names the certificate
    replay(m3, m2, replayed, keys["m2"], network.consortium_dir)
    reconcile_month(c, members, 2, ("m1", "m3", replayed))


def test_a_members_log_key_rotated_mid_month_keeps_verification(network: Network) -> None:
    c = network.found_consortium(quorum=2)
    m1, m2, m3 = network.members
    network.start()
    for m in network.members:
        m.submit(m.extracts(10, "before"))
    for _ in range(2):
        for m in network.members:
            assert m.round(network.consortium_dir)["ok"]
    before = m2.checkpoint()
    assert cs.cosigners(c, before) == ["m1", "m3"]
    month = now_text()[:7]
    stats_before = sign_monthly(m2.registry, month)
    # m2 rotates its log key while its server runs (the command in its own process); the new version
    # of the consortium file announces it; nothing is restarted, and this process's handle on m2's
    # registry is the one it opened before the rotation
    key_file = write_key(network.work / "m2-next.key", Ed25519Signer.generate())
    done = cli("--db", m2.db, "consortium", "rotate-log-key", "--new-key", str(key_file), "--json")
    assert done.returncode == 0, done.stderr
    rotated = json.loads(done.stdout)
    assert rotated["tree_size"] == 11  # its facility and ten extracts
    c2 = cs.rotate_keys(
        c, "m2", log_key=rotated["log_key"], at=rotated["at"], witness_key=rotated["witness_key"]
    )
    network.publish_version(c2)
    # the running server answers under the new key at once: its key, its trusted-keys file
    assert httpx.get(m2.url + "/api/v1/log/public-key", timeout=10).text.strip() == rotated["log_key"]
    trusted = httpx.get(m2.url + "/trusted-keys", timeout=10).json()
    assert [i["logKey"] for i in trusted["issuers"]] == [rotated["log_key"]]
    head = m2.checkpoint()
    # the same tree head, now under the new key; the old note still verifies, under the old key only
    assert open_member_checkpoint(c2, head)[1] == open_member_checkpoint(c2, before)[1]
    open_checkpoint(before, rotated["retired_log_key"])
    with pytest.raises(ProofError):
        open_checkpoint(head, rotated["retired_log_key"])
    with pytest.raises(ProofError):
        open_checkpoint(before, rotated["log_key"])
    m2.submit(m2.extracts(12, "after"))  # appended through the running server: signed with the new key
    open_checkpoint(m2.checkpoint(), rotated["log_key"])
    for m in (m1, m3):
        m.submit(m.extracts(3, "after"))
    for _ in range(2):
        for m in network.members:
            report = m.round(network.consortium_dir)
            assert report["ok"] and set(statuses(report).values()) == {"cosigned"}, report
    # witnessing continued across the rotation: m2's new tree is cosigned by both others, who checked
    # it extends the tree they cosigned under the old key; m2 cosigns the others with its new key
    after = m2.checkpoint()
    assert open_member_checkpoint(c2, after)[1].size == 11 + 12
    assert cs.cosigners(c2, after) == ["m1", "m3"]
    assert cs.cosigners(c2, m1.checkpoint()) == ["m2", "m3"]
    # statistics signed before and after the rotation both verify against the consortium file
    assert (
        open_monthly(c2, stats_before)[0].id
        == open_monthly(c2, sign_monthly(m2.registry, month))[0].id
        == "m2"
    )
