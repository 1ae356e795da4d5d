"""The competitor: a participant (and the public) probing another participant's lots, events and ids
through every route that takes one. About a lot or transfer the caller may not see — held, shipped,
in transit, received, consumed, certified together with one of the caller's, or missing — every
answer must be indistinguishable from the answer about an id that does not exist: the same status,
the same headers, and the same body once the probed id is swapped for the missing one (the missing id
has the same length, so even ``content-length`` must agree). Refusals of validly signed events must
read the same too, and the secretariat still gets the full detail.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from raretrace.custody.namespaces import namespaced
from raretrace.ledger.id_policy import require_namespaced_ids
from raretrace.ledger.scripted import lot
from raretrace.store.schema import events
from tests.chain_fixtures import snapshot
from tests.test_server_support import (
    JP_CONC,
    JP_MAGNET,
    JP_METAL,
    JP_OXIDE,
    US_MAGNET,
    ServerWorld,
    assert_problem,
    server_world,
)

ORE = {"Nd": 0.2, "Pr": 0.05, "other": 0.5}
# every id in its maker's namespace (custody/namespaces.py), as a registry requires by default
CN_A, CN_B = (namespaced("lot", "CN-MINE", n) for n in ("a", "b"))  # certified together, then split
CN_T = namespaced("lot", "CN-MINE", "t")  # in transit CN-MINE -> JP-MAG
CN_R = namespaced("lot", "CN-MINE", "r")  # CN-MINE -> JP-MAG, then JP-MAG -> US-MAG in transit
CN_S = namespaced("lot", "CN-MINE", "s")  # CN-MINE -> JP-MAG, then JP-MAG -> US-MAG, received
CN_OWN_EVENT = namespaced("event", "CN-MINE", "extract-0001")
CN_OWN_LOT = namespaced("lot", "CN-MINE", "ore-0001")
JP_OWN_LOT = namespaced("lot", "JP-MAG", "magnet-0001")


def probe_event(facility: str) -> str:
    """The event id a probe of ``facility`` uses (in its own namespace, so the probe reaches the
    custody checks; it is refused there and never recorded)."""
    return namespaced("event", facility, "probe-000001")


def probe_out(facility: str) -> str:
    return namespaced("lot", facility, "probe-out")


@dataclass
class Arena:
    w: ServerWorld
    transit_event: str  # CN-MINE -> JP-MAG, not yet received
    relay_event: str  # JP-MAG -> US-MAG (CN_R), not yet received
    certificate: str  # number of the certificate of CN_A and CN_B


def _transfer(w: ServerWorld, sender: str, receiver: str, lot_id: str, *, receive: bool) -> str:
    event_id = w.chain.next_id(sender, "transfer")
    envelopes = [w.chain.envelope(sender, "transfer", event_id=event_id, to=receiver, lots=[lot_id])]
    if receive:
        envelopes.append(w.chain.envelope(receiver, "receive", transfer_event=event_id, lots=[lot_id]))
    w.registry.append(envelopes)
    return event_id


def build_arena(path: Path) -> Arena:
    w = server_world(f"sqlite:///{path / 'registry.db'}")
    w.chain.record(
        "CN-MINE",
        "extract",
        deposit="test",
        outputs=[lot(x, "concentrate", 100.0, ORE) for x in (CN_A, CN_B, CN_T, CN_R, CN_S)],
    )
    issued = w.client.post("/api/v1/certificates", json={"lots": [CN_A, CN_B]}, headers=w.as_("cn"))
    assert issued.status_code == 201, issued.text
    number = issued.json()["credential"]["credentialSubject"]["certificateNumber"]
    _transfer(w, "CN-MINE", "JP-MAG", CN_A, receive=True)
    _transfer(w, "CN-MINE", "US-MAG", CN_B, receive=True)
    transit = _transfer(w, "CN-MINE", "JP-MAG", CN_T, receive=False)
    _transfer(w, "CN-MINE", "JP-MAG", CN_R, receive=True)
    relay = _transfer(w, "JP-MAG", "US-MAG", CN_R, receive=False)
    _transfer(w, "CN-MINE", "JP-MAG", CN_S, receive=True)
    _transfer(w, "JP-MAG", "US-MAG", CN_S, receive=True)
    w.chain.record(
        "CN-MINE",
        "extract",
        event_id=CN_OWN_EVENT,
        deposit="test",
        outputs=[lot(CN_OWN_LOT, "ore", 50.0, ORE)],
    )
    return Arena(w, transit, relay, number)


@pytest.fixture(name="arena", scope="module")
def arena_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    arena = build_arena(tmp_path_factory.mktemp("arena"))
    yield arena
    arena.w.client.close()


def missing_like(real: str) -> str:
    """An id of the same length and shape that names nothing."""
    prefix = real.rsplit(":", 1)[0] + ":"
    return prefix + "q" * (len(real) - len(prefix))


def making(
    a: Arena, facility: str, event_id: str, input_lot: str, output_id: str, form: str = "metal"
) -> bytes:
    """``facility`` making lot ``output_id`` of 1 kg of ``input_lot`` in event ``event_id`` (signed)."""
    return a.w.chain.envelope(
        facility,
        "process",
        event_id=event_id,
        stage="magnet",
        inputs=[{"lot": input_lot, "mass_kg": 1.0}],
        outputs=[lot(output_id, form, 0.5, {"Nd": 0.1})],
    )


#: What a probe sends: (method, path, request keyword arguments), built from the probed id.
Probe = tuple[str, str, dict[str, Any]]


def lot_probes(a: Arena, who: str, lot_id: str) -> list[Probe]:
    """Every route that takes a lot id, as ``who``'s own facility would use it."""
    facility = {"us": "US-MAG", "jp": "JP-MAG"}[who]
    other = {"us": "JP-MAG", "jp": "US-MAG"}[who]
    events = [
        making(a, facility, probe_event(facility), lot_id, probe_out(facility)),
        a.w.chain.envelope(facility, "transfer", event_id=probe_event(facility), to=other, lots=[lot_id]),
    ]
    web = {"cookies": {"raretrace_session": a.w.tokens[who]}}
    return [
        ("get", f"/api/v1/lots/{lot_id}", {}),
        ("get", f"/api/v1/lots/{lot_id}/trace", {}),
        ("get", f"/api/v1/lots/{lot_id}/trace?direction=down", {}),
        ("get", f"/api/v1/lots/{lot_id}/trace?direction=up&max_paths=5", {}),
        ("get", f"/api/v1/lots/{lot_id}/certificates", {}),
        ("post", "/api/v1/check", {"json": {"lots": [lot_id]}}),
        ("post", "/api/v1/certificates", {"json": {"lots": [lot_id]}}),
        *(("post", "/api/v1/events", {"content": e}) for e in events),
        *(
            (
                "post",
                "/api/v1/events/batch",
                {"content": e + b"\n", "headers": {"Content-Type": "application/x-ndjson"}},
            )
            for e in events
        ),
        ("get", f"/lots/{lot_id}", web),
        ("post", "/submit", {**web, "data": {"envelopes": events[0].decode()}}),
    ]


