"""The web pages without a browser: who sees which page, the session cookie, forms that refuse bad
input without writing, and the participant commands of the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from raretrace.cli.main import app as cli_app
from raretrace.ledger.certificates import issue
from raretrace.ledger.scripted import JP_CHAIN
from tests.chain_fixtures import new_registry, snapshot
from tests.test_server_support import (
    JP_CONC,
    JP_MAGNET,
    ServerWorld,
    world_fixture,  # noqa: F401 (fixtures)
)


def test_public_pages_and_the_login_wall(world: ServerWorld) -> None:
    c = world.client
    home = c.get("/")
    assert home.status_code == 200 and f">{world.registry.tree_size()}<" in home.text
    # plotly is served by the app itself, never fetched from elsewhere (a plain "cdn" search was flaky:
    # the checkpoint's base64 root hash on the page can hold those letters)
    assert "plotly.min.js" in home.text and "cdn.plot.ly" not in home.text
    assert not re.search(r"<script[^>]*\bsrc=[\"']?(https?:)?//", home.text)
    # both share charts: the lots recorded here (CN, JP, AU, MY, US producers) and the world's
    assert 'id="registry-shares"' in home.text and home.text.count("plotly-graph-div") >= 2
    assert c.get("/verify").status_code == 200
    for path in ("/lots", f"/lots/{JP_MAGNET}", "/submit", "/scenario"):
        response = c.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path


def test_login_sets_an_http_only_strict_cookie_and_pages_follow_the_role(world: ServerWorld) -> None:
    c = world.client
    assert c.post("/login", data={"token": "rt_wrong"}).status_code == 401
    response = c.post("/login", data={"token": world.tokens["jp"]}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" in cookie
    c.cookies.set("raretrace_session", world.tokens["jp"])
    lots = c.get("/lots")
    assert JP_MAGNET in lots.text and JP_CONC not in lots.text
    page = c.get(f"/lots/{JP_MAGNET}")
    assert page.status_code == 200 and 'id="lineage-graph"' in page.text
    assert "jp-conc" not in page.text and "hidden-" in page.text  # upstream lots of CN, not named
    other = c.get(f"/lots/{JP_CONC}")
    missing = c.get("/lots/urn:raretrace:lot:nope")
    assert other.status_code == missing.status_code == 404
    assert other.text.replace(JP_CONC, "X") == missing.text.replace("urn:raretrace:lot:nope", "X")
    # a session whose token was revoked is a logged-out browser, not a JSON error
    world.client.post("/api/v1/participants/jp/revoke-tokens", headers=world.as_("secretariat"))
    assert c.get("/lots", follow_redirects=False).headers["location"] == "/login"
    assert c.get("/").status_code == 200
    assert c.get("/").headers["x-frame-options"] == "DENY"
    c.cookies.set("raretrace_session", world.tokens["auditor"])
    assert JP_CHAIN.concentrate in c.get(f"/lots/{JP_MAGNET}").text
    assert c.post("/logout", follow_redirects=False).headers["set-cookie"].startswith('raretrace_session=""')


def test_the_origin_sankey_traces_the_lots_own_kilograms(world: ServerWorld) -> None:
    """Each element's kilograms in the lot are conserved back to the sources (not the inputs' whole
    content, most of which may have gone elsewhere)."""
    from raretrace.ledger.lineage import trace_up
    from raretrace.server.web import _element_kg

    up = trace_up(world.registry, JP_MAGNET)
    carried = list(zip(up.edges or (), _element_kg(world.registry, JP_MAGNET, up), strict=True))
    sources = {s.lot for s in up.sources}
    magnet = world.registry.lot(JP_MAGNET)
    for element in ("Nd", "Pr", "Dy"):
        into_root = sum(kg[element] for e, kg in carried if e["child"] == JP_MAGNET)
        from_sources = sum(kg[element] for e, kg in carried if e["parent"] in sources)
        assert into_root == pytest.approx(magnet.spec.element_mass(element))
        assert from_sources == pytest.approx(magnet.spec.element_mass(element))


def test_a_lineage_too_large_to_draw_is_listed_instead(
    world: ServerWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    import raretrace.server.web as web

    monkeypatch.setattr(web, "MAX_DRAWN", 2)
    page = world.client.get(f"/lots/{JP_MAGNET}", headers=world.as_("jp"))
    assert page.status_code == 200
    assert 'id="lineage-too-large"' in page.text and 'id="lineage-graph"' not in page.text
    assert 'id="sources"' in page.text


def test_submit_form_refuses_without_writing(world: ServerWorld) -> None:
    c = world.client
    c.cookies.set("raretrace_session", world.tokens["jp"])
    foreign = world.chain.envelope(
        "CN-MINE",
        "extract",
        deposit="x",
        outputs=[{"id": "urn:raretrace:lot:z", "form": "ore", "mass_kg": 1.0, "composition": {"Nd": 0.1}}],
    )
    before = snapshot(world.registry)
    refused = c.post("/submit", data={"envelopes": foreign.decode()})
    assert refused.status_code == 403 and "not operated by participant jp" in refused.text
    garbage = c.post("/submit", data={"envelopes": "{not an envelope"})
    assert garbage.status_code == 422
    assert snapshot(world.registry) == before


def test_verify_form(world: ServerWorld) -> None:
    good = issue(world.registry, lots=[JP_MAGNET]).to_dict()
    page = world.client.post("/verify", data={"certificate": json.dumps(good)})
    assert page.status_code == 200 and "Certificate verified" in page.text and page.text.count("<li") >= 8
    bad = json.loads(json.dumps(good))
    bad["credential"]["validUntil"] = "2099-01-01T00:00:00Z"
    assert "REJECTED" in world.client.post("/verify", data={"certificate": json.dumps(bad)}).text
    assert world.client.post("/verify", data={"certificate": "[1]"}).status_code == 422
    uploaded = world.client.post(
        "/verify", files={"file": ("cert.json", json.dumps(good).encode(), "application/json")}
    )
    assert uploaded.status_code == 200 and "Certificate verified" in uploaded.text


def test_scenario_form(world: ServerWorld) -> None:
    c = world.client
    c.cookies.set("raretrace_session", world.tokens["us"])
    example = c.get("/static/scenario-example.json").json()
    ran = c.post("/scenario", data={"scenario": json.dumps(example)})
    assert ran.status_code == 200 and 'id="scenario-result"' in ran.text
    bad = c.post("/scenario", data={"scenario": json.dumps({**example, "approval_rate": 2})})
    assert bad.status_code == 422 and "between 0 and 1" in bad.text


def test_participant_commands(tmp_path: Path) -> None:
    db = str(tmp_path / "r.db")
    new_registry(f"sqlite:///{db}")
    runner = CliRunner()
    added = runner.invoke(
        cli_app,
        [
            "--db",
            db,
            "participant",
            "add",
            "--id",
            "sec",
            "--name",
            "Secretariat",
            "--role",
            "secretariat",
            "--json",
        ],
    )
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["role"] == "secretariat"
    token = runner.invoke(cli_app, ["--db", db, "participant", "token", "sec", "--json"])
    issued = json.loads(token.stdout)
    assert issued["token"].startswith("rt_") and issued["participant"] == "sec"
    listed = json.loads(runner.invoke(cli_app, ["--db", db, "participant", "list", "--json"]).stdout)
    assert listed["participants"][0]["live_tokens"] == 1
    revoked = json.loads(
        runner.invoke(cli_app, ["--db", db, "participant", "revoke", "sec", "--json"]).stdout
    )
    assert revoked["revoked"] == 1
    bad = runner.invoke(
        cli_app, ["--db", db, "participant", "add", "--id", "op", "--name", "Op", "--role", "operator"]
    )
    assert bad.exit_code != 0 and "at least one registered facility" in str(bad.exception)


def test_dashboard_shows_the_witnesses_of_the_latest_checkpoint(world: ServerWorld, tmp_path: Path) -> None:
    from raretrace.ledger.logview import add_witness
    from raretrace.ledger.registry import Registry
    from raretrace.ledger.witnessing import RegistryLog, submit, witness_key, witness_log
    from raretrace.log.note import verifier_key_text
    from raretrace.store.db import make_engine

    log = world.registry
    witness = Registry.init(make_engine(f"sqlite:///{tmp_path / 'w.db'}"), "witness.example.org/log")
    add_witness(log, witness_key(witness))
    seen = witness_log(
        witness, RegistryLog(log), log_key=verifier_key_text(log.origin, log.signer.public_key)
    )
    assert submit(log, seen) == ["witness.example.org/log"]
    home = world.client.get("/")
    assert '<div class="stat" id="witness-count">1</div>' in home.text
    assert "witness.example.org/log" in home.text


def test_the_lots_page_pages_on(world: ServerWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    """With more lots than a page holds, "Next page" leads on from the last lot shown until every lot
    the caller may see has been shown once."""
    from raretrace.server import web

    monkeypatch.setattr(web, "LOTS_PER_PAGE", 2)
    c = world.client
    c.cookies.set("raretrace_session", world.tokens["auditor"])
    expected = [
        item["id"] for item in c.get("/api/v1/lots?limit=1000", headers=world.as_("auditor")).json()["lots"]
    ]
    shown: list[str] = []
    url: str | None = "/lots"
    while url is not None:
        html = c.get(url).text
        shown += re.findall(r'<tr><td><a href="[^"]*">([^<]+)</a>', html)
        found = re.search(r'id="next-page" href="([^"]+)"', html)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert shown == expected and len(shown) > 2
