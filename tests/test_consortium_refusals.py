"""A refused ``raretrace consortium receive`` leaves the importer's database and log exactly as they
were: every table (the log's tiles and checkpoints among them) and every sequence, row for row, and
the checkpoint its server answers.

What is refused, each offered by a proxy in front of a real exporting member (its own ``raretrace
serve`` process on its own PostgreSQL database) that alters the answer to the importer's fetch:

- a certificate whose signature does not verify (one character of the proof changed);
- a tampered certificate (a disclosed value changed after signing: its digest is no longer listed);
- a replayed certificate (issued to another member's facility, offered to this one);
- malformed origin paths, signed by the exporter's own key (a member's registry that is broken or
  hostile signs what it likes): a path that is not ``CODE=PLACE`` parts, shares not adding up to one,
  an element's origin that is not an object at all;
- a certificate citing another log than the exporter's.

Each is refused naming the certificate and the reason (the command, run once in its own process:
exit 8, never a traceback): the refusal is that certificate's, not the whole run's. The same proxy
passing the genuine answer through then imports it (the harness does not refuse everything).
"""

from __future__ import annotations

import base64
import copy
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from sqlalchemy import create_engine, inspect, text

from raretrace.crypto.dataintegrity import add_proof
from raretrace.crypto.multikey import did_key_verification_method
from raretrace.ledger.shipments import fetch_request
from tests.consortium_net import Member, Network, cli, running_network, write_key

pytestmark = pytest.mark.postgres

Mutation = Callable[[dict[str, Any]], dict[str, Any]]


def database_dump(db: str) -> dict[str, list[str]]:
    """Every table's rows and every sequence's position, each row as its repr, sorted."""
    engine = create_engine(db)
    try:
        with engine.connect() as conn:
            out = {
                name: sorted(repr(tuple(row)) for row in conn.execute(text(f'SELECT * FROM "{name}"')))
                for name in inspect(conn).get_table_names()
            }
            sequences = conn.execute(text("SELECT sequencename, last_value FROM pg_sequences"))
            out["(sequences)"] = sorted(repr(tuple(row)) for row in sequences)
    finally:
        engine.dispose()
    return out


class Tampering(http.server.BaseHTTPRequestHandler):
    """The exporter as the importer sees it through this proxy: everything passed on, except that
    the shipments waiting for the importer are replaced by ``offer(the genuine ones)``."""

    upstream = ""
    offer: ClassVar[list[Mutation]] = []

    def _relay(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")}
        answer = httpx.request(method, self.upstream + self.path, content=body, headers=headers, timeout=30)
        content = answer.content
        if method == "POST" and self.path == "/api/v1/shipments/waiting" and answer.status_code == 200:
            genuine = answer.json()
            content = json.dumps([self.offer[0](copy.deepcopy(p)) for p in genuine]).encode()
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("Content-Type", "application/json"))
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def do_GET(self) -> None:
        self._relay("GET")

    def do_POST(self) -> None:
        self._relay("POST")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def network(tmp_path: Path, pg_database: str) -> Iterator[Network]:
    with running_network(tmp_path, ["JP", "US", "AU"]) as net:
        yield net


def lot0(presentation: dict[str, Any]) -> dict[str, Any]:
    lot: dict[str, Any] = presentation["credential"]["credentialSubject"]["shipment"]["lots"][0]
    return lot


def resigned(exporter: Member, change: Callable[[dict[str, Any]], None]) -> Mutation:
    """``change`` made to the credential, then signed again with the exporter's own key."""

    def mutate(presentation: dict[str, Any]) -> dict[str, Any]:
        credential = presentation["credential"]
        proof = credential.pop("proof")
        change(presentation)
        key = exporter.registry.signer
        presentation["credential"] = add_proof(
            credential,
            key,
            verification_method=did_key_verification_method(key.public_key),
            created=proof["created"],
        )
        return presentation

    return mutate


def bad_signature(presentation: dict[str, Any]) -> dict[str, Any]:
    proof = presentation["credential"]["proof"]
    value = proof["proofValue"]
    proof["proofValue"] = value[:-3] + ("2" if value[-3] != "2" else "3") + value[-2:]
    return presentation


