"""The API's contract beyond roles: one error shape, the secrets rule, the log as C2SP tlog-tiles, the
witness endpoint, group commit, and submissions on both back ends."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from raretrace.custody.namespaces import namespaced
from raretrace.errors import CustodyError, StoreError
from raretrace.ledger.audit import audit
from raretrace.ledger.logview import consistency_proof, latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import JP_CHAIN, US_CHAIN
from raretrace.ledger.witnessing import witness_key
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.cosignature import verify_cosignature
from raretrace.log.merkle import leaf_hash, root_hash
from raretrace.log.note import split_note, verifier_key_text
from raretrace.server.app import create_app
from raretrace.server.group_commit import append_group
from raretrace.server.settings import Settings
from raretrace.store.db import make_engine
from tests.chain_fixtures import ORE_LOT, mine_and_separator, new_registry, separation, snapshot
from tests.test_server_support import (
    ServerWorld,
    assert_problem,
    build_chain,
    make_client,
    server_world,
    world_fixture,  # noqa: F401 (fixtures)
)

# --- one error shape -----------------------------------------------------------------------------------


def test_every_failure_has_the_problem_shape(world: ServerWorld) -> None:
    c, jp = world.client, world.as_("jp")
    assert assert_problem(c.get("/no/such/page"), 404)["type"].endswith("/not-found")
    assert assert_problem(c.delete("/checkpoint"), 405)["type"].endswith("/method-not-allowed")
    invalid = assert_problem(c.post("/api/v1/check", json={"lots": "x"}, headers=jp), 422)
    assert invalid["field"] == "body.lots" and invalid["errors"][0]["field"] == "body.lots"
    assert assert_problem(c.post("/api/v1/events", content=b"{not json", headers=jp), 422)["field"]
    assert assert_problem(c.get("/tile/0/1"), 422)["field"] == "path"
    assert assert_problem(c.get("/tile/0/000.p/200"), 404)["field"] == "tile"
    assert assert_problem(c.get("/api/v1/log/inclusion?index=-1"), 422)["field"] == "query.index"
    assert_problem(c.get("/api/v1/lots"), 401)
    assert_problem(c.get("/api/v1/participants", headers=jp), 403)


def test_a_rejected_event_names_the_envelope_and_field(world: ServerWorld) -> None:
    chain = world.chain
    spend = chain.envelope(
        "JP-MAG",
        "process",
        stage="magnet",
        inputs=[{"lot": JP_CHAIN.metal, "mass_kg": 1.0}],  # already used up
        outputs=[
            {
                "id": namespaced("lot", "JP-MAG", "more"),
                "form": "magnet",
                "mass_kg": 1.0,
                "composition": {"Nd": 0.2},
            }
        ],
    )
    before = snapshot(world.registry)
    body = assert_problem(world.client.post("/api/v1/events", content=spend, headers=world.as_("jp")), 409)
    assert body["type"].endswith("/custody") and body["detail"].startswith("envelope 0")
    assert snapshot(world.registry) == before


# --- secrets -----------------------------------------------------------------------------------------------


def test_refuses_to_start_without_a_secretariat_token(tmp_path: Path) -> None:
    registry = new_registry(f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(StoreError, match="no secretariat participant holds a live token"):
        create_app(Settings(), registry=registry)
    create_app(Settings(dev=True), registry=registry)  # development mode may start empty


def test_cli_serve_refuses_without_secrets(tmp_path: Path) -> None:
    import subprocess
    import sys

    db = tmp_path / "r.db"
    new_registry(f"sqlite:///{db}")
    run = subprocess.run(
        [sys.executable, "-m", "raretrace", "--db", str(db), "serve", "--port", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == StoreError.exit_code
    assert "participant add" in run.stderr


def test_serve_with_worker_processes(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    import httpx

    from raretrace.ledger.participants import add_participant, issue_token
    from tests.test_server_support import free_port

    db = tmp_path / "r.db"
    registry = new_registry(f"sqlite:///{db}")
    add_participant(registry.engine, "sec", "Secretariat", "secretariat")
    token = issue_token(registry.engine, "sec").token
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "raretrace", "--db", str(db), "serve", "--port", str(port), "--workers", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                me = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
                )
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert me.json()["role"] == "secretariat"
        assert httpx.get(f"http://127.0.0.1:{port}/checkpoint").text.startswith(registry.origin)
    finally:
        server.terminate()
        server.wait(timeout=60)


# --- the log as C2SP tlog-tiles ----------------------------------------------------------------------


def test_checkpoint_tiles_and_entries_agree(world: ServerWorld) -> None:
    c = world.client
    note = c.get("/checkpoint").text
    assert note == latest_checkpoint(world.registry)
    checkpoint = Checkpoint.parse(split_note(note)[0])
    size = checkpoint.size
    tile = c.get(f"/tile/0/000.p/{size}").content
    hashes = [tile[i : i + 32] for i in range(0, len(tile), 32)]
    assert root_hash(hashes) == checkpoint.root_hash
    bundle = c.get(f"/tile/entries/000.p/{size}", headers=world.as_("auditor")).content
    entries, pos = [], 0
    while pos < len(bundle):
        length = int.from_bytes(bundle[pos : pos + 2], "big")
        entries.append(bundle[pos + 2 : pos + 2 + length])
        pos += 2 + length
    assert [leaf_hash(e) for e in entries] == hashes
    assert c.get(f"/tile/0/000.p/{size}").headers["cache-control"] == "no-cache"
    proof = c.get("/api/v1/log/inclusion", params={"index": 3}).json()
    assert base64.b64decode(proof["leaf_hash"]) == hashes[3]


# --- witnessing over HTTP (C2SP tlog-witness) ---------------------------------------------------------------


def test_add_checkpoint_cosigns_after_a_consistency_proof(world: ServerWorld, tmp_path: Path) -> None:
    other = mine_and_separator(f"sqlite:///{tmp_path / 'other.db'}")
    log: Registry = other.registry
    log_key = verifier_key_text(log.origin, log.signer.public_key)
    first = latest_checkpoint(log)
    size1 = Checkpoint.parse(split_note(first)[0]).size
    c = world.client
    # unknown log: 404 for anyone; the secretariat introduces it with its key
    assert_problem(c.post("/add-checkpoint", content=f"old 0\n\n{first}"), 404)
    response = c.post(
        "/add-checkpoint",
        params={"log_key": log_key},
        content=f"old 0\n\n{first}",
        headers=world.as_("secretariat"),
    )
    assert response.status_code == 200, response.text
    verify_cosignature(split_note(first)[0], response.text.strip(), witness_key(world.registry))
    # the log grows; a stale "old" gets 409 with the size the witness holds
    other.ship("US-MINE", "US-SEP", [ORE_LOT])
    second = latest_checkpoint(log)
    size2 = Checkpoint.parse(split_note(second)[0]).size
    stale = c.post("/add-checkpoint", content=f"old 1\n\n{second}")
    assert stale.status_code == 409 and stale.text.strip() == str(size1)
    proof = "".join(h + "\n" for h in consistency_proof(log, size1, size2).proof)
    good = c.post("/add-checkpoint", content=f"old {size1}\n{proof}\n{second}")
    assert good.status_code == 200, good.text
    verify_cosignature(split_note(second)[0], good.text.strip(), witness_key(world.registry))
    # a proof that does not connect the trees is refused and nothing is remembered
    bad_proof = "".join(
        base64.b64encode(bytes(32)).decode() + "\n" for _ in consistency_proof(log, 1, size2).proof
    )
    other.ship("US-SEP", "US-MINE", [ORE_LOT])
    third = latest_checkpoint(log)
    assert_problem(c.post("/add-checkpoint", content=f"old {size2}\n{bad_proof}\n{third}"), 422)


# --- group commit and submissions on each back end ---------------------------------------------------------


def test_group_commit_keeps_each_submission_all_or_nothing(db_url: str) -> None:
    chain = mine_and_separator(db_url)
    chain.ship("US-MINE", "US-SEP", [ORE_LOT])
    first = separation(chain, event_id="spend-1", out_mass=5.0)
    second = separation(chain, event_id="spend-2", out_mass=5.0)  # the same lot again
    unrelated = chain.envelope(
        "US-MINE",
        "extract",
        deposit="Mountain Pass",
        outputs=[
            {
                "id": namespaced("lot", "US-MINE", "ore-2"),
                "form": "ore",
                "mass_kg": 10.0,
                "composition": {"Nd": 0.01},
            }
        ],
    )
    size = chain.registry.tree_size()
    outcomes = append_group(chain.registry, Registry.parse([first, second, unrelated]))
    assert [type(o).__name__ for o in outcomes] == ["AppendResult", "CustodyError", "AppendResult"]
    assert isinstance(outcomes[1], CustodyError) and outcomes[1].context.startswith("envelope 0")
    assert chain.registry.tree_size() == size + 2
    assert audit(chain.registry).ok


def test_submission_over_http_on_each_back_end(db_url: str) -> None:
    w = server_world(db_url)
    with w.client as client:  # with the lifespan: single submissions go through group commit
        envelope = w.chain.envelope("US-MAG", "transfer", to="JP-MAG", lots=[US_CHAIN.magnet], details={})
        response = client.post("/api/v1/events", content=envelope, headers=w.as_("us"))
        assert response.status_code == 201, response.text
        leaf = response.json()["first_index"]
        stored = client.get(f"/api/v1/log/inclusion?index={leaf}").json()["leaf_hash"]
        assert base64.b64decode(stored) == leaf_hash(envelope)  # the bytes as sent, not re-serialized
        receive = w.chain.envelope(
            "JP-MAG", "receive", transfer_event=_event_id(envelope), lots=[US_CHAIN.magnet]
        )
        batch = client.post(
            "/api/v1/events/batch",
            json={"envelopes": [base64.b64encode(receive).decode()]},
            headers=w.as_("jp"),
        )
        assert batch.status_code == 201, batch.text
    assert audit(w.registry).ok
    make_engine(db_url).dispose()


def test_signature_workers_verify_submissions_and_stop_with_the_app(tmp_path: Path) -> None:
    """``Settings.signature_workers``: the appends' signatures are verified in worker processes that
    live as long as the app; a forged signature is still refused and nothing of it is written."""
    import json

    chain, tokens = build_chain(f"sqlite:///{tmp_path / 'registry.db'}")
    w = ServerWorld(chain, tokens, make_client(chain, signature_workers=2))
    good = w.chain.envelope("US-MAG", "transfer", to="JP-MAG", lots=[US_CHAIN.magnet])
    forged = json.loads(w.chain.envelope("JP-MAG", "transfer", to="US-MAG", lots=[JP_CHAIN.magnet]))
    forged["signatures"][0]["sig"] = json.loads(good)["signatures"][0]["sig"]
    with w.client as client:
        assert w.registry.signature_pool is not None
        response = client.post("/api/v1/events", content=good, headers=w.as_("us"))
        assert response.status_code == 201, response.text
        before = snapshot(w.registry)
        refused = client.post("/api/v1/events", content=json.dumps(forged), headers=w.as_("jp"))
        assert refused.status_code >= 400 and "does not verify" in refused.text
        assert snapshot(w.registry) == before
    assert w.registry.signature_pool is None
    assert audit(w.registry).ok


def _event_id(envelope: bytes) -> str:
    from raretrace.crypto.dsse import parse_envelope

    return str(parse_envelope(envelope).statement()["predicate"]["event_id"])


__all__ = ["make_client"]


# --- federation and analytics ---------------------------------------------------------------------------


def test_federation_and_analytics_endpoints(world: ServerWorld) -> None:
    c = world.client
    economics = c.get("/api/v1/world/economics")
    assert economics.status_code == 200 and economics.json()["premiums"]
    period = {"from": "2026-01-01", "to": "2026-12-31"}
    stats = c.get("/api/v1/stats", params=period, headers=world.as_("auditor")).json()
    assert stats["registry"] == world.registry.origin and stats["production_kg"]
    assert_problem(c.get("/api/v1/stats", params=period, headers=world.as_("jp")), 403)
    assert_problem(
        c.get(
            "/api/v1/stats", params={"from": "2026-02-01", "to": "2026-01-01"}, headers=world.as_("auditor")
        ),
        422,
    )
    assays = (Path(__file__).parents[1] / "docs" / "examples" / "assays.csv").read_text(encoding="utf-8")
    printed = c.post("/api/v1/fingerprint", json={"csv": assays}, headers=world.as_("jp"))
    assert printed.status_code == 200 and printed.json()["samples"][0]["candidates"]
    assert_problem(c.post("/api/v1/fingerprint", json={"csv": assays}), 401)
    other = c.get("/trusted-keys").json()
    before = snapshot(world.registry)
    assert_problem(
        c.post("/api/v1/trusted-registries", json={"trusted_keys": other}, headers=world.as_("jp")), 403
    )
    assert snapshot(world.registry) == before
    trusted = c.post(
        "/api/v1/trusted-registries", json={"trusted_keys": other}, headers=world.as_("secretariat")
    )
    assert trusted.status_code == 201 and trusted.json()["trusted"] == [other["issuers"][0]["id"]]