def event_probes(a: Arena, who: str, event_id: str, lot_id: str) -> list[Probe]:
    """Every route that takes a transfer event id."""
    facility = {"us": "US-MAG", "jp": "JP-MAG"}[who]
    receive = a.w.chain.envelope(
        facility, "receive", event_id=probe_event(facility), transfer_event=event_id, lots=[lot_id]
    )
    return [
        ("post", "/api/v1/events", {"content": receive}),
        ("post", "/api/v1/certificates", {"json": {"transfer": event_id}}),
    ]


def ask(a: Arena, who: str | None, probe: Probe) -> Any:
    method, path, kwargs = probe
    kwargs = dict(kwargs)
    if who is not None and "cookies" not in kwargs:
        kwargs["headers"] = {**kwargs.get("headers", {}), **a.w.as_(who)}
    if "cookies" in kwargs:  # the web pages' session
        a.w.client.cookies.set("raretrace_session", kwargs.pop("cookies")["raretrace_session"])
    try:
        return getattr(a.w.client, method)(path, **kwargs)
    finally:
        a.w.client.cookies.clear()


def same_answer(theirs: Any, missing: Any, real: str, fake: str, probe: Probe) -> None:
    """Status, headers and body equal once the real id reads as the fake one."""
    where = f"{probe[0].upper()} {probe[1]}"
    assert theirs.status_code == missing.status_code, (where, theirs.text, missing.text)
    assert theirs.status_code < 500, (where, theirs.text)
    strip = {"date"}
    assert {k: v for k, v in theirs.headers.items() if k not in strip} == {
        k: v for k, v in missing.headers.items() if k not in strip
    }, where
    assert echo_removed(theirs.text).replace(real, fake) == echo_removed(missing.text), where


