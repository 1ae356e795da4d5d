"""Issue #18 in the certificates/administration area: the services answer with typed values, every route
declares its answer's model, and the JSON the API and the CLI write is what it was before the change.

The expected keys, their order and the number formatting below are read off the code as it was
(``ledger/certificates.py``, ``ledger/participants.py``, ``server/api_admin.py`` before #18): dicts
built in that order and written by FastAPI's standard JSON writer (``json.dumps``, compact, UTF-8).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from raretrace.cli.main import app as cli_app
from raretrace.custody.namespaces import namespaced
from raretrace.ledger.scripted import US_CHAIN, lot
from tests.test_server_support import ServerWorld, world_fixture  # noqa: F401 (fixtures)

TRACE_ORE = namespaced("lot", "AU-MINE", "trace-ore")


def _compact(body: object) -> bytes:
    """How FastAPI writes an answer that has no response model (Starlette's JSONResponse)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode()


def test_an_issued_certificate_is_written_as_before(world: ServerWorld) -> None:
    # A trace element at 5e-05: the standard writer prints 5e-05, pydantic's 0.00005. The signature
    # does not care (JCS), but the bytes of the answer would change.
    world.chain.record(
        "AU-MINE",
        "extract",
        deposit="test",
        outputs=[lot(TRACE_ORE, "ore", 1000.0, {"Nd": 0.2, "Lu": 5e-05})],
    )
    response = world.client.post(
        "/api/v1/certificates", json={"lots": [TRACE_ORE]}, headers=world.as_("secretariat")
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert list(body) == ["credential", "disclosures"]
    assert response.content == _compact(body)
    assert b'"Lu":5e-05' in response.content
    entry = body["credential"]["credentialSubject"]["shipment"]["lots"][0]
    assert list(entry)[:4] == ["id", "form", "composition", "origin"]  # massKg is concealed (a digest)
    assert entry["composition"] == {"Lu": 5e-05, "Nd": 0.2}
    verified = world.client.post("/api/v1/verify", json={"certificate": body}).json()
    assert [s["ok"] for s in verified["steps"]][:7] == [True] * 7, verified


def test_revocation_status_list_and_trusted_keys_keep_their_members(world: ServerWorld) -> None:
    sec = world.as_("secretariat")
    issued = world.client.post("/api/v1/certificates", json={"lots": [US_CHAIN.magnet]}, headers=sec)
    number = issued.json()["credential"]["credentialSubject"]["certificateNumber"]
    revoked = world.client.post(
        f"/api/v1/certificates/{number}/revoke", json={"reason": "  diverted "}, headers=sec
    )
    assert revoked.status_code == 200, revoked.text
    answer = revoked.json()
    assert list(answer) == ["id", "revoked_at", "reason"]
    assert answer["id"] == issued.json()["credential"]["id"] and answer["reason"] == "diverted"
    assert answer["revoked_at"].endswith("Z") and revoked.content == _compact(answer)

    listing = world.client.get("/status/1")
    assert list(listing.json()) == [
        "@context",
        "id",
        "type",
        "issuer",
        "validFrom",
        "credentialSubject",
        "proof",
    ]
    assert listing.content == _compact(listing.json())
    keys = world.client.get("/trusted-keys").json()
    assert list(keys) == ["issuers", "witnesses"] and list(keys["issuers"][0]) == ["id", "log", "logKey"]


def test_administration_answers_keep_their_members(world: ServerWorld) -> None:
    sec = world.as_("secretariat")
    added = world.client.post(
        "/api/v1/participants",
        json={"id": "lab", "name": " Lab Org ", "role": "operator", "facilities": ["US-LAB", "US-LAB"]},
        headers=sec,
    )
    assert added.status_code == 201, added.text
    assert added.json() == {"id": "lab", "name": "Lab Org", "role": "operator", "facilities": ["US-LAB"]}
    assert added.content == _compact(added.json())

    token = world.client.post("/api/v1/participants/lab/tokens", json={"label": "erp"}, headers=sec).json()
    assert list(token) == ["participant", "token", "expires_at", "label"]
    assert token["participant"] == "lab" and token["token"].startswith("rt_") and token["label"] == "erp"

    listed = world.client.get("/api/v1/participants", headers=sec)
    rows = {r["id"]: r for r in listed.json()["participants"]}
    assert list(rows["lab"]) == [
        "id",
        "name",
        "role",
        "facilities",
        "created_at",
        "disabled_at",
        "live_tokens",
    ]
    assert rows["lab"]["facilities"] == ["US-LAB"] and rows["lab"]["live_tokens"] == 1
    assert rows["cn"]["facilities"] == ["CN-MINE", "CN-SEP"]  # sorted, as before
    assert listed.content == _compact(listed.json())

    gone = world.client.post("/api/v1/participants/lab/revoke-tokens", headers=sec)
    assert gone.content == b'{"revoked":1}'


def test_every_route_of_the_area_declares_its_answer(world: ServerWorld) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    routes = {
        ("/api/v1/certificates", "post", "201"),
        ("/api/v1/certificates/{certificate}", "get", "200"),
        ("/api/v1/certificates/{certificate}/revoke", "post", "200"),
        ("/api/v1/verify", "post", "200"),
        ("/status/1", "get", "200"),
        ("/trusted-keys", "get", "200"),
        ("/api/v1/me", "get", "200"),
        ("/api/v1/participants", "get", "200"),
        ("/api/v1/participants", "post", "201"),
        ("/api/v1/participants/{participant_id}/tokens", "post", "201"),
        ("/api/v1/participants/{participant_id}/revoke-tokens", "post", "200"),
        ("/api/v1/facilities", "get", "200"),
        ("/api/v1/facilities", "post", "201"),
        ("/api/v1/corrections", "post", "201"),
    }
    undescribed = []
    for path, method, status in sorted(routes):
        schema: dict[str, Any] = paths[path][method]["responses"][status]["content"]["application/json"][
            "schema"
        ]
        if "$ref" not in schema and "properties" not in schema:
            undescribed.append(f"{method.upper()} {path}: {schema}")
    assert not undescribed, undescribed


def test_cli_answers_keep_their_members(tmp_path: Path, world: ServerWorld) -> None:
    db = str(world.registry.engine.url.database)
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["--db", db, "participant", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    first = json.loads(listed.stdout)["participants"][0]
    # the CLI sorts keys (json_text), as before
    assert list(first) == ["created_at", "disabled_at", "facilities", "id", "live_tokens", "name", "role"]
    cert = tmp_path / "cert.json"
    made = runner.invoke(cli_app, ["--db", db, "certify", "--lot", US_CHAIN.magnet, "--out", str(cert)])
    assert made.exit_code == 0, made.output
    assert sorted(json.loads(cert.read_text())) == ["credential", "disclosures"]
    number = json.loads(cert.read_text())["credential"]["credentialSubject"]["certificateNumber"]
    assert f"certificate {number} written to" in made.stdout
    revoked = runner.invoke(cli_app, ["--db", db, "revoke", number, "--reason", "test", "--json"])
    assert revoked.exit_code == 0, revoked.output
    answer = json.loads(revoked.stdout)
    assert list(answer) == ["id", "reason", "revoked_at"] and answer["reason"] == "test"
