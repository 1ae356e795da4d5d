"""Signed import confirmations (the registries of tests/test_federation.py: A issues a certificate for
300 kg of oxide shipped to US-MAG; B imports it). The inclusion proof a confirmation carries is checked
here with the independent RFC 9162 verifier of tests/static_tiles.py."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from raretrace.errors import DuplicateError, NotFoundError, ProofError
from raretrace.ledger.certificates import trusted_keys
from raretrace.ledger.confirmations import pending, record_confirmation, recorded
from raretrace.ledger.participants import add_participant, issue_token
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain
from raretrace.ledger.trust import trust_registry
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from raretrace.store.db import make_engine
from tests.chain_fixtures import snapshot
from tests.static_tiles import open_checkpoint, verify_inclusion
from tests.test_federation import members  # noqa: F401 (the fixture)


def other_importer(tmp_path: Path, a: ScriptedChain, name: str) -> ScriptedChain:
    """Another registry that trusts A and has a facility of the same id as the importer."""
    chain = ScriptedChain(
        Registry.init(make_engine(f"sqlite:///{tmp_path / name}.db"), f"{name}.example/log"),
        time="2026-01-07T08:00:00Z",
    )
    chain.add_facility("US-MAG", country="US", stages=["metallization", "magnet"])
    trust_registry(chain.registry.engine, trusted_keys(a.registry))
    return chain


def payload(envelope: bytes) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(json.loads(envelope)["payload"]))["predicate"])


def test_a_confirmation_proves_the_import_and_is_recorded_once(members: Any) -> None:  # noqa: F811
    a, b, certificate = members
    trust_registry(a.registry.engine, trusted_keys(b.registry))
    assert pending(b.registry) == []
    b.record("US-MAG", "import", certificate=certificate)
    [item] = pending(b.registry)
    assert item.certificate == certificate["credential"]["id"] and item.issuer_log == a.registry.origin
    body = payload(item.envelope)
    head = open_checkpoint(body["checkpoint"], b.registry.origin, b.registry.signer.public_key)
    leaf = hashlib.sha256(b"\x00" + base64.b64decode(body["envelope"])).digest()
    proof = [base64.b64decode(h) for h in body["inclusion_proof"]]
    assert verify_inclusion(body["leaf_index"], head.size, leaf, proof, head.root)
    first = record_confirmation(a.registry, item.envelope)
    assert first.new and first.leaf_index == b.registry.tree_size() - 1
    assert not record_confirmation(a.registry, pending(b.registry)[0].envelope).new  # a retry is harmless
    [row] = recorded(a.registry)
    assert row.importer_log == b.registry.origin and row.certificate == item.certificate


def test_forged_foreign_or_replayed_confirmations_are_refused_with_nothing_written(
    members: Any,  # noqa: F811
    tmp_path: Path,
) -> None:
    a, b, certificate = members
    b.record("US-MAG", "import", certificate=certificate)
    [item] = pending(b.registry)
    before = snapshot(a.registry)
    with pytest.raises(ProofError, match="does not trust log"):
        record_confirmation(a.registry, item.envelope)
    trust_registry(a.registry.engine, trusted_keys(b.registry))
    before = snapshot(a.registry)
    forged = json.loads(item.envelope)
    statement = json.loads(base64.b64decode(forged["payload"]))
    statement["predicate"]["leaf_index"] += 1
    forged["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(ProofError, match="not signed"):
        record_confirmation(a.registry, json.dumps(forged).encode())
    bystander = other_importer(tmp_path, a, "d")
    trust_registry(bystander.registry.engine, trusted_keys(b.registry))
    with pytest.raises(NotFoundError, match="issued no certificate"):
        record_confirmation(bystander.registry, item.envelope)  # it issued nothing to confirm
    assert snapshot(a.registry) == before
    # the same certificate imported in a third registry: the exporter refuses the second confirmation
    record_confirmation(a.registry, item.envelope)
    thief = other_importer(tmp_path, a, "c")
    thief.record("US-MAG", "import", certificate=certificate)
    trust_registry(a.registry.engine, trusted_keys(thief.registry))
    held = snapshot(a.registry)
    with pytest.raises(DuplicateError, match="replayed certificate"):
        record_confirmation(a.registry, pending(thief.registry)[0].envelope)
    assert snapshot(a.registry) == held


def test_the_confirmation_endpoint(members: Any) -> None:  # noqa: F811
    a, b, certificate = members
    trust_registry(a.registry.engine, trusted_keys(b.registry))
    add_participant(a.registry.engine, "secretariat", "Secretariat", "secretariat")
    token = issue_token(a.registry.engine, "secretariat").token
    b.record("US-MAG", "import", certificate=certificate)
    envelope = pending(b.registry)[0].envelope
    client = TestClient(create_app(Settings(), registry=a.registry))
    assert client.post("/api/v1/confirmations", content=envelope).status_code == 201
    assert client.post("/api/v1/confirmations", content=envelope).status_code == 200
    bad = client.post("/api/v1/confirmations", content=b"{}")
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/confirmations").status_code == 401
    listed = client.get("/api/v1/confirmations", headers={"Authorization": f"Bearer {token}"})
    assert [r["certificate"] for r in listed.json()] == [certificate["credential"]["id"]]