def echo_removed(text: str) -> str:
    """A form page without the echo of what was typed into it (the envelope, in base64)."""
    return re.sub(r"<textarea([^>]*)>.*?</textarea>", r"<textarea\1></textarea>", text, flags=re.S)


# who probes what: ids the prober may not see, by the state the lot is in
NOT_VISIBLE = {
    "us": {
        "held": JP_MAGNET,
        "shipped and received": JP_METAL,
        "consumed": JP_CONC,
        "in transit": CN_T,
        "certified together with one of ours": CN_A,
        "another's intermediate": JP_OXIDE,
    },
    "jp": {"held": US_MAGNET, "certified together with one another holds": CN_B},
}


@pytest.mark.parametrize(
    ("who", "state"), [(who, state) for who, lots in NOT_VISIBLE.items() for state in lots]
)
def test_another_participants_lot_reads_as_missing_on_every_route(arena: Arena, who: str, state: str) -> None:
    real = NOT_VISIBLE[who][state]
    fake = missing_like(real)
    before = snapshot(arena.w.registry)
    for theirs_probe, missing_probe in zip(
        lot_probes(arena, who, real), lot_probes(arena, who, fake), strict=True
    ):
        theirs = ask(arena, who, theirs_probe)
        missing = ask(arena, who, missing_probe)
        same_answer(theirs, missing, real, fake, theirs_probe)
    assert snapshot(arena.w.registry) == before


@pytest.mark.parametrize("who", ["us", "jp"])
def test_the_public_learns_nothing_either(arena: Arena, who: str) -> None:
    real = NOT_VISIBLE[who]["held"]
    fake = missing_like(real)
    for theirs_probe, missing_probe in zip(
        lot_probes(arena, who, real), lot_probes(arena, who, fake), strict=True
    ):
        if "cookies" in theirs_probe[2]:
            continue  # the pages ask the public to log in, whatever the id
        same_answer(ask(arena, None, theirs_probe), ask(arena, None, missing_probe), real, fake, theirs_probe)


def test_another_participants_transfer_reads_as_missing(arena: Arena) -> None:
    """US-MAG answering CN's shipment to JP (in transit) is told what it would be told of no shipment."""
    fake = missing_like(arena.transit_event)
    before = snapshot(arena.w.registry)
    for theirs_probe, missing_probe in zip(
        event_probes(arena, "us", arena.transit_event, CN_T),
        event_probes(arena, "us", fake, CN_T),
        strict=True,
    ):
        theirs, missing = ask(arena, "us", theirs_probe), ask(arena, "us", missing_probe)
        same_answer(theirs, missing, arena.transit_event, fake, theirs_probe)
        assert theirs.status_code == 404
    assert snapshot(arena.w.registry) == before


