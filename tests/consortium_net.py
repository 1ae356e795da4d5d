"""A consortium on loopback: member registries as separate ``raretrace serve`` processes, each on its
own PostgreSQL database, and the signed consortium file that names them.

Scale: ``members`` and the events each member records are parameters of ``Network``; the tests use
3 members and a few dozen events each so that they run in well under a minute.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

import raretrace
from raretrace.crypto.keys import Ed25519Signer, write_key_pair
from raretrace.custody.namespaces import namespaced
from raretrace.ledger import consortium as cs
from raretrace.ledger.participants import add_participant, issue_token
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.ledger.witnessing import witness_key
from raretrace.log.note import verifier_key_text
from raretrace.store.db import make_engine
from tests.conftest import PG_ADMIN_URL

SRC = str(Path(raretrace.__file__).resolve().parents[1])
ORE = {"La": 0.0222, "Ce": 0.0330, "Pr": 0.0029, "Nd": 0.0082, "other": 0.9337}


def now_text() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def write_key(path: Path, key: Ed25519Signer) -> Path:
    """The key's PEM file (what ``--key`` / ``--new-key`` options read)."""
    return write_key_pair(key, path)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``raretrace …`` in its own process, from this source tree."""
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "raretrace", *args],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


@dataclass
class Member:
    id: str
    country: str
    db: str
    chain: ScriptedChain
    token: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[str] | None = None
    log: Path | None = None

    @property
    def registry(self) -> Registry:
        return self.chain.registry

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, logs: Path) -> None:
        """Start the server; its stderr goes to a file (a pipe nobody reads could fill and block it)."""
        env = {**os.environ, "PYTHONPATH": SRC}
        self.log = logs / f"{self.id}-{self.port}.serve.log"
        with self.log.open("w") as err:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "raretrace",
                    "--db",
                    self.db,
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                stdout=subprocess.DEVNULL,
                stderr=err,
                text=True,
                env=env,
            )

    def wait_up(self, seconds: float = 180) -> None:
        """Until ``/checkpoint`` answers; a loaded machine can take a while to import the server."""
        assert self.process is not None
        deadline = time.monotonic() + seconds
        while True:
            try:
                if httpx.get(self.url + "/checkpoint", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                why = self.log.read_text()[-2000:] if self.log else ""
                raise RuntimeError(f"member {self.id} did not start: {why}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def try_submit(self, envelopes: list[bytes]) -> httpx.Response:
        """A batch through the member's API, as its secretariat."""
        body = {"envelopes": [base64.b64encode(e).decode() for e in envelopes]}
        return httpx.post(self.url + "/api/v1/events/batch", json=body, headers=self.auth, timeout=60)

    def submit(self, envelopes: list[bytes]) -> None:
        response = self.try_submit(envelopes)
        assert response.status_code == 201, response.text

    def mined(self, tag: str, i: int) -> str:
        """The id of this member's mine's ``i``-th ore lot of ``tag`` (in the mine's namespace)."""
        return namespaced("lot", f"{self.id}-MINE", f"{tag}-{i}")

    def extracts(self, count: int, tag: str) -> list[bytes]:
        return [
            self.chain.envelope(
                f"{self.id}-MINE",
                "extract",
                deposit=f"{self.id} deposit",
                outputs=[lot(self.mined(tag, i), "ore", 100.0 + i, ORE)],
            )
            for i in range(count)
        ]

    def checkpoint(self) -> str:
        return httpx.get(self.url + "/checkpoint", timeout=10).text

    def confirm_imports(self, consortium_dir: Path) -> tuple[int, list[dict[str, Any]], str]:
        """``raretrace consortium confirm-imports`` in its own process."""
        done = cli(
            "--db", self.db, "consortium", "confirm-imports", "--consortium", str(consortium_dir), "--json"
        )
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else [], done.stderr

    def round(self, consortium_dir: Path, endpoints: dict[str, str] | None = None) -> dict[str, Any]:
        """One witness round in this process (the CLI's code, without starting Python again)."""
        from raretrace.cli.witness import round_json
        from raretrace.ledger.consortium_fetch import load_directory
        from raretrace.ledger.witness_service import record_round, run_round
        from raretrace.times import utc_now

        members = load_directory(consortium_dir, utc_now())
        with httpx.Client(timeout=10) as client:
            result = run_round(self.registry, members, client, endpoints=endpoints)
        record_round(self.registry, result)
        return round_json(result)  # type: ignore[return-value]  # a JSON object, as round_json builds it

    def receive(
        self, consortium_dir: Path, facility: str, key: Ed25519Signer, endpoints: dict[str, str] | None = None
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """What ``raretrace consortium receive`` does, in this process: fetch, check, import, confirm."""
        from raretrace.ledger.confirmations import send_pending
        from raretrace.ledger.consortium_fetch import load_directory
        from raretrace.ledger.shipments import receive
        from raretrace.render.jsonable import jsonable
        from raretrace.times import utc_now

        members = load_directory(consortium_dir, utc_now())
        with httpx.Client(timeout=60) as client:
            got = receive(self.registry, members, client, facility=facility, signer=key, endpoints=endpoints)
            sent = send_pending(self.registry, members, client, endpoints=endpoints)
        return json.loads(json.dumps(jsonable(got))), json.loads(json.dumps(jsonable(sent)))

    def presentation_imported(self, certificate: str) -> dict[str, Any]:
        """The presentation of ``certificate`` as this member recorded it (its import event carries it)."""
        from raretrace.store.confirmations import import_events

        with self.registry.engine.connect() as conn:
            rows = import_events(conn)
        for row in rows:
            predicate = json.loads(base64.b64decode(json.loads(row.envelope)["payload"]))["predicate"]
            if predicate["certificate"]["credential"]["id"] == certificate:
                return dict(predicate["certificate"])
        raise AssertionError(f"{certificate} was not imported by {self.id}")

    def ship(self, importer: Member, count: int, tag: str) -> list[str]:
        """``count`` lots mined here and shipped to ``importer``'s magnet maker: extracts, transfers and
        receipts in one batch, then one certificate each through ``POST /api/v1/shipments``."""
        lots = [self.mined(tag, i) for i in range(count)]
        batch = self.extracts(count, tag)
        transfers = []
        for lot_id in lots:
            tid = self.chain.next_id(f"{self.id}-MINE", "transfer")
            transfers.append(tid)
            batch.append(
                self.chain.envelope(
                    f"{self.id}-MINE", "transfer", event_id=tid, to=f"{importer.id}-MAG", lots=[lot_id]
                )
            )
            batch.append(
                self.chain.envelope(f"{importer.id}-MAG", "receive", transfer_event=tid, lots=[lot_id])
            )
        self.submit(batch)
        certificates = []
        for tid in transfers:
            answer = httpx.post(
                self.url + "/api/v1/shipments", json={"transfer": tid}, headers=self.auth, timeout=60
            )
            assert answer.status_code == 201, answer.text
            certificates.append(str(answer.json()["credential"]["id"]))
        return certificates

    def witness(self, consortium_dir: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
        """``raretrace witness run --once`` in its own process."""
        done = cli(
            "--db", self.db, "witness", "run", "--consortium", str(consortium_dir), "--once", "--json", *extra
        )
        return done.returncode, json.loads(done.stdout) if done.stdout.strip() else {}, done.stderr


class Network:
    """Member databases (created here, dropped on close), registries, servers, the consortium file."""

    def __init__(self, work: Path, countries: list[str]) -> None:
        self.work = work
        self.tag = f"rt_net_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.databases: list[str] = []
        self.members = [self.new_member(f"m{i + 1}", c) for i, c in enumerate(countries)]
        self.board = [Ed25519Signer.generate() for _ in range(3)]
        self.consortium_dir = work / "consortium"
        self.consortium_dir.mkdir()
        self.versions: list[cs.Consortium] = []

    def database(self, name: str) -> str:
        full = f"{self.tag}_{name}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{full}"'))
        self.databases.append(full)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{full}"

    def new_member(
        self, mid: str, country: str, *, signer: Ed25519Signer | None = None, name: str | None = None
    ) -> Member:
        db = self.database(name or mid)
        registry = Registry.init(make_engine(db), f"registry.{mid}.example/log", signer=signer)
        chain = ScriptedChain(registry)
        chain.add_facility(f"{mid}-MINE", country=country, stages=["mining"])
        add_participant(registry.engine, "secretariat", "Secretariat", "secretariat")
        token = str(issue_token(registry.engine, "secretariat").token)
        return Member(mid, country, db, chain, token)

    def publish_version(self, version: cs.Consortium) -> None:
        doc = cs.document(version)
        for key in self.board[:2]:
            doc = cs.sign(doc, key)
        (self.consortium_dir / f"{version.version}.json").write_text(json.dumps(doc))
        self.versions.append(version)

    def found_consortium(self, quorum: int) -> cs.Consortium:
        """Version 1 (the board), then one version per member joining."""
        current = cs.create(
            "loopback-club", [k.public_key for k in self.board], 2, "2099-01-01T00:00:00Z", quorum
        )
        self.publish_version(current)
        for m in self.members:
            current = cs.add_member(
                current,
                {
                    "id": m.id,
                    "name": f"{m.id} registry",
                    "country": m.country,
                    "roles": ["registry", "witness"],
                    "status": "active",
                    "origin": m.registry.origin,
                    "endpoint": m.url,
                    "log_keys": [
                        {
                            "key": verifier_key_text(m.registry.origin, m.registry.signer.public_key),
                            "since": "2026-01-01T00:00:00Z",
                        }
                    ],
                    "witness_key": witness_key(m.registry),
                },
            )
            self.publish_version(current)
        return current

    def fork_of(self, m: Member, name: str) -> Member:
        """A copy of ``m``'s database as it stands (same origin, key and history) with a server of its
        own: a log that can go on with another history, to be shown to one peer (a split view). ``m``'s
        server is stopped while PostgreSQL copies the database, then started again."""
        m.stop()
        m.registry.engine.dispose()
        full = f"{self.tag}_{name}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{full}" TEMPLATE "{m.db.rsplit("/", 1)[1]}"'))
        self.databases.append(full)
        db = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{full}"
        chain = copy.copy(m.chain)  # the same facilities' keys
        chain.registry = Registry(make_engine(db))
        fork = Member(m.id, m.country, db, chain, m.token)
        self.members.append(fork)  # stopped and dropped with the others
        self.start([m, fork])
        return fork

    def start(self, members: list[Member] | None = None) -> None:
        for m in members or self.members:
            m.start(self.work)
        for m in members or self.members:
            m.wait_up()

    def open_trade(self) -> dict[str, Ed25519Signer]:
        """Every member registers every member's magnet maker (one key each, returned by member id) and
        trusts every other member's registry, all through the members' APIs."""
        keys = {m.id: Ed25519Signer.generate() for m in self.members}
        for m in self.members:
            m.submit(
                [
                    m.chain.facility_event(
                        f"{x.id}-MAG", country=x.country, stages=["magnet"], signer=keys[x.id]
                    )
                    for x in self.members
                ]
            )
            for x in self.members:
                if x is not m:
                    trusted = httpx.get(x.url + "/trusted-keys", timeout=10).json()
                    answer = httpx.post(
                        m.url + "/api/v1/trusted-registries",
                        json={"trusted_keys": trusted},
                        headers=m.auth,
                        timeout=10,
                    )
                    assert answer.status_code == 201, answer.text
        return keys

    def close(self) -> None:
        for m in self.members:  # all told to stop first, then waited for
            if m.process is not None and m.process.poll() is None:
                m.process.send_signal(signal.SIGTERM)
        for m in self.members:
            m.stop()
            m.registry.engine.dispose()
        with self.admin.connect() as conn:
            for name in self.databases:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@dataclass
class MonthOfTrade:
    """What ``month_of_trade`` did and how long each phase took (seconds, wall clock)."""

    members: int
    shipments: int
    confirmed: int
    reconciled_pairs: int
    phases: dict[str, float] = field(default_factory=dict)


Shipped = dict[str, tuple[str, str]]  # certificate id -> (exporter id, importer id)


def ship_among(exporters: list[Member], importers: list[Member], per_pair: int, tag: str) -> Shipped:
    """Every exporter ships ``per_pair`` certified lots to every other importer (one batch of events
    and ``per_pair`` ``POST /api/v1/shipments`` each); returns what was certified for whom."""
    shipped: Shipped = {}
    for exporter in exporters:
        for importer in importers:
            if importer is not exporter:
                for cid in exporter.ship(importer, per_pair, f"{tag}-to-{importer.id}"):
                    shipped[cid] = (exporter.id, importer.id)
    return shipped


def receive_at(
    network: Network, importers: list[Member], keys: dict[str, Ed25519Signer]
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Each importer's ``receive`` (fetch, check, import, confirm) by member id."""
    return {m.id: m.receive(network.consortium_dir, f"{m.id}-MAG", keys[m.id]) for m in importers}


def witness_rounds(network: Network, members: list[Member], rounds: int = 2) -> list[dict[str, Any]]:
    """``rounds`` witness rounds of every member in turn (two: a log keeps the cosignatures of the
    witnesses it trusts, learnt in its own round); every report asserted free of alarms."""
    reports = []
    for _ in range(rounds):
        for m in members:
            report = m.round(network.consortium_dir)
            assert report["ok"], (m.id, report["alarms"])
            reports.append(report)
    return reports


def confirmations_held(exporter: Member) -> list[str]:
    """The certificates whose import confirmation the exporter holds (its API, as its secretariat)."""
    held = httpx.get(exporter.url + "/api/v1/confirmations", headers=exporter.auth, timeout=30)
    assert held.status_code == 200, held.text
    return sorted(r["certificate"] for r in held.json())


def issued_by(shipped: Shipped, exporter: Member) -> list[str]:
    return sorted(cid for cid, (ex, _) in shipped.items() if ex == exporter.id)


def month_of_trade(network: Network, per_pair: int, *, quorum: int) -> MonthOfTrade:
    """The consortium's month over HTTP: every member ships ``per_pair`` certified lots to every other
    (``POST /api/v1/shipments``), every member fetches, checks, imports and confirms what waits for it
    (``ledger.shipments.receive``), everybody witnesses everybody to a quorum, and every pair's signed
    monthly statistics are reconciled. Asserts as it goes; returns counts and phase times."""
    from raretrace.ledger.member_stats import reconcile_signed, sign_monthly

    phases: dict[str, float] = {}
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        phases[name] = round(now - clock, 2)
        clock = now

    c = network.found_consortium(quorum=quorum)
    members = network.members
    network.start()
    lap("start servers")
    keys = network.open_trade()
    lap("register facilities, trust registries")
    shipped = ship_among(members, members, per_pair, "m")
    lap("ship (events, certificates)")
    for got, sent in receive_at(network, members, keys).values():
        assert sorted(g["status"] for g in got) == ["imported"] * (per_pair * (len(members) - 1)), got
        assert {s["status"] for s in sent} <= {"recorded", "already"}, sent
    lap("receive (fetch, check, import, confirm)")
    witness_rounds(network, members)
    lap("witness (2 rounds each)")
    for m in members:
        assert len(cs.cosigners(c, m.checkpoint())) >= c.witness_quorum, m.id
    confirmed = 0
    for exporter in members:
        held = confirmations_held(exporter)
        assert held == issued_by(shipped, exporter)
        confirmed += len(held)
    month = datetime.now(UTC).strftime("%Y-%m")
    signed = {m.id: sign_monthly(m.registry, month) for m in members}
    pairs = 0
    for exporter in members:
        for importer in members:
            if exporter is not importer:
                result = reconcile_signed(c, signed[exporter.id], signed[importer.id])
                assert result.agree and result.certificates == per_pair, result
                pairs += 1
    lap("statistics, reconciliation")
    return MonthOfTrade(len(members), len(shipped), confirmed, pairs, phases)


@contextmanager
def running_network(work: Path, countries: list[str]) -> Iterator[Network]:
    """A ``Network`` closed (servers stopped, databases dropped) however the block ends."""
    network = Network(work, countries)
    try:
        yield network
    finally:
        network.close()


def replay(
    victim: Member, importer: Member, certificate: str, key: Ed25519Signer, consortium_dir: Path
) -> None:
    """``importer``'s magnet maker (key ``key``) imports a certificate it imported already into ``victim``
    as well: ``victim`` cannot tell, and the exporter refuses its confirmation (exit 8)."""
    presentation = importer.presentation_imported(certificate)
    victim.submit(
        [
            victim.chain.envelope(
                f"{importer.id}-MAG", "import", certificate=presentation, time=now_text(), signer=key
            )
        ]
    )
    code, sent, err = victim.confirm_imports(consortium_dir)
    assert code == 8, err
    refused = [s for s in sent if s["status"] == "refused"]
    assert [s["certificate"] for s in refused] == [certificate], sent
    assert "replayed certificate" in refused[0]["detail"]


def reconcile_month(
    consortium: cs.Consortium, members: list[Member], per_pair: int, replayed: tuple[str, str, str]
) -> None:
    """Every pair's signed monthly statistics reconciled: ``per_pair`` certificates each, every pair in
    agreement but the exporter-importer pair of ``replayed`` (exporter id, importer id, certificate),
    whose one finding names that certificate and explains the whole difference."""
    from raretrace.ledger.member_stats import reconcile_signed, sign_monthly

    month = now_text()[:7]
    signed = {m.id: sign_monthly(m.registry, month) for m in members}
    for exporter in members:
        for importer in members:
            if exporter is importer:
                continue
            result = reconcile_signed(consortium, signed[exporter.id], signed[importer.id])
            assert result.certificates == per_pair, result
            assert not any(b.unexplained for b in result.by_form), result  # every difference named
            if (exporter.id, importer.id) == replayed[:2]:
                assert not result.agree and [f["certificate"] for f in result.findings] == [replayed[2]]
                assert [b.explained_by for b in result.by_form] == [(replayed[2],)]
            else:
                assert result.agree, result
