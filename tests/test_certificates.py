"""Shipment certificates: issued from the registry, verified offline step by step, and every kind of
tampering caught at the step that names it."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from raretrace.certify.credential import concealable
from raretrace.certify.disclosure import conceal, make_disclosure, parse_disclosure, reveal
from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.crypto.dataintegrity import add_proof
from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.multikey import did_key_verification_method
from raretrace.errors import NotFoundError, ValidationError
from raretrace.ledger.certificates import issue, revoke, status_list, trusted_keys
from raretrace.ledger.logview import add_cosignatures, add_witness, latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import US_CHAIN
from raretrace.log.cosignature import cosign, witness_key_text
from raretrace.log.note import split_note
from tests.chain_fixtures import snapshot
from tests.test_cli import Cli
from tests.test_compliance import two_chains

WITNESSES = ["w1.consortium.example/witness", "w2.consortium.example/witness"]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _cosigned(registry: Registry) -> list[str]:
    """Two witnesses cosign the newest checkpoint; returns their verifier keys."""
    keys = []
    note = latest_checkpoint(registry)
    text, _ = split_note(note)
    lines = []
    for name in WITNESSES:
        signer = Ed25519Signer.generate()
        keys.append(witness_key_text(name, signer.public_key))
        add_witness(registry, keys[-1])
        lines.append(cosign(text, name, signer, 1_764_000_000))
    add_cosignatures(registry, note + "".join(line + "\n" for line in lines))
    return keys


@pytest.fixture
def issued(db_url: str) -> tuple[Registry, dict[str, Any], TrustedKeys]:
    chain = two_chains(db_url)
    registry = chain.registry
    chain.ship("US-MAG", "JP-MAG", [US_CHAIN.magnet], hs_code="8505.11")
    _cosigned(registry)
    transfer = registry_transfer(registry)
    presentation = issue(registry, transfer=transfer, now=NOW).to_dict()
    return registry, presentation, TrustedKeys.from_dict(trusted_keys(registry))


def registry_transfer(registry: Registry) -> str:
    from sqlalchemy import select

    from raretrace.store import schema as t

    with registry.engine.connect() as conn:
        return str(
            conn.execute(
                select(t.events.c.event_id)
                .where(t.events.c.kind == "transfer")
                .order_by(t.events.c.seq.desc())
            )
            .scalars()
            .first()
        )


def check(presentation: dict[str, Any], trusted: TrustedKeys, **kw: Any) -> tuple[bool, str, str]:
    kw.setdefault("now", NOW + timedelta(days=1))
    kw.setdefault("witness_threshold", 2)
    report = verify_certificate(presentation, trusted, **kw)
    failed = report.failed()
    return report.ok, failed.name if failed else "", failed.detail if failed else ""


def resign(presentation: dict[str, Any], registry: Registry, change: Any) -> dict[str, Any]:
    """The issuer (or whoever holds its key) signs a changed credential: to reach the steps after the
    proof. The change is made on the revealed document, which is then concealed and signed again."""
    body = {k: v for k, v in presentation["credential"].items() if k != "proof"}
    revealed, _ = reveal(body, presentation["disclosures"])
    change(revealed)
    concealed, disclosures = conceal(
        revealed, lambda path: path[0] == "credentialSubject" and concealable(path[1:])
    )
    created = presentation["credential"]["proof"]["created"]
    method = did_key_verification_method(registry.signer.public_key)
    signed = add_proof(concealed, registry.signer, verification_method=method, created=created)
    return {"credential": signed, "disclosures": disclosures}


def test_a_certificate_verifies_offline_and_carries_the_kimberley_fields(issued: Any) -> None:
    registry, presentation, trusted = issued
    ok, step, detail = check(presentation, trusted, status_list=status_list(registry))
    assert ok, (step, detail)
    report = verify_certificate(presentation, trusted, witness_threshold=2, now=NOW)
    subject = report.shown["credentialSubject"]
    for field in (
        "title",
        "statement",
        "certificateNumber",
        "issuingAuthority",
        "dateOfIssue",
        "dateOfExpiry",
        "exporter",
        "importer",
    ):
        assert subject[field], field
    shipment = subject["shipment"]
    assert shipment["hsCode"] == "8505.11" and shipment["parcels"] == 1 and shipment["massKg"] == 800
    assert shipment["valueUsd"] == 75_000 and subject["certificateNumber"].startswith("US-2026-")
    assert subject["exporter"]["country"] == "US" and subject["importer"]["id"] == "JP-MAG"
    lot = shipment["lots"][0]
    assert lot["origin"]["Nd"]["location"]["separation"] == {"MY": 1.0}
    assert {v["regime"] for v in subject["compliance"]} >= {"us-dfars-252.225-7052", "consortium"}
    # each verdict says what it was judged for: the issue date, no end use stated
    assert {(v["asOf"], v["endUse"]) for v in subject["compliance"]} == {(NOW.date().isoformat(), None)}
    kinds = [e["kind"] for e in subject["logEvidence"]["events"]]
    assert sorted(kinds) == ["process", "register_facility", "register_facility", "transfer"]
    assert [s.ok for s in report.steps] == [True] * 7 + [None]  # no status list given: not checked


def test_hidden_fields_still_verify_and_a_changed_revealed_value_fails(issued: Any) -> None:
    _, presentation, trusted = issued
    hidden_names = {"exporter", "importer", "massKg", "valueUsd", "declaredValueUsd", "envelope"}
    kept = [d for d in presentation["disclosures"] if parse_disclosure(d)[0] not in hidden_names]
    shown = {"credential": presentation["credential"], "disclosures": kept}
    assert check(shown, trusted)[0]
    report = verify_certificate(shown, trusted, witness_threshold=2, now=NOW)
    assert "exporter" not in report.shown["credentialSubject"] and report.hidden == len(
        presentation["disclosures"]
    )
    # A revealed value changed by one byte: its digest no longer matches.
    for i, text in enumerate(presentation["disclosures"]):
        name, value = parse_disclosure(text)
        if name == "exporter":
            salt = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))[0]
            value = {**value, "name": value["name"][:-1] + chr(ord(value["name"][-1]) ^ 1)}
            forged = [
                *presentation["disclosures"][:i],
                make_disclosure(name, value, salt),
                *presentation["disclosures"][i + 1 :],
            ]
            ok, step, detail = check(
                {"credential": presentation["credential"], "disclosures": forged}, trusted
            )
            assert not ok and step == "disclosures" and "match no digest" in detail
            break
    else:
        pytest.fail("no exporter disclosure")


TAMPERING = [
    (
        "subject field",
        lambda p: p["credential"]["credentialSubject"]["shipment"].update(parcels=2),
        "credential proof",
    ),
    ("issuer", lambda p: p["credential"].update(validUntil="2099-01-01T00:00:00Z"), "credential proof"),
    (
        "proof bytes",
        lambda p: p["credential"]["proof"].update(
            proofValue=p["credential"]["proof"]["proofValue"][:-2]
            + ("1" if p["credential"]["proof"]["proofValue"][-2] != "1" else "2")
            + p["credential"]["proof"]["proofValue"][-1]
        ),
        "credential proof",
    ),
]


@pytest.mark.parametrize(("what", "change", "step"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_with_the_signed_credential_fails_at_the_proof(
    issued: Any, what: str, change: Any, step: str
) -> None:
    _, presentation, trusted = issued
    tampered = copy.deepcopy(presentation)
    change(tampered)
    ok, failed, detail = check(tampered, trusted)
    assert not ok and failed == step, detail


def test_unknown_issuer_and_too_few_witnesses(issued: Any) -> None:
    _, presentation, trusted = issued
    stranger = TrustedKeys({}, trusted.witnesses)
    assert check(presentation, stranger)[1:] == ("credential proof", check(presentation, stranger)[2])
    assert "unknown issuer" in check(presentation, stranger)[2]
    ok, step, detail = check(presentation, trusted, witness_threshold=3)
    assert not ok and step == "witnesses" and "fewer than the 3" in detail
    one_witness = TrustedKeys(trusted.issuers, dict(list(trusted.witnesses.items())[:1]))
    assert check(presentation, one_witness)[1] == "witnesses"


def test_a_checkpoint_from_another_log_fails_at_the_checkpoint(issued: Any) -> None:
    registry, presentation, trusted = issued
    # Another log: a different registry key signs a checkpoint with the same origin.
    foreign = Ed25519Signer.generate()
    from raretrace.log.checkpoint import Checkpoint, sign_checkpoint

    text, _ = split_note(presentation["credential"]["credentialSubject"]["logEvidence"]["checkpoint"])
    forged_note = sign_checkpoint(Checkpoint.parse(text), registry.origin, foreign)

    def swap(body: dict[str, Any]) -> None:
        body["credentialSubject"]["logEvidence"]["checkpoint"] = forged_note

    ok, step, detail = check(resign(presentation, registry, swap), trusted, witness_threshold=0)
    assert not ok and step == "checkpoint", detail

    def rename(body: dict[str, Any]) -> None:
        body["credentialSubject"]["logEvidence"]["log"] = "another.log.example/registry"

    ok, step, detail = check(resign(presentation, registry, rename), trusted)
    assert not ok and step == "checkpoint" and "not the issuer's log" in detail


def test_an_inclusion_proof_for_another_leaf_fails_at_inclusion(issued: Any) -> None:
    registry, presentation, trusted = issued

    def other_leaf(body: dict[str, Any]) -> None:
        events = body["credentialSubject"]["logEvidence"]["events"]
        events[0]["leafIndex"], events[1]["leafIndex"] = events[1]["leafIndex"], events[0]["leafIndex"]

    ok, step, detail = check(resign(presentation, registry, other_leaf), trusted)
    assert not ok and step == "inclusion", detail

    def flipped(body: dict[str, Any]) -> None:
        proof = body["credentialSubject"]["logEvidence"]["events"][0]["inclusionProof"]
        raw = bytearray(base64.b64decode(proof[0]))
        raw[0] ^= 1
        proof[0] = base64.b64encode(bytes(raw)).decode()

    assert check(resign(presentation, registry, flipped), trusted)[1] == "inclusion"


def test_certified_facts_must_equal_the_included_events(issued: Any) -> None:
    registry, presentation, trusted = issued

    def lie_about_the_lot(body: dict[str, Any]) -> None:
        body["credentialSubject"]["shipment"]["lots"][0]["form"] = "metal"

    ok, step, detail = check(resign(presentation, registry, lie_about_the_lot), trusted)
    assert not ok and step == "facts" and "form" in detail

    def lie_about_the_value(body: dict[str, Any]) -> None:
        body["credentialSubject"]["shipment"]["lots"][0]["declaredValueUsd"] = 1.0

    ok, step, detail = check(resign(presentation, registry, lie_about_the_value), trusted)
    assert not ok and step == "facts" and "value" in detail

    def lie_about_the_code(body: dict[str, Any]) -> None:
        body["credentialSubject"]["shipment"]["hsCode"] = "2805.30"

    ok, step, detail = check(resign(presentation, registry, lie_about_the_code), trusted)
    assert not ok and step == "facts" and "HS code" in detail


def test_dates_and_revocation(issued: Any) -> None:
    registry, presentation, trusted = issued
    ok, step, detail = check(presentation, trusted, now=NOW - timedelta(seconds=1))
    assert not ok and step == "validity" and "not yet valid" in detail
    ok, step, detail = check(presentation, trusted, now=NOW + timedelta(days=366))
    assert not ok and step == "validity" and "expired" in detail
    before = status_list(registry)
    number = presentation["credential"]["credentialSubject"]["certificateNumber"]
    revoke(registry, number, "shipment diverted")
    ok, step, detail = check(presentation, trusted, status_list=status_list(registry))
    assert not ok and step == "revocation" and "revoked" in detail
    assert check(presentation, trusted, status_list=before)[0]  # the old list did not know yet
    forged_list = copy.deepcopy(before)
    forged_list["credentialSubject"]["encodedList"] = status_list(registry)["credentialSubject"][
        "encodedList"
    ]
    assert check(presentation, trusted, status_list=forged_list)[1] == "revocation"
    with pytest.raises(ValidationError, match="already revoked"):
        revoke(registry, number, "again")
    with pytest.raises(NotFoundError):
        revoke(registry, "XX-0000", "nope")


def test_bad_requests_write_nothing(issued: Any) -> None:
    registry, _, _ = issued
    before = snapshot(registry)
    with pytest.raises(NotFoundError):
        issue(registry, transfer="urn:raretrace:event:nope")
    with pytest.raises(ValidationError, match="not a transfer"):
        issue(registry, transfer=_first_event(registry, "extract"))
    with pytest.raises(ValidationError, match="not both"):
        issue(registry)
    with pytest.raises(ValidationError, match="days"):
        issue(registry, lots=[US_CHAIN.magnet], valid_days=0)
    with pytest.raises(NotFoundError):
        issue(registry, lots=["urn:raretrace:lot:nope"])
    assert snapshot(registry) == before


def _first_event(registry: Registry, kind: str) -> str:
    from sqlalchemy import select

    from raretrace.store import schema as t

    with registry.engine.connect() as conn:
        return str(conn.execute(select(t.events.c.event_id).where(t.events.c.kind == kind)).scalars().first())


def test_cli_round_trip(
    issued: Any, db_url: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    registry, _, _ = issued
    cli = Cli(tmp_path, capsysbinary, db_url)
    cert, trusted, shown = tmp_path / "cert.json", tmp_path / "trusted.json", tmp_path / "shown.json"
    code, _, err = cli("certify", "--transfer", registry_transfer(registry), "--out", str(cert))
    assert code == 0, err
    assert cli("trusted-keys", "--out", str(trusted))[0] == 0
    code, out, _ = cli(
        "verify", str(cert), "--trusted-keys", str(trusted), "--witness-threshold", "2", db=False
    )
    assert code == 0 and b"1. credential proof: ok" in out and b"8. revocation: not checked" in out
    assert (
        cli("present", str(cert), "--hide", "exporter", "--hide", "value", "--out", str(shown), db=False)[0]
        == 0
    )
    data = json.loads(shown.read_text())
    assert not any(
        parse_disclosure(d)[0] in ("exporter", "envelope", "valueUsd") for d in data["disclosures"]
    )
    assert cli("verify", str(shown), "--trusted-keys", str(trusted), db=False)[0] == 0
    number = json.loads(cert.read_text())["credential"]["credentialSubject"]["certificateNumber"]
    assert cli("revoke", number, "--reason", "test")[0] == 0
    status = tmp_path / "status.json"
    assert cli("status-list", "--out", str(status))[0] == 0
    code, out, _ = cli(
        "verify", str(cert), "--trusted-keys", str(trusted), "--status-list", str(status), db=False
    )
    assert code == 6 and b"8. revocation: FAILED" in out
    code, _, err = cli("verify", str(tmp_path / "missing.json"), "--trusted-keys", str(trusted), db=False)
    assert code == 5 and "cannot read" in err
    code, _, err = cli("present", str(cert), "--hide", "everything", db=False)
    assert code == 2 and "hide" in err
    html, pdf = tmp_path / "cert.html", tmp_path / "cert.pdf"
    assert cli("render", str(shown), "--html", str(html), "--pdf", str(pdf), db=False)[0] == 0
    assert number in html.read_text() and "hidden by the holder" in html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF")
    assert cli("render", str(shown), db=False)[0] == 2


# --- selective disclosure on arbitrary documents -------------------------------------------------------

_members = st.text(alphabet="abcxyz_.", min_size=1, max_size=4).filter(lambda k: k not in ("_sd", "..."))
_documents = st.dictionaries(
    _members,
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_members, inner, max_size=3),
        max_leaves=12,
    ),
    max_size=4,
)


def _without(value: Any, hidden: set[tuple[Any, ...]], path: tuple[Any, ...] = ()) -> Any:
    """The document as a recipient should see it: every hidden path removed."""
    if isinstance(value, dict):
        return {k: _without(v, hidden, (*path, k)) for k, v in value.items() if (*path, k) not in hidden}
    if isinstance(value, list):
        return [_without(v, hidden, (*path, i)) for i, v in enumerate(value) if (*path, i) not in hidden]
    return value


def _scribble(value: Any) -> None:
    """Change every object and array in place (a copy must not share any with the signed document)."""
    if isinstance(value, dict):
        for item in value.values():
            _scribble(item)
        value["__scribbled__"] = True
    elif isinstance(value, list):
        for item in value:
            _scribble(item)
        value.append("__scribbled__")


@settings(max_examples=300, deadline=None)
@given(_documents, st.randoms(use_true_random=False))
def test_reveal_shows_exactly_what_was_not_hidden(document: dict[str, Any], rnd: Any) -> None:
    """Conceal random members and array elements (nested too), hand over a random choice of the
    disclosures (an inner one only with the one around it), and the recipient sees the document less
    what was withheld, counts each outermost withheld value once, and gets a copy of its own."""
    paths: list[tuple[Any, ...]] = []

    def concealable(path: tuple[Any, ...]) -> bool:
        if rnd.random() < 0.4:
            paths.append(path)
            return True
        return False

    concealed, disclosures = conceal(document, concealable)
    assert len(paths) == len(disclosures)
    withheld = {p for p in paths if rnd.random() < 0.5}
    hidden = {p for p in paths if any(p[: len(w)] == w for w in withheld)}  # with everything inside
    kept = [d for p, d in zip(paths, disclosures, strict=True) if p not in hidden]
    rnd.shuffle(kept)
    shown, count = reveal(concealed, kept)
    assert shown == _without(document, hidden)
    assert count == sum(1 for p in hidden if not any(p[: len(h)] == h for h in hidden - {p}))
    before = copy.deepcopy(concealed)
    _scribble(shown)
    assert concealed == before
    everything, none_hidden = reveal(concealed, disclosures)
    assert everything == document and none_hidden == 0


def test_reveal_refuses_what_does_not_fit() -> None:
    document = {"a": 1, "list": [1, 2], "inner": {"b": 2}}
    concealed, disclosures = conceal(document, lambda path: path in (("a",), ("list", 0), ("inner", "b")))
    by_name = {parse_disclosure(d)[0]: d for d in disclosures}
    element = by_name[None]
    with pytest.raises(ValidationError, match="given twice"):
        reveal(concealed, [element, element])
    with pytest.raises(ValidationError, match="match no digest"):
        reveal(concealed, [make_disclosure("a", 1)])
    twice = {**concealed, "again": {"_sd": concealed["_sd"]}}
    with pytest.raises(ValidationError, match="committed twice"):
        reveal(twice, [by_name["a"]])
    in_clear = {**concealed, "a": 1}
    with pytest.raises(ValidationError, match="also present in clear"):
        reveal(in_clear, [by_name["a"]])
    misplaced = {**concealed, "list": [{"...": concealed["_sd"][0]}, 2]}
    with pytest.raises(ValidationError, match="does not fit"):
        reveal(misplaced, [by_name["a"]])
    with pytest.raises(ValidationError, match="only sha-256"):
        reveal({**concealed, "_sd_alg": "sha-512"}, disclosures)


@pytest.mark.parametrize(
    "text",
    [
        "N1+HJS3PgvsJHXNSsqFgJcfz4RmvXPPqDDrW7eAD5Mg=",
        "",
        "YWI=",
        "YWI",  # missing padding
        "YWI==",  # too much padding
        "YW I=",
        "YWI=\n",
        "YW=I",
        "=YWI",
        "YWI-",  # base64url, not base64
        "é",
    ],
)
def test_inclusion_base64_decodes_as_b64decode_validate(text: str) -> None:
    """Step 5's strict fast path decodes exactly what b64decode(validate=True) decodes, and refuses
    exactly what it refuses (the lenient check still decides what strict mode turns away)."""
    from raretrace.certify.verify import _b64

    try:
        expected = base64.b64decode(text, validate=True)
    except ValueError:
        with pytest.raises(ValidationError, match="not base64"):
            _b64(text, "events[0].leafHash")
        return
    assert _b64(text, "events[0].leafHash") == expected


def test_inclusion_refuses_an_unhashable_proof_at_its_step(
    issued: tuple[Registry, dict[str, Any], TrustedKeys],
) -> None:
    """A list where a base64 string belongs cannot key the inclusion cache: it is checked uncached
    and fails at step 5 like any other malformed proof (and a good proof still passes after it)."""
    from raretrace.certify import verify as steps

    _, presentation, trusted = issued
    state = steps._State()
    steps._proof(presentation["credential"], trusted, state)
    steps._disclosures(presentation["credential"], presentation["disclosures"], state)
    steps._checkpoint(state, trusted)
    good = copy.deepcopy(state.evidence["events"])
    state.evidence["events"][0]["inclusionProof"] = [["not", "a", "string"]]
    with pytest.raises(ValidationError, match="base64") as info:
        steps._inclusion(state)
    assert info.value.field == "events[0].inclusionProof"
    state.evidence["events"] = good
    assert steps._inclusion(state)[0] is True