def test_the_refusal_names_no_other_party(arena: Arena) -> None:
    """CN shipped CN_R to JP, which shipped it on to US: CN may see the lot, but a refusal to spend
    it says neither who holds it nor where it is going; the secretariat is told both."""
    event = arena.w.chain.envelope(
        "CN-MINE",
        "transfer",
        event_id=probe_event("CN-MINE"),
        to="CN-SEP",
        lots=[CN_R],
    )
    told = assert_problem(
        arena.w.client.post("/api/v1/events", content=event, headers=arena.w.as_("cn")), 409
    )
    assert "JP-MAG" not in told["detail"] and "US-MAG" not in told["detail"], told
    assert told["detail"].endswith(f"lot {CN_R} is not held by CN-MINE"), told
    # the same words whether the lot stayed with JP or moved on again (CN_S: received by US)
    stayed = arena.w.chain.envelope(
        "CN-MINE", "transfer", event_id=probe_event("CN-MINE"), to="CN-SEP", lots=[CN_S]
    )
    other = assert_problem(
        arena.w.client.post("/api/v1/events", content=stayed, headers=arena.w.as_("cn")), 409
    )
    assert other["detail"].replace(CN_S, CN_R) == told["detail"]
    # the parties of the shipment under way are told in full
    jp_event = arena.w.chain.envelope(
        "JP-MAG", "transfer", event_id=probe_event("JP-MAG"), to="US-MAG", lots=[CN_R]
    )
    jp = assert_problem(
        arena.w.client.post("/api/v1/events", content=jp_event, headers=arena.w.as_("jp")), 409
    )
    assert f"lot {CN_R} is in transit to US-MAG" in jp["detail"]


def test_the_secretariat_and_the_audit_log_get_the_full_detail(
    arena: Arena, caplog: pytest.LogCaptureFixture
) -> None:
    event = making(arena, "US-MAG", probe_event("US-MAG"), JP_MAGNET, probe_out("US-MAG"))
    with caplog.at_level("INFO", logger="raretrace.audit"):
        told = assert_problem(
            arena.w.client.post("/api/v1/events", content=event, headers=arena.w.as_("us")), 404
        )
    assert told["detail"].endswith(f"lot {JP_MAGNET} does not exist")
    assert f"lot {JP_MAGNET} is held by JP-MAG, not by US-MAG" in caplog.text
    full = arena.w.client.post("/api/v1/events", content=event, headers=arena.w.as_("secretariat"))
    assert "is held by JP-MAG, not by US-MAG" in assert_problem(full, 409)["detail"]


# --- custody and certificates shown only as far as the caller took part -----------------------------


def web_get(arena: Arena, who: str, path: str) -> Any:
    """A page as participant ``who``'s browser gets it (its session cookie)."""
    arena.w.client.cookies.set("raretrace_session", arena.w.tokens[who])
    try:
        return arena.w.client.get(path)
    finally:
        arena.w.client.cookies.clear()


def _listed(arena: Arena, who: str) -> dict[str, dict[str, Any]]:
    page = arena.w.client.get("/api/v1/lots?limit=1000", headers=arena.w.as_(who)).json()
    return {row["id"]: row for row in page["lots"]}


def test_a_lot_that_moved_on_shows_no_later_custody(arena: Arena) -> None:
    cn = _listed(arena, "cn")
    for moved_on in (CN_R, CN_S, JP_METAL):  # JP shipped CN_R and CN_S on; JP holds the metal
        row = cn[moved_on]
        assert (row["custodian"], row["in_transit_to"], row["remaining_kg"]) == ("hidden", "hidden", None), (
            row
        )
    assert cn[CN_T]["custodian"] == "CN-MINE" and cn[CN_T]["in_transit_to"] == "JP-MAG"  # its own shipment
    shown = arena.w.client.get(f"/api/v1/lots/{CN_R}", headers=arena.w.as_("cn")).json()
    assert shown["lot"]["custodian"] == "hidden" and shown["lot"]["in_transit_to"] == "hidden"
    assert [(t["from"], t["to"]) for t in shown["transfers"]] == [("CN-MINE", "JP-MAG")]
    assert "US-MAG" not in str(shown)
    page = web_get(arena, "cn", f"/lots/{CN_R}")
    assert page.status_code == 200 and "US-MAG" not in page.text and 'id="custody-hidden"' in page.text
    listing = web_get(arena, "cn", "/lots")
    assert listing.status_code == 200 and "US-MAG" not in listing.text
    # the parties of now see it all
    jp = arena.w.client.get(f"/api/v1/lots/{CN_R}", headers=arena.w.as_("jp")).json()
    assert jp["lot"]["custodian"] == "JP-MAG" and jp["lot"]["in_transit_to"] == "US-MAG"
    auditor = _listed(arena, "auditor")
    assert auditor[CN_S]["custodian"] == "US-MAG"


