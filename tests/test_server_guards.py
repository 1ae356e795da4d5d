"""The server's guards against hostile requests: bodies bounded per endpoint and refused before they
are read (anonymous ones before anything), rate limits with 429 and Retry-After, a Content-Security-
Policy that allows exactly the page's own inline scripts, ``no-store`` on authenticated API answers,
deep JSON a 4xx everywhere, and a warning for --dev off loopback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from raretrace.cli.serve import is_loopback
from raretrace.log.tiles import MAX_ENTRY_BYTES
from raretrace.server.settings import MAX_BODY_BYTES
from tests.chain_fixtures import snapshot
from tests.test_server_support import (  # noqa: F401 (fixtures)
    JP_MAGNET,
    ServerWorld,
    assert_problem,
    build_chain,
    make_client,
    shared_fixture,
    world_fixture,
)


class Sent:
    """An ASGI call's response, and whether the app ever asked for the body."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.body = b""
        self.body_reads = 0


def call(
    app: Any, method: str, path: str, headers: dict[str, str], chunks: list[bytes] | None = None
) -> Sent:
    """Drive the ASGI app directly: ``chunks`` is the body as it arrives (None: the test fails if the
    app reads any of it)."""
    sent = Sent()
    pending = list(chunks or [])

    async def receive() -> dict[str, Any]:
        sent.body_reads += 1
        if chunks is None:
            raise AssertionError("the body was read")
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]
            sent.headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    # in a thread of its own: a browser test in the same worker may hold this thread's event loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return sent


def test_an_anonymous_150_mb_post_is_refused_before_its_body_is_read(shared: ServerWorld) -> None:
    for path in ("/api/v1/events", "/api/v1/events/batch", "/api/v1/check", "/api/v1/certificates"):
        sent = call(shared.client.app, "POST", path, {"Content-Length": str(150 * 1024 * 1024)})
        assert sent.status == 401 and sent.body_reads == 0, (path, sent.body)
        assert json.loads(sent.body)["field"] == "authorization"


def test_a_participants_oversized_body_is_refused_before_it_is_read(shared: ServerWorld) -> None:
    token = shared.as_("jp")
    for path, limit in (("/api/v1/events", MAX_ENTRY_BYTES), ("/api/v1/events/batch", MAX_BODY_BYTES)):
        sent = call(shared.client.app, "POST", path, {**token, "Content-Length": str(limit + 1)})
        assert sent.status == 413 and sent.body_reads == 0, sent.body
        assert str(limit) in json.loads(sent.body)["detail"]
    # a JSON endpoint's default bound: 1 MiB
    sent = call(shared.client.app, "POST", "/api/v1/check", {**token, "Content-Length": str(2**20 + 1)})
    assert sent.status == 413 and sent.body_reads == 0


def test_a_body_without_a_length_is_cut_off_at_the_bound(shared: ServerWorld) -> None:
    chunks = [b"x" * 40_000, b"x" * 40_000, b"x" * 40_000]
    headers = {**shared.as_("jp"), "Transfer-Encoding": "chunked", "Content-Type": "application/json"}
    sent = call(shared.client.app, "POST", "/api/v1/events", headers, chunks)
    assert sent.status == 413, sent.body
    assert sent.body_reads == 2  # stopped once past 65535 bytes, the third chunk never read
    anonymous = call(shared.client.app, "POST", "/api/v1/events", {"Transfer-Encoding": "chunked"})
    assert anonymous.status == 401 and anonymous.body_reads == 0


def test_public_writes_still_take_a_body_without_credentials(shared: ServerWorld) -> None:
    response = shared.client.post("/api/v1/verify", json={"certificate": {}})
    assert response.status_code == 422  # judged, not refused for lack of a token


