"""Every role against the API: each allowed action works; each forbidden one is refused (401 for the
public, 403 for a participant, 404 for another participant's lot) and writes nothing."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.custody.namespaces import namespaced
from raretrace.ledger.scripted import lot
from raretrace.log.cosignature import witness_key_text
from tests.chain_fixtures import snapshot
from tests.test_server_support import (  # noqa: F401 (fixtures)
    JP_CONC,
    JP_MAGNET,
    JP_METAL,
    JP_OXIDE,
    US_MAGNET,
    ServerWorld,
    assert_problem,
    server_world,
    shared_fixture,
    world_fixture,
)

Request = tuple[str, str, dict[str, Any]]


def _extract(w: ServerWorld, facility: str, name: str) -> bytes:
    """``facility`` extracting ore lot ``name`` (in its namespace, as a registry requires by default)."""
    lot_id = namespaced("lot", facility, name)
    return w.chain.envelope(
        facility, "extract", deposit="test", outputs=[lot(lot_id, "ore", 100.0, {"Nd": 0.01, "other": 0.5})]
    )


def _certificate(w: ServerWorld) -> dict[str, Any]:
    response = w.client.post("/api/v1/certificates", json={"lots": [JP_MAGNET]}, headers=w.as_("jp"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def _writes(w: ServerWorld) -> list[Request]:
    """Every writing action, with a body that would be accepted from the right participant."""
    new_key = base64.b64encode(Ed25519Signer.generate().public_key).decode()
    return [
        ("post", "/api/v1/events", {"content": _extract(w, "CN-MINE", "new-ore")}),
        (
            "post",
            "/api/v1/events/batch",
            {
                "content": _extract(w, "CN-MINE", "new-ore-b") + b"\n",
                "headers": {"Content-Type": "application/x-ndjson"},
            },
        ),
        ("post", "/api/v1/certificates", {"json": {"lots": [JP_MAGNET]}}),
        ("post", "/api/v1/certificates/JP-2026-000001/revoke", {"json": {"reason": "test"}}),
        ("post", "/api/v1/participants", {"json": {"id": "x", "name": "X", "role": "auditor"}}),
        ("post", "/api/v1/participants/jp/tokens", {"json": {}}),
        ("post", "/api/v1/participants/jp/revoke-tokens", {}),
        (
            "post",
            "/api/v1/facilities",
            {
                "json": {
                    "facility": {
                        "id": "DE-MAG",
                        "name": "Magnets GmbH",
                        "operator": "Magnets GmbH",
                        "country": "DE",
                        "stages": ["magnet"],
                    },
                    "keys": [new_key],
                }
            },
        ),
        (
            "post",
            "/api/v1/corrections",
            {"json": {"target_event": namespaced("event", "CN-MINE", "extract-000000"), "reason": "typo"}},
        ),
        (
            "post",
            "/api/v1/log/witnesses",
            {
                "json": {
                    "verifier_key": witness_key_text("witness.example", Ed25519Signer.generate().public_key)
                }
            },
        ),
    ]


def _call(w: ServerWorld, who: str | None, request: Request) -> Any:
    method, path, kwargs = request
    headers = {**kwargs.get("headers", {}), **w.as_(who)}
    rest = {k: v for k, v in kwargs.items() if k != "headers"}
    return getattr(w.client, method)(path, headers=headers, **rest)


def _refused(w: ServerWorld, who: str | None, request: Request, status: int) -> None:
    before = snapshot(w.registry)
    response = _call(w, who, request)
    body = assert_problem(response, status)
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert body["field"] in ("authorization", "kind", "facility", "lot", "lots", "transfer"), body
    assert snapshot(w.registry) == before, f"{request[0]} {request[1]} wrote something"


# --- the public ----------------------------------------------------------------------------------------


PUBLIC_READS = [
    "/checkpoint",
    "/trusted-keys",
    "/status/1",
    "/api/v1/me",
    "/api/v1/regimes",
    "/api/v1/world/stage-shares",
    "/api/v1/world/concentration",
    "/api/v1/log/public-key",
    "/api/v1/log/inclusion?index=0",
    "/api/v1/log/consistency?old=1&new=2",
]


@pytest.mark.parametrize("path", PUBLIC_READS)
def test_public_reads_the_log_and_verifies(shared: ServerWorld, path: str) -> None:
    assert shared.client.get(path).status_code == 200


def test_public_reads_hash_tiles_but_not_entries(shared: ServerWorld) -> None:
    size = shared.registry.tree_size()
    tile = shared.client.get(f"/tile/0/000.p/{size}")
    assert tile.status_code == 200 and len(tile.content) == 32 * size
    assert_problem(shared.client.get(f"/tile/entries/000.p/{size}"), 401)
    assert_problem(shared.client.get(f"/tile/entries/000.p/{size}", headers=shared.as_("jp")), 403)
    entries = shared.client.get(f"/tile/entries/000.p/{size}", headers=shared.as_("auditor"))
    assert entries.status_code == 200 and entries.content[2:3] == b"{"


PUBLIC_REFUSED_READS = [
    "/api/v1/lots",
    f"/api/v1/lots/{JP_MAGNET}",
    f"/api/v1/lots/{JP_MAGNET}/trace",
    f"/api/v1/lots/{JP_MAGNET}/certificates",
    "/api/v1/participants",
    "/api/v1/facilities",
    "/api/v1/log/audit",
    "/api/v1/certificates/JP-2026-000001",
]


@pytest.mark.parametrize("path", PUBLIC_REFUSED_READS)
def test_public_may_not_read_lots_or_administration(shared: ServerWorld, path: str) -> None:
    _refused(shared, None, ("get", path, {}), 401)


def test_public_may_not_write(world: ServerWorld) -> None:
    _certificate(world)
    for request in _writes(world):
        _refused(world, None, request, 401)
    _refused(world, None, ("post", "/api/v1/check", {"json": {"lots": [JP_MAGNET]}}), 401)
    _refused(world, None, ("post", "/api/v1/scenarios/run", {"json": {}}), 401)


def test_a_bad_token_is_refused_not_downgraded(shared: ServerWorld) -> None:
    response = shared.client.get("/api/v1/me", headers={"Authorization": "Bearer rt_not-a-token"})
    assert_problem(response, 401)


# --- an operator ------------------------------------------------------------------------------------


def test_operator_sees_its_own_lots_and_what_it_received(shared: ServerWorld) -> None:
    listed = shared.client.get("/api/v1/lots", headers=shared.as_("jp")).json()["lots"]
    assert sorted(item["id"] for item in listed) == sorted([JP_MAGNET, JP_METAL])
    cn = shared.client.get("/api/v1/lots", headers=shared.as_("cn")).json()["lots"]
    assert sorted(item["id"] for item in cn) == sorted([JP_CONC, JP_OXIDE, JP_METAL])  # shipped the metal
    lot_view = shared.client.get(f"/api/v1/lots/{JP_METAL}", headers=shared.as_("jp")).json()
    assert lot_view["lot"]["id"] == JP_METAL
    assert [item["lot"] for item in lot_view["inputs"]] == ["hidden-1"]  # CN's oxide, not named
    assert (
        shared.client.get(f"/api/v1/lots/{JP_METAL}", headers=shared.as_("cn")).json()["inputs"][0]["lot"]
        == JP_OXIDE
    )


def test_another_participants_lot_is_indistinguishable_from_a_missing_one(shared: ServerWorld) -> None:
    for path in ("", "/trace", "/certificates"):
        theirs = shared.client.get(f"/api/v1/lots/{JP_CONC}{path}", headers=shared.as_("jp"))
        missing = shared.client.get(f"/api/v1/lots/urn:raretrace:lot:nope{path}", headers=shared.as_("jp"))
        a, b = assert_problem(theirs, 404), assert_problem(missing, 404)
        assert a["detail"].replace(JP_CONC, "X") == b["detail"].replace("urn:raretrace:lot:nope", "X")
    check = shared.client.post("/api/v1/check", json={"lots": [US_MAGNET]}, headers=shared.as_("jp"))
    assert_problem(check, 404)


def test_operator_traces_with_other_participants_lots_hidden(shared: ServerWorld) -> None:
    up = shared.client.get(f"/api/v1/lots/{JP_MAGNET}/trace", headers=shared.as_("jp")).json()
    assert set(up["lots"]) == {JP_MAGNET, JP_METAL, "hidden-up-1", "hidden-up-2"}
    assert up["hidden_lots"] == 2
    (source,) = up["sources"]
    assert source["lot"].startswith("hidden-up-") and source["share"] == pytest.approx(1.0)
    assert "producer" not in source and "deposit" not in source
    full = shared.client.get(f"/api/v1/lots/{JP_MAGNET}/trace", headers=shared.as_("auditor")).json()
    assert full["sources"][0]["lot"] == JP_CONC and "hidden_lots" not in full
    down = shared.client.get(f"/api/v1/lots/{JP_CONC}/trace?direction=down", headers=shared.as_("cn")).json()
    assert JP_OXIDE in down["reached"] and JP_MAGNET not in down["reached"]
    assert len(down["end_items"]) == 1 and down["end_items"][0].startswith("hidden-down-")


def test_operator_checks_and_certifies_what_it_holds(world: ServerWorld) -> None:
    verdicts = world.client.post("/api/v1/check", json={"lots": [JP_MAGNET]}, headers=world.as_("jp"))
    assert verdicts.status_code == 200 and verdicts.json()["verdicts"]
    issued = _certificate(world)
    number = issued["credential"]["credentialSubject"]["certificateNumber"]
    assert world.client.get(f"/api/v1/certificates/{number}", headers=world.as_("jp")).status_code == 200
    assert_problem(world.client.get(f"/api/v1/certificates/{number}", headers=world.as_("us")), 404)
    listed = world.client.get(f"/api/v1/lots/{JP_MAGNET}/certificates", headers=world.as_("jp")).json()
    assert [c["number"] for c in listed["certificates"]] == [number]


def test_check_takes_a_documented_end_use_and_records_it(world: ServerWorld) -> None:
    jp = world.as_("jp")
    body = {"lots": [JP_MAGNET], "regimes": ["cn-mofcom-61-2025"], "as_of": "2026-12-06"}
    answer = world.client.post("/api/v1/check", json={**body, "end_use": "DEFENSE"}, headers=jp)
    assert answer.status_code == 200, answer.text
    [verdict] = answer.json()["verdicts"]
    assert verdict["end_use"] == "military" and verdict["as_of"] == "2026-12-06"
    refused = assert_problem(
        world.client.post("/api/v1/check", json={**body, "end_use": "militia"}, headers=jp), 422
    )
    assert refused["field"] == "end_use" and "civil, military, dual-use" in refused["detail"]
    refused = assert_problem(
        world.client.post("/api/v1/check", json={**body, "assertions": ["bribe"]}, headers=jp), 422
    )
    assert refused["field"] == "assertions"


def test_operator_submits_events_of_its_own_facilities(world: ServerWorld) -> None:
    before = world.registry.tree_size()
    response = world.client.post(
        "/api/v1/events",
        content=_extract(world, "CN-MINE", "ore-x"),
        headers=world.as_("cn"),
    )
    assert response.status_code == 201, response.text
    assert response.json()["tree_size"] == before + 1
    assert response.json()["checkpoint"].startswith(world.registry.origin + "\n")


def test_operator_refusals(world: ServerWorld) -> None:
    _certificate(world)
    foreign = _extract(world, "CN-MINE", "not-yours")
    own = _extract(world, "JP-MAG", "jp-own")
    refused: list[tuple[Request, int]] = [
        (("post", "/api/v1/events", {"content": foreign}), 403),
        (
            (
                "post",
                "/api/v1/events/batch",
                {
                    "content": own + b"\n" + foreign + b"\n",
                    "headers": {"Content-Type": "application/x-ndjson"},
                },
            ),
            403,
        ),
        (("post", "/api/v1/certificates", {"json": {"lots": [JP_CONC]}}), 404),
        (
            (
                "post",
                "/api/v1/certificates",
                {"json": {"transfer": namespaced("event", "CN-MINE", "transfer-000001")}},
            ),
            404,
        ),
        (("get", "/api/v1/log/audit", {}), 403),
    ]
    refused += [(request, 403) for request in _writes(world)[3:]]  # revoke and administration
    for request, status in refused:
        _refused(world, "jp", request, status)
    # the registry's own kinds are the secretariat's even when signed correctly
    register = world.chain.facility_event("JP-MAG-2", country="JP", stages=["magnet"])
    _refused(world, "jp", ("post", "/api/v1/events", {"content": register}), 403)


# --- the auditor and the secretariat --------------------------------------------------------------------


def test_auditor_reads_everything(shared: ServerWorld) -> None:
    listed = shared.client.get("/api/v1/lots", headers=shared.as_("auditor")).json()["lots"]
    assert {JP_CONC, JP_MAGNET, US_MAGNET} <= {item["id"] for item in listed}
    assert shared.client.get(f"/api/v1/lots/{JP_CONC}", headers=shared.as_("auditor")).status_code == 200
    audit = shared.client.get("/api/v1/log/audit", headers=shared.as_("auditor")).json()
    assert audit["ok"] is True and audit["tree_size"] == shared.registry.tree_size()
    assert shared.client.get("/api/v1/facilities", headers=shared.as_("auditor")).status_code == 200


def test_auditor_writes_nothing(world: ServerWorld) -> None:
    _certificate(world)
    for request in _writes(world):
        _refused(world, "auditor", request, 403)


def test_secretariat_administers(world: ServerWorld) -> None:
    headers = world.as_("secretariat")
    number = _certificate(world)["credential"]["credentialSubject"]["certificateNumber"]
    for request in _writes(world):
        response = _call(world, "secretariat", request)
        assert response.status_code in (200, 201), (request[1], response.text)
    # the token issued above works, and revoking the participant's tokens ends it
    token = world.client.post("/api/v1/participants/x/tokens", json={}, headers=headers).json()["token"]
    assert (
        world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
        == "auditor"
    )
    world.client.post("/api/v1/participants/x/revoke-tokens", headers=headers)
    assert_problem(world.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}), 401)
    status = world.client.get("/status/1").json()
    assert status["credentialSubject"]["type"] == "BitstringStatusList"
    assert world.client.get(f"/api/v1/certificates/{number}", headers=headers).json()["revoked_at"]


def test_lot_pages_follow_on_with_after(shared: ServerWorld) -> None:
    """``next_after`` of a full page, passed as ``after``, gives the next page: for an operator and for
    the auditor the pages together are the whole list, in order, each lot once."""
    for who in ("cn", "auditor"):
        whole = shared.client.get("/api/v1/lots?limit=1000", headers=shared.as_(who)).json()["lots"]
        walked: list[str] = []
        query = "limit=2"
        while True:
            page = shared.client.get(f"/api/v1/lots?{query}", headers=shared.as_(who)).json()
            walked += [item["id"] for item in page["lots"]]
            if "next_after" not in page:
                break
            assert page["next_after"] == walked[-1]
            query = f"limit=2&after={page['next_after']}"
        assert walked == [item["id"] for item in whole] and len(walked) >= 3, who
    refused = shared.client.get("/api/v1/lots?after=", headers=shared.as_("cn"))
    assert refused.status_code == 422 and "after" in refused.text