def test_a_trace_shows_no_later_custody(arena: Arena) -> None:
    down = arena.w.client.get(f"/api/v1/lots/{JP_CONC}/trace?direction=down", headers=arena.w.as_("cn"))
    lots = down.json()["lots"]
    assert lots[JP_METAL]["custodian"] == "hidden"
    assert "JP-MAG" not in down.text


def test_a_certificate_names_only_the_lots_the_caller_may_see(arena: Arena) -> None:
    number = arena.certificate
    us = arena.w.client.get(f"/api/v1/certificates/{number}", headers=arena.w.as_("us")).json()
    assert us["lots"] == ["hidden-1", CN_B] and us["credential"] is None and us["credential_withheld"]
    assert CN_A not in str(us)
    listed = arena.w.client.get(f"/api/v1/lots/{CN_B}/certificates", headers=arena.w.as_("us")).json()
    assert listed["certificates"][0]["lots"] == ["hidden-1", CN_B]
    page = web_get(arena, "us", f"/lots/{CN_B}")
    assert page.status_code == 200 and CN_A not in page.text
    cn = arena.w.client.get(f"/api/v1/certificates/{number}", headers=arena.w.as_("cn")).json()
    assert cn["lots"] == [CN_A, CN_B] and cn["credential"]["credentialSubject"]


# --- ids: a competitor can neither probe nor squat ids in another's namespace ----------------------


def creation_probes(a: Arena, lot_id: str, event_id: str) -> list[Probe]:
    """JP-MAG creating ``lot_id`` (a magnet made of its own magnet) in an event ``event_id``, alone and
    followed in its batch by an event that is refused anyway (a probe that writes nothing either way)."""
    create = making(a, "JP-MAG", event_id, JP_MAGNET, lot_id, form="magnet")
    doomed = a.w.chain.envelope(
        "JP-MAG", "transfer", event_id=probe_event("JP-MAG"), to="US-MAG", lots=[NOWHERE]
    )
    web = {"cookies": {"raretrace_session": a.w.tokens["jp"]}}
    ndjson = {"Content-Type": "application/x-ndjson"}
    return [
        ("post", "/api/v1/events/batch", {"content": create + b"\n" + doomed + b"\n", "headers": ndjson}),
        ("post", "/api/v1/events", {"content": create}),
        ("post", "/submit", {**web, "data": {"envelopes": create.decode()}}),
    ]


NOWHERE = namespaced("lot", "CN-MINE", "nowhere-at-all")
JP_NEW_EVENT = namespaced("event", "JP-MAG", "probe-0001")


@pytest.mark.parametrize(
    ("kind", "real"),
    [
        ("lot", CN_OWN_LOT),  # another's lot id
        ("lot", CN_OWN_LOT.replace("CN-MINE", "cn-mine")),  # the same, spelt in lower case
        ("event", CN_OWN_EVENT),  # another's event id
    ],
)
def test_creating_an_id_in_anothers_namespace_reads_the_same_whether_it_exists(
    arena: Arena, kind: str, real: str
) -> None:
    """Before namespaces, JP-MAG reusing CN-MINE's lot or event id was told "already exists" (409),
    and a free id was accepted — or, inside a batch that fails anyway, refused further on: a free
    probe of which ids CN-MINE has used. Now the refusal depends on the id's text only."""
    fake = missing_like(real)

    def probes(object_id: str) -> list[Probe]:
        if kind == "lot":
            return creation_probes(arena, object_id, JP_NEW_EVENT)
        return creation_probes(arena, JP_OWN_LOT, object_id)

    before = snapshot(arena.w.registry)
    for theirs_probe, missing_probe in zip(probes(real), probes(fake), strict=True):
        theirs, missing = ask(arena, "jp", theirs_probe), ask(arena, "jp", missing_probe)
        assert theirs.status_code == 403, (theirs_probe[1], theirs.text)
        same_answer(theirs, missing, real, fake, theirs_probe)
    assert snapshot(arena.w.registry) == before


