"""Issue #18 (area A): the typed answers of lot show, the log proofs and the audit are written as the
same JSON as before they were typed — same keys in the same order, same values — by the CLI's
``--json`` and by the API alike.

The expected documents are written out here by hand from the chain the test records (leaf indices
counted event by event, the transfer's ``from``/``to``, an assay's own fields beside its leaf and lab),
and the proofs are checked against RFC 9162 with the log's own leaf hashes, not against the code that
made them.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pytest
from fastapi.testclient import TestClient

from raretrace.cli.main import main
from raretrace.ledger.logview import checkpoint_at, log_entry_bytes
from raretrace.ledger.participants import add_participant, issue_token
from raretrace.ledger.scripted import ScriptedChain
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.merkle import leaf_hash, verify_consistency, verify_inclusion
from raretrace.log.note import split_note
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.chain_fixtures import ORE, ORE_LOT, OXIDE_LOT, mine_and_separator, separation

TIME = "2026-01-05T08:00:00.000000Z"  # ScriptedChain's clock, as the registry writes times (µs, UTC)
RESULTS = {"units": "ppm", "Nd": 8200.0, "Pr": 2900.0}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, ScriptedChain, TestClient]:
    """Leaves: 0-2 the three facilities, 3 the extraction, 4-5 the shipment and its receipt, 6 the lab,
    7 its assay of the ore, 8 the separation that uses up the ore."""
    url = f"sqlite:///{tmp_path_factory.mktemp('answers') / 'r.db'}"
    chain = mine_and_separator(url)
    chain.ship("US-MINE", "US-SEP", [ORE_LOT])
    chain.add_facility("US-LAB", country="US", stages=["assay"], accreditation="ISO/IEC 17025:2017")
    chain.record("US-LAB", "assay", lot=ORE_LOT, method="ICP-MS", results=RESULTS)
    chain.registry.append([separation(chain)])
    add_participant(chain.registry.engine, "sec", "Secretariat", "secretariat", [])
    token = issue_token(chain.registry.engine, "sec").token
    client = TestClient(create_app(Settings(), registry=chain.registry), raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {token}"
    return url, chain, client


def cli_json(url: str, *args: str, capsys: pytest.CaptureFixture[str]) -> Any:
    """What ``raretrace --db URL ARGS --json`` prints (the CLI sorts keys; the API keeps their order)."""
    old, sys.argv = sys.argv, ["raretrace", "--db", url, *args, "--json"]
    code = 0
    try:
        main()
    except SystemExit as e:
        code = int(e.code or 0)
    finally:
        sys.argv = old
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return json.loads(printed.out)


def test_lot_show_writes_the_lot_its_inputs_shipments_and_assays_as_before(
    recorded: tuple[str, ScriptedChain, TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, client = recorded
    ore = client.get(f"/api/v1/lots/{ORE_LOT}").json()
    assert ore == cli_json(url, "lot", "show", ORE_LOT, capsys=capsys)
    assert list(ore) == ["lot", "origin_by_value", "inputs", "transfers", "assays"]
    lot = ore["lot"]
    assert list(lot) == [
        *("id", "form", "mass_kg", "composition", "custodian", "remaining_kg", "producer", "stage"),
        *("produced_seq", "created_time", "in_transit_to", "deposit", "void", "origin"),
    ]
    assert {k: v for k, v in lot.items() if k not in ("composition", "origin")} == {
        "id": ORE_LOT,
        "form": "ore",
        "mass_kg": 1000.0,
        "custodian": "US-SEP",
        "remaining_kg": 0.0,
        "producer": "US-MINE",
        "stage": "mining",
        "produced_seq": 3,
        "created_time": TIME,
        "in_transit_to": None,
        "deposit": "Mountain Pass",
        "void": False,
    }
    assert lot["composition"] == ORE
    assert sorted(lot["origin"]) == ["Ce", "La", "Nd", "Pr"]  # the rare earths of the ore
    assert all(history["location"]["mining"] == {"US": 1.0} for history in lot["origin"].values())
    assert list(ore["origin_by_value"]) == [
        "location",
        "technology",
        "priced_value_usd",
        "unpriced",
        "price_table",
    ]
    assert ore["inputs"] == []
    assert ore["transfers"] == [
        {"event_index": 4, "from": "US-MINE", "to": "US-SEP", "received_event_index": 5}
    ]
    assert list(ore["transfers"][0]) == ["event_index", "from", "to", "received_event_index"]
    assert ore["assays"] == [
        {"event_index": 7, "lab": "US-LAB", "method": "ICP-MS", "results": RESULTS, "time": TIME}
    ]
    oxide = client.get(f"/api/v1/lots/{OXIDE_LOT}").json()
    assert oxide == cli_json(url, "lot", "show", OXIDE_LOT, capsys=capsys)
    assert oxide["inputs"] == [{"lot": ORE_LOT, "mass_kg": 1000.0, "event_index": 8}]
    assert list(oxide["inputs"][0]) == ["lot", "mass_kg", "event_index"]
    assert oxide["transfers"] == oxide["assays"] == []


def test_log_proofs_are_written_as_before_and_verify(
    recorded: tuple[str, ScriptedChain, TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    url, chain, client = recorded
    note = client.get("/checkpoint").text
    head = Checkpoint.parse(split_note(note)[0])
    assert head.size == 9
    proof = client.get("/api/v1/log/inclusion", params={"index": 7}).json()
    assert proof == cli_json(url, "log", "prove", "7", capsys=capsys)
    assert list(proof) == ["leaf_index", "tree_size", "leaf_hash", "proof"]
    assert (proof["leaf_index"], proof["tree_size"]) == (7, 9)
    leaf = leaf_hash(log_entry_bytes(chain.registry, 7))
    assert proof["leaf_hash"] == base64.b64encode(leaf).decode()
    hashes = [base64.b64decode(h) for h in proof["proof"]]
    verify_inclusion(leaf, 7, 9, hashes, head.root_hash)  # raises if the proof does not hold
    consistency = client.get("/api/v1/log/consistency", params={"old": 4, "new": 9}).json()
    assert consistency == cli_json(url, "log", "consistency", "4", "9", capsys=capsys)
    assert list(consistency) == ["size1", "size2", "proof"]
    assert (consistency["size1"], consistency["size2"]) == (4, 9)
    old_root = Checkpoint.parse(split_note(_checkpoint_at(chain, 4))[0]).root_hash
    hashes = [base64.b64decode(h) for h in consistency["proof"]]
    verify_consistency(4, 9, hashes, old_root, head.root_hash)


def _checkpoint_at(chain: ScriptedChain, size: int) -> str:
    with chain.registry.engine.connect() as conn:
        return checkpoint_at(conn, size)


def test_the_audit_is_written_as_before(
    recorded: tuple[str, ScriptedChain, TestClient], capsys: pytest.CaptureFixture[str]
) -> None:
    url, _, client = recorded
    result = client.get("/api/v1/log/audit").json()
    assert result == cli_json(url, "log", "audit", capsys=capsys)
    # nine leaves, each signed once (the registry signs the facility registrations, each facility its
    # own events); a checkpoint per append: three facilities, the extraction, the shipment with its
    # receipt, the lab, the assay and the separation — eight — and the empty tree's at initialization
    assert result == {
        "ok": True,
        "tree_size": 9,
        "leaves_checked": 9,
        "signatures_verified": 9,
        "checkpoints_verified": 9,
        "first_discrepancy": None,
        "problems": [],
    }
    assert list(result) == [
        *("ok", "tree_size", "leaves_checked", "signatures_verified", "checkpoints_verified"),
        *("first_discrepancy", "problems"),
    ]


ROUTES = {
    ("get", "/api/v1/lots"): "LotPage",
    ("get", "/api/v1/lots/{lot_id}"): "LotDetailsOut",
    ("get", "/api/v1/lots/{lot_id}/trace"): "Trace",
    ("get", "/api/v1/lots/{lot_id}/certificates"): "LotCertificates",
    ("post", "/api/v1/check"): "Verdicts",
    ("get", "/api/v1/regimes"): "Regimes",
    ("get", "/api/v1/search/lots"): "SearchAnswer",
    ("get", "/api/v1/log/inclusion"): "InclusionProof",
    ("get", "/api/v1/log/consistency"): "ConsistencyProof",
    ("post", "/api/v1/log/cosignatures"): "Accepted",
    ("post", "/api/v1/log/witnesses"): "WitnessAdded",
    ("get", "/api/v1/log/audit"): "AuditResult",
    ("post", "/api/v1/events"): "Appended",
    ("post", "/api/v1/events/batch"): "Appended",
    ("get", "/healthz"): "Liveness",
    ("get", "/readyz"): "Readiness",
}


def test_every_route_of_the_area_declares_its_answer(recorded: tuple[str, ScriptedChain, TestClient]) -> None:
    """The OpenAPI document names a schema for each answer, so the schema tests check every response."""
    document = recorded[2].get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    for (method, path), name in ROUTES.items():
        operation = document["paths"][path][method]
        ok = next(code for code in operation["responses"] if code.startswith("2"))
        schema = operation["responses"][ok]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{name}"}, (method, path, schema)
        assert schemas[name]["properties"], name
    # the lot's shipments are written "from"/"to", as the answer is
    assert set(schemas["LotShipmentOut"]["properties"]) == {
        "event_index",
        "from",
        "to",
        "received_event_index",
    }
