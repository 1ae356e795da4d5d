"""Shared building blocks for the server tests (this module holds no tests). Import
``world_fixture`` and ``shared_fixture`` into a test module to have the fixtures ``world`` (a fresh
world per test, for tests that write) and ``shared`` (one per module, for tests that only read).

A registry with the two reference chains (Bayan Obo → Baotou → Japan; Mount Weld → Malaysia → US),
and five participants with tokens: operators ``cn`` (CN-MINE, CN-SEP), ``jp`` (JP-MAG) and ``us``
(US-MAG), an ``auditor`` and the ``secretariat``.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from raretrace.ledger.participants import add_participant, issue_token
from raretrace.ledger.scripted import JP_CHAIN, US_CHAIN, ScriptedChain, two_reference_chains
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.chain_fixtures import new_registry

PARTICIPANTS: dict[str, tuple[str, list[str]]] = {
    "cn": ("operator", ["CN-MINE", "CN-SEP"]),
    "jp": ("operator", ["JP-MAG"]),
    "us": ("operator", ["US-MAG"]),
    "auditor": ("auditor", []),
    "secretariat": ("secretariat", []),
}

JP_CONC = JP_CHAIN.concentrate
JP_OXIDE = JP_CHAIN.oxide
JP_METAL = JP_CHAIN.metal
JP_MAGNET = JP_CHAIN.magnet
US_MAGNET = US_CHAIN.magnet


@dataclass
class ServerWorld:
    chain: ScriptedChain
    tokens: dict[str, str]
    client: TestClient

    @property
    def registry(self) -> Any:
        return self.chain.registry

    def as_(self, who: str | None) -> dict[str, str]:
        """Headers of participant ``who`` (None: the public)."""
        return {} if who is None else {"Authorization": f"Bearer {self.tokens[who]}"}


def build_chain(url: str, *, open_ids: bool = False) -> tuple[ScriptedChain, dict[str, str]]:
    chain = ScriptedChain(new_registry(url, open_ids=open_ids))
    two_reference_chains(chain)
    tokens = {}
    for name, (role, facilities) in PARTICIPANTS.items():
        add_participant(chain.registry.engine, name, f"{name} organisation", role, facilities)
        tokens[name] = str(issue_token(chain.registry.engine, name).token)
    return chain, tokens


@contextmanager
def logged_in(world: ServerWorld, who: str) -> Iterator[TestClient]:
    """The web client with ``who``'s session cookie, for the pages."""
    from raretrace.server.deps import SESSION_COOKIE

    world.client.cookies.set(SESSION_COOKIE, world.tokens[who])
    try:
        yield world.client
    finally:
        world.client.cookies.clear()


def make_client(chain: ScriptedChain, **settings: Any) -> TestClient:
    app = create_app(Settings(**settings), registry=chain.registry)
    return TestClient(app, raise_server_exceptions=False)


def server_world(url: str, *, open_ids: bool = False) -> ServerWorld:
    """The reference chains served, with a participant per role; ``open_ids``: a legacy registry."""
    chain, tokens = build_chain(url, open_ids=open_ids)
    return ServerWorld(chain, tokens, make_client(chain))


@pytest.fixture(name="world")
def world_fixture(tmp_path: Path) -> Iterator[ServerWorld]:
    """A fresh world per test (for tests that write)."""
    w = server_world(f"sqlite:///{tmp_path / 'registry.db'}")
    yield w
    w.client.close()


@pytest.fixture(name="shared", scope="module")
def shared_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerWorld]:
    """One world per test module, for tests that only read."""
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('server') / 'registry.db'}")
    yield w
    w.client.close()


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """The one error shape: RFC 9457 problem details with the field at fault."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "field"}, body
    assert body["status"] == status
    assert body["type"].startswith("https://raretrace.dev/problems/")
    assert isinstance(body["detail"], str) and body["detail"]
    return dict(body)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running(app: object) -> Iterator[str]:
    """A uvicorn server for ``app`` on a loopback port, in a thread, for the duration."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