def registration_event(a: Arena, facility: str) -> str:
    """The id of the secretariat's act registering ``facility``: an open id (``urn:uuid:…``) that is taken."""
    with a.w.registry.engine.connect() as conn:
        return str(
            conn.execute(
                select(events.c.event_id).where(
                    events.c.kind == "register_facility", events.c.facility_id == facility
                )
            ).scalar_one()
        )


def test_a_taken_open_id_reads_as_a_free_one_on_a_default_registry(arena: Arena) -> None:
    """The arena is a registry made with the defaults: an id outside every namespace is refused from
    its text alone, so JP-MAG learns nothing by reusing an open id that is taken (CN-MINE's
    registration, the secretariat's act) rather than a free one of the same shape."""
    real = registration_event(arena, "CN-MINE")
    fake = missing_like(real)
    before = snapshot(arena.w.registry)
    for theirs_probe, missing_probe in zip(
        creation_probes(arena, JP_OWN_LOT, real), creation_probes(arena, JP_OWN_LOT, fake), strict=True
    ):
        theirs, missing = ask(arena, "jp", theirs_probe), ask(arena, "jp", missing_probe)
        assert theirs.status_code == 403, (theirs_probe[1], theirs.text)
        same_answer(theirs, missing, real, fake, theirs_probe)
    assert snapshot(arena.w.registry) == before


def test_a_legacy_registry_leaks_taken_ids_until_switched(tmp_path: Path) -> None:
    """What ``init --open-ids`` costs (docs/security.md), and ``require-namespaced-ids`` ends: before
    the switch JP-MAG's batch reusing CN-MINE's open lot id is refused as a duplicate (409) while a
    free id passes to the doomed event after it (404); after it, both are the same 403."""
    legacy = Arena(server_world(f"sqlite:///{tmp_path / 'legacy.db'}", open_ids=True), "", "", "")
    real = "urn:raretrace:lot:cn-legacy-0001"
    legacy.w.chain.record("CN-MINE", "extract", deposit="test", outputs=[lot(real, "ore", 5.0, ORE)])
    fake = missing_like(real)
    batch = 0  # creation_probes' first: the batch with a doomed event after the creation
    try:
        leaked = [
            ask(legacy, "jp", creation_probes(legacy, object_id, JP_NEW_EVENT)[batch]).status_code
            for object_id in (real, fake)
        ]
        assert leaked == [409, 404]
        require_namespaced_ids(legacy.w.registry)
        before = snapshot(legacy.w.registry)
        for theirs_probe, missing_probe in zip(
            creation_probes(legacy, real, JP_NEW_EVENT),
            creation_probes(legacy, fake, JP_NEW_EVENT),
            strict=True,
        ):
            theirs, missing = ask(legacy, "jp", theirs_probe), ask(legacy, "jp", missing_probe)
            assert theirs.status_code == 403, (theirs_probe[1], theirs.text)
            same_answer(theirs, missing, real, fake, theirs_probe)
        assert snapshot(legacy.w.registry) == before
    finally:
        legacy.w.client.close()


def test_a_duplicate_of_ones_own_id_is_still_refused_as_one(arena: Arena) -> None:
    """Inside its own namespace a producer is told of its own duplicates (they are its own ids)."""
    event = arena.w.chain.envelope(
        "CN-MINE", "extract", deposit="test", outputs=[lot(CN_OWN_LOT, "ore", 1.0, ORE)]
    )
    told = assert_problem(
        arena.w.client.post("/api/v1/events", content=event, headers=arena.w.as_("cn")), 409
    )
    assert told["detail"].endswith(f"lot {CN_OWN_LOT} already exists"), told