def tampered_disclosure(presentation: dict[str, Any]) -> dict[str, Any]:
    """The disclosed mass of a lot doubled (its digest in the signed credential then matches nothing)."""
    out = []
    for shown in presentation["disclosures"]:
        parts = json.loads(base64.urlsafe_b64decode(shown + "=" * (-len(shown) % 4)))
        if parts[1:2] == ["massKg"]:
            parts[2] = parts[2] * 2
            shown = base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")  # noqa: PLW2901 -- the changed disclosure replaces the genuine one
        out.append(shown)
    assert out != presentation["disclosures"]
    presentation["disclosures"] = out
    return presentation


def another_log(presentation: dict[str, Any]) -> dict[str, Any]:
    presentation["credential"]["credentialSubject"]["logEvidence"]["log"] = "registry.m9.example/log"
    return presentation


def test_a_refused_receive_leaves_the_importer_exactly_as_it_was(network: Network) -> None:
    network.found_consortium(quorum=2)
    m1, m2, m3 = network.members
    network.start()
    keys = network.open_trade()
    [mine] = m1.ship(m2, 1, "to-m2")
    [theirs] = m1.ship(m3, 1, "to-m3")
    answer = httpx.post(
        m1.url + "/api/v1/shipments/waiting", content=fetch_request("m3-MAG", keys["m3"]), timeout=10
    )
    [for_m3] = answer.json()
    assert for_m3["credential"]["id"] == theirs

    def first_element(presentation: dict[str, Any]) -> dict[str, Any]:
        origin: dict[str, Any] = lot0(presentation)["origin"]
        return origin[next(iter(origin))]

    cases: list[tuple[str, Mutation, str]] = [
        ("bad signature", bad_signature, "signature"),
        ("tampered disclosure", tampered_disclosure, "disclosure"),
        ("replayed to another facility", lambda _: copy.deepcopy(for_m3), "m3-MAG"),
        (
            "a path that is not CODE=PLACE parts",
            resigned(m1, lambda p: first_element(p).update(paths={"not a path": 1.0})),
            "paths",
        ),
        (
            "path shares not adding up to one",
            resigned(m1, lambda p: first_element(p).update(paths={"": 0.25})),
            "paths",
        ),
        (
            "an element's origin that is not an object",
            resigned(m1, lambda p: lot0(p)["origin"].update({next(iter(lot0(p)["origin"])): "AU"})),
            "origin",
        ),
        (
            "an element's location that is not an object",
            resigned(m1, lambda p: first_element(p).update(location=7)),
            "origin",
        ),
        ("another log", another_log, "logEvidence.log"),
    ]
    handler = type("Proxy", (Tampering,), {"upstream": m1.url, "offer": [lambda p: p]})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = f"http://127.0.0.1:{server.server_address[1]}"
    key = write_key(network.work / "m2-mag.key", keys["m2"])
    receive = (
        "--db", m2.db, "consortium", "receive", "--consortium", str(network.consortium_dir),
        "--facility", "m2-MAG", "--key", str(key), "--endpoint", f"m1={proxy}", "--json",
    )  # fmt: skip
    try:
        for i, (name, mutation, reason) in enumerate(cases):
            before, checkpoint = database_dump(m2.db), m2.checkpoint()
            handler.offer = [mutation]
            if i == len(cases) // 2:  # one through the command itself, in its own process
                done = cli(*receive)
                assert done.returncode == 8, (name, done.stdout, done.stderr)
                assert "Traceback" not in done.stderr, (name, done.stderr)
                got = json.loads(done.stdout)["received"]
            else:  # the others through the same code in this process (an exception fails the test)
                got, _ = m2.receive(network.consortium_dir, "m2-MAG", keys["m2"], {"m1": proxy})
            [refused] = [r for r in got if r["exporter"] == "m1"]
            assert refused["status"] == "refused" and reason in refused["detail"], (name, refused)
            assert database_dump(m2.db) == before, name
            assert m2.checkpoint() == checkpoint, name
        # the genuine certificate through the same proxy: imported, and confirmed to the exporter
        handler.offer = [lambda p: p]
        got, sent = m2.receive(network.consortium_dir, "m2-MAG", keys["m2"], {"m1": proxy})
        assert [(r["certificate"], r["status"]) for r in got] == [(mine, "imported")]
        assert [c["status"] for c in sent] == ["recorded"]
    finally:
        server.shutdown()
