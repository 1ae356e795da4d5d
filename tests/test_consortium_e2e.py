"""The consortium running: three member registries as separate server processes on loopback, each
on its own PostgreSQL database, witnessing each other (``raretrace witness run``) and shipping to
each other over HTTP (certificates, imports, signed confirmations, signed monthly statistics).

Checked: every member's checkpoint carries a quorum of the other members' cosignatures (counted with
the consortium file); a member offline for a while is reported, not alarmed about, and caught up
with nothing lost once it is back; a member presenting a split view to one peer is detected and
reported by the others through gossip, and a rolled-back view is an alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.ledger import consortium as cs
from raretrace.ledger.logview import latest_checkpoint
from raretrace.ledger.member_stats import reconcile_signed, sign_monthly
from tests.consortium_net import Member, Network

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


def now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_shipments_are_certified_imported_confirmed_and_reconciled_over_http(network: Network) -> None:
    c = network.found_consortium(quorum=2)
    members = list(network.members)
    m1, m2, m3 = members
    network.start()
    keys = {m.id: Ed25519Signer.generate() for m in members}
    for m in members:  # every member knows every member's magnet maker (its own and its customers)
        m.submit(
            [
                m.chain.facility_event(f"{x.id}-MAG", country=x.country, stages=["magnet"], signer=keys[x.id])
                for x in members
            ]
        )
        for x in members:  # and trusts every other member's registry (imports one way, confirmations back)
            if x is not m:
                trusted = httpx.get(x.url + "/trusted-keys", timeout=10).json()
                answer = httpx.post(
                    m.url + "/api/v1/trusted-registries",
                    json={"trusted_keys": trusted},
                    headers=m.auth,
                    timeout=10,
                )
                assert answer.status_code == 201, answer.text
    shipments: dict[str, tuple[Member, Member, dict[str, Any]]] = {}
    for exporter in members:
        exporter.submit(exporter.extracts(2 * (len(members) - 1), "export"))
        ids = [f"urn:raretrace:lot:{exporter.id}-export-{i}" for i in range(2 * (len(members) - 1))]
        for k, importer in enumerate(x for x in members if x is not exporter):
            for lot_id in ids[2 * k : 2 * k + 2]:
                tid = exporter.chain.next_id("transfer")
                exporter.submit(
                    [
                        exporter.chain.envelope(
                            f"{exporter.id}-MINE",
                            "transfer",
                            event_id=tid,
                            to=f"{importer.id}-MAG",
                            lots=[lot_id],
                        ),
                        exporter.chain.envelope(
                            f"{importer.id}-MAG", "receive", transfer_event=tid, lots=[lot_id]
                        ),
                    ]
                )
                issued = httpx.post(
                    exporter.url + "/api/v1/certificates",
                    json={"transfer": tid},
                    headers=exporter.auth,
                    timeout=30,
                )
                assert issued.status_code == 201, issued.text
                presentation = issued.json()
                importer.submit(
                    [
                        importer.chain.envelope(
                            f"{importer.id}-MAG",
                            "import",
                            certificate=presentation,
                            time=now_text(),
                            signer=keys[importer.id],
                        )
                    ]
                )
                shipments[presentation["credential"]["id"]] = (exporter, importer, presentation)
    assert len(shipments) == 12  # 3 exporters x 2 importers x 2 lots
    # the same certificate imported again where it was imported: refused there
    _, (exporter, importer, presentation) = next(iter(shipments.items()))
    again = importer.try_submit(
        [
            importer.chain.envelope(
                f"{importer.id}-MAG",
                "import",
                certificate=presentation,
                time=now_text(),
                signer=keys[importer.id],
            )
        ]
    )
    assert again.status_code == 409, again.text
    # confirmations: m1 is offline when m2 sends; nothing is lost, m2 sends again later
    m1.stop()
    code, sent, err = m2.confirm_imports(network.consortium_dir)
    assert code == 7, err
    assert {s["exporter"]: s["status"] for s in sent} == {"m1": "offline", "m3": "recorded"}
    network.start([m1])
    for m in members:
        code, sent, err = m.confirm_imports(network.consortium_dir)
        assert code == 0, err
        assert {s["status"] for s in sent} <= {"recorded", "already"}
    for exporter in members:
        held = httpx.get(exporter.url + "/api/v1/confirmations", headers=exporter.auth, timeout=10).json()
        mine = sorted(cid for cid, (ex, _, _) in shipments.items() if ex is exporter)
        assert sorted(r["certificate"] for r in held) == mine  # every shipment confirmed
    # a replay: m2's magnet maker imports m1's certificate to it into m3 as well; m3 cannot tell,
    # m1 refuses the second confirmation, and the reconciliation names the certificate
    replayed = next(cid for cid, (ex, im, _) in shipments.items() if ex is m1 and im is m2)
    m3.submit(
        [
            m3.chain.envelope(
                "m2-MAG", "import", certificate=shipments[replayed][2], time=now_text(), signer=keys["m2"]
            )
        ]
    )
    code, sent, err = m3.confirm_imports(network.consortium_dir)
    assert code == 8, err
    assert [s["certificate"] for s in sent if s["status"] == "refused"] == [replayed]
    assert "replayed certificate" in next(s["detail"] for s in sent if s["status"] == "refused")
    # signed monthly statistics, reconciled pair by pair
    month = now_text()[:7]
    signed = {m.id: sign_monthly(m.registry, month) for m in members}
    for exporter in members:
        for importer in members:
            if exporter is importer:
                continue
            result = reconcile_signed(c, signed[exporter.id], signed[importer.id])
            assert result["certificates"] == 2
            if (exporter.id, importer.id) == ("m1", "m3"):
                assert [f["certificate"] for f in result["findings"]] == [replayed]
            else:
                assert result["agree"], result