# --- timing: the refusal about another's lot costs what the refusal about no lot costs -------------


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine's connections run, as SQLite traces it (with its values).

    A SQLAlchemy ``connect`` listener installs SQLite's own trace callback on each new connection:
    ``before_cursor_execute`` would miss the statements the store runs on the raw DB-API cursor
    (store/raw.py). The pool is emptied on the way in and out so that exactly the connections made
    in between are traced."""
    seen: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(seen.append)

    event.listen(engine, "connect", trace)
    engine.dispose()
    try:
        yield seen
    finally:
        event.remove(engine, "connect", trace)
        engine.dispose()


def all_probes(a: Arena) -> Iterator[tuple[str, Probe, Probe, str, str]]:
    """(who, probe of another's id, the same probe of a missing id, the real id, the missing id)."""
    for who, states in NOT_VISIBLE.items():
        for real in states.values():
            fake = missing_like(real)
            for theirs, missing in zip(lot_probes(a, who, real), lot_probes(a, who, fake), strict=True):
                yield who, theirs, missing, real, fake
    fake = missing_like(a.transit_event)
    for theirs, missing in zip(
        event_probes(a, "us", a.transit_event, CN_T), event_probes(a, "us", fake, CN_T), strict=True
    ):
        yield "us", theirs, missing, a.transit_event, fake


def test_both_refusals_run_the_same_statements(arena: Arena) -> None:
    """Deterministic half of "comparable timing": the same statements, in the same order, with the
    probed id swapped for the missing one. (Before, a lot that exists but may not be seen cost one
    query more — its transfers — on every route: a timing oracle.)"""
    engine = arena.w.registry.engine
    for who, theirs_probe, missing_probe, real, fake in all_probes(arena):
        with statements(engine) as theirs:
            ask(arena, who, theirs_probe)
        with statements(engine) as missing:
            ask(arena, who, missing_probe)
        where = f"{who}: {theirs_probe[0].upper()} {theirs_probe[1]}"
        assert len(theirs) >= 2, where  # the trace saw the request's queries at all
        assert [in_lists_sorted(s.replace(real, fake)) for s in theirs] == [
            in_lists_sorted(s) for s in missing
        ], where


def in_lists_sorted(sql: str) -> str:
    """The statement with the values of each ``IN (…)`` list in sorted order: the store sorts the ids
    it looks up, and the missing id does not sort where the probed one does."""
    return re.sub(r"IN \(([^()]*)\)", lambda m: f"IN ({', '.join(sorted(m.group(1).split(', ')))})", sql)


@pytest.mark.parametrize("route", ["lot", "submission"])
def test_both_refusals_take_comparable_time(arena: Arena, route: str) -> None:
    """The median time of many requests about another's lot and about a missing one, interleaved so
    that the machine's load falls on both alike; the band (0.5-2) is wide enough for a busy 2-core
    machine and far narrower than a difference a prober could use with few requests: it still
    cannot see sub-millisecond differences, which the statement test above pins down."""
    real = NOT_VISIBLE["us"]["held"]
    fake = missing_like(real)
    index = 0 if route == "lot" else 7  # GET /api/v1/lots/{id}, POST /api/v1/events (a process)
    theirs_probe, missing_probe = lot_probes(arena, "us", real)[index], lot_probes(arena, "us", fake)[index]
    timings: dict[str, list[float]] = {"theirs": [], "missing": []}
    for i in range(240):
        order = [("theirs", theirs_probe), ("missing", missing_probe)]
        for name, probe in order if i % 2 else order[::-1]:
            start = time.perf_counter()
            answer = ask(arena, "us", probe)
            timings[name].append(time.perf_counter() - start)
            assert answer.status_code == 404
    ratio = statistics.median(timings["theirs"]) / statistics.median(timings["missing"])
    assert 0.5 < ratio < 2.0, ratio