def test_deeply_nested_json_is_a_4xx_on_every_json_endpoint(world: ServerWorld) -> None:
    deep = "[" * 50_000 + "]" * 50_000
    before = snapshot(world.registry)
    token = world.as_("secretariat")
    for path in (
        "/api/v1/check",
        "/api/v1/certificates",
        "/api/v1/verify",
        "/api/v1/participants",
        "/api/v1/corrections",
        "/api/v1/scenarios/run",
        "/api/v1/trusted-registries",
    ):
        response = world.client.post(
            path, content=deep, headers={**token, "Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, (path, response.text)
    batch = world.client.post(
        "/api/v1/events/batch",
        content='{"envelopes":' + deep + "}",
        headers={**token, "Content-Type": "application/json"},
    )
    assert "nested too deeply" in assert_problem(batch, 422)["detail"]
    event = world.client.post(
        "/api/v1/events", content='{"payload":' + "[" * 20_000 + "]" * 20_000 + "}", headers=token
    )
    assert_problem(event, 422)
    verify_page = world.client.post("/verify", data={"certificate": deep})
    assert 400 <= verify_page.status_code < 500
    assert snapshot(world.registry) == before


class _Scripts(HTMLParser):
    """Inline script bodies, read by the standard HTML parser (not the server's own pattern)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.inline: list[str] = []
        self._in: bool = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and not any(name == "src" for name, _ in attrs):
            self._in = True
            self.inline.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in = False

    def handle_data(self, data: str) -> None:
        if self._in:
            self.inline[-1] += data


def test_pages_allow_exactly_their_own_inline_scripts(shared: ServerWorld) -> None:
    shared.client.cookies.set("raretrace_session", shared.tokens["jp"])
    try:
        pages = [
            shared.client.get(path) for path in ("/", "/lots", f"/lots/{JP_MAGNET}", "/login", "/verify")
        ]
    finally:
        shared.client.cookies.clear()
    with_scripts = 0
    for page in pages:
        assert page.status_code == 200, page.text
        policy = page.headers["content-security-policy"]
        directives = {d.split()[0]: d.split()[1:] for d in policy.split("; ")}
        assert (
            "'unsafe-inline'" not in directives["script-src"]
            and "'unsafe-eval'" not in directives["script-src"]
        )
        assert directives["object-src"] == ["'none'"] and directives["frame-ancestors"] == ["'none'"]
        parser = _Scripts()
        parser.feed(page.text)
        expected = {
            "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in parser.inline
        }
        assert set(directives["script-src"]) == {"'self'"} | expected
        with_scripts += bool(parser.inline)
    assert with_scripts >= 1  # the dashboard's and the lot page's charts are inline scripts


def test_authenticated_api_answers_are_not_cached(shared: ServerWorld) -> None:
    for path in (
        "/api/v1/lots",
        f"/api/v1/lots/{JP_MAGNET}",
        f"/api/v1/lots/{JP_MAGNET}/trace",
        "/api/v1/me",
    ):
        response = shared.client.get(path, headers=shared.as_("jp"))
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store", path
    refused = shared.client.get("/api/v1/lots/urn:raretrace:lot:nope", headers=shared.as_("jp"))
    assert refused.headers["cache-control"] == "no-store"
    public = shared.client.get("/checkpoint")
    assert public.status_code == 200 and "no-store" not in public.headers.get("cache-control", "")


def test_rate_limits_answer_429_with_retry_after_and_spare_the_others(tmp_path: Path) -> None:
    chain, tokens = build_chain(f"sqlite:///{tmp_path / 'r.db'}")
    client = make_client(chain, rate_per_token=2.0, rate_per_address=1000.0)
    jp, us = ({"Authorization": f"Bearer {tokens[who]}"} for who in ("jp", "us"))
    statuses = [client.get("/api/v1/lots", headers=jp).status_code for _ in range(8)]
    assert statuses[:4] == [200] * 4  # a burst of twice the rate passes
    assert 429 in statuses
    limited = client.get("/api/v1/lots", headers=jp)
    body = assert_problem(limited, 429)
    assert int(limited.headers["retry-after"]) >= 1 and "try again" in body["detail"]
    assert client.get("/api/v1/lots", headers=us).status_code == 200  # another participant is served
    by_address = make_client(chain, rate_per_token=0, rate_per_address=1.0)
    answers = [by_address.get("/checkpoint").status_code for _ in range(4)]
    assert answers[:2] == [200, 200] and answers[-1] == 429


def test_a_limit_of_zero_is_no_limit(tmp_path: Path) -> None:
    chain, _ = build_chain(f"sqlite:///{tmp_path / 'r.db'}")
    client = make_client(chain, rate_per_token=0, rate_per_address=0)
    assert {client.get("/checkpoint").status_code for _ in range(50)} == {200}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.org", False),
    ],
)
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_dev_off_loopback_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    from raretrace.cli.serve import run_server

    chain, _ = build_chain(f"sqlite:///{tmp_path / 'r.db'}")
    chain.registry.engine.dispose()
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)
    run_server(f"sqlite:///{tmp_path / 'r.db'}", host="0.0.0.0", dev=True)
    assert "not a loopback address" in capsys.readouterr().err
    run_server(f"sqlite:///{tmp_path / 'r.db'}", host="127.0.0.1", dev=True)
    assert "loopback" not in capsys.readouterr().err
