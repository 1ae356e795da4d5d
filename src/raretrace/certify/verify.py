"""Offline verification of a shipment certificate, step by step (issue #4).

A customs officer holds the certificate (credential plus the disclosures the holder chose), a
trusted-keys file (issuer DIDs, their logs' names and keys, trusted witnesses) and, if they have it, the
issuer's status list. No network, no account. Each step below is reported with its number, whether it
passed and why; the certificate is good only if every step passes (revocation may be "not checked" when
no status list is given, and says so). Checks return a result object listing everything (DESIGN §7).

Steps:
1. credential proof — Data Integrity ``eddsa-jcs-2022`` by the issuer's did:key; the issuer must be trusted;
2. disclosures — every value shown matches a salted digest the issuer signed;
3. checkpoint — the log's signed note, by the trusted log key of that issuer (C2SP tlog-checkpoint);
4. witnesses — at least N cosignatures by trusted witnesses (C2SP tlog-cosignature);
5. inclusion — every event's leaf is in the checkpoint's tree (RFC 9162 §2.1.3.2);
6. facts — the certified parties, lots, masses and compositions equal those in the included events;
7. validity — ``validFrom`` <= now <= ``validUntil``;
8. revocation — the certificate's bit in the issuer's Bitstring Status List is clear.

Steps 1 and 2 share one walk over the credential (``disclosure.reveal_signed``): step 1 reveals the
disclosures while it prepares the credential for hashing and keeps the outcome, step 2 reports it.
Nothing revealed reaches the report unless the signature verified; if that walk fails, step 2 reveals
again on its own and reports the failure exactly as before.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from raretrace.certify.disclosure import reveal, reveal_signed
from raretrace.certify.status import decode_list, entry_index, is_set
from raretrace.crypto import b64
from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.dataintegrity import verify_proof
from raretrace.crypto.dsse import parse_envelope
from raretrace.crypto.multikey import DID_KEY_PREFIX, public_key_from_did_key, resolve_verification_method
from raretrace.custody.events import Event, RegisterFacility, Transfer, event_from_statement
from raretrace.errors import RaretraceError, ValidationError
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.log.checkpoint import Checkpoint, open_checkpoint
from raretrace.log.cosignature import parse_witness_key, verify_cosignature
from raretrace.log.merkle import ProvenNodes, leaf_hash, verify_inclusion
from raretrace.log.note import parse_verifier_key, split_note
from raretrace.model import Facility, LotSpec
from raretrace.times import parse_instant

STEPS = (
    "credential proof",
    "disclosures",
    "checkpoint",
    "witnesses",
    "inclusion",
    "facts",
    "validity",
    "revocation",
)


@dataclass(frozen=True)
class Step:
    number: int
    name: str
    ok: bool | None  # None: not checked (only revocation, without a status list)
    detail: str

    def to_dict(self) -> JSONObject:
        return {"step": self.number, "name": self.name, "ok": self.ok, "detail": self.detail}


@dataclass(frozen=True)
class Report:
    steps: tuple[Step, ...]
    # The credential as disclosed. It shares every object and array that holds no commitment with the
    # presentation's credential (copying them cost about 3% of a verification): read it, do not change it.
    shown: JSONObject = field(default_factory=dict)
    hidden: int = 0

    @property
    def ok(self) -> bool:
        return len(self.steps) == len(STEPS) and all(s.ok is not False for s in self.steps)

    def failed(self) -> Step | None:
        return next((s for s in self.steps if s.ok is False), None)

    def subject(self) -> JSONObject:
        """The disclosed ``credentialSubject`` (empty when the verification stopped before step 2)."""
        subject = self.shown.get("credentialSubject")
        return subject if isinstance(subject, dict) else {}

    def to_dict(self) -> JSONObject:
        return {
            "ok": self.ok,
            "steps": [s.to_dict() for s in self.steps],
            "hidden_fields": self.hidden,
            "certificate": self.shown.get("id"),
        }


@dataclass(frozen=True)
class TrustedKeys:
    """Issuer DID -> (log name, log verifier key); and witness keys by name."""

    issuers: Mapping[str, tuple[str, str]]
    witnesses: Mapping[str, str]

    @classmethod
    def from_dict(cls, data: object) -> TrustedKeys:
        """Parse and check a trusted-keys file (as ``raretrace trusted-keys`` writes it).

        Every key is parsed here, not at the first certificate: a registry stores what it trusts
        (``trust-registry``) only after this passes. An issuer must be a ``did:key``: the trust file
        binds no key to an issuer, so only an identifier that is its own key says which key may sign
        (an ``https://…#z6Mk…`` method would let any key speak for that URL). The log key must be the
        key of that log: a checkpoint's origin is its key's name.
        """
        if not isinstance(data, dict) or not isinstance(data.get("issuers"), list):
            raise ValidationError(
                "a trusted-keys file is an object with a list 'issuers'", field="trusted_keys"
            )
        issuers: dict[str, tuple[str, str]] = {}
        for i, item in enumerate(data["issuers"]):
            where = f"issuers[{i}]"
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("id", "log", "logKey")
            ):
                raise ValidationError("needs id, log and logKey strings", field=where)
            if not item["id"].startswith(DID_KEY_PREFIX) or "#" in item["id"]:
                raise ValidationError(f"the issuer {item['id']!r} is not a did:key", field=f"{where}.id")
            public_key_from_did_key(item["id"], field=f"{where}.id")
            try:
                log_key = parse_verifier_key(item["logKey"])
            except ValidationError as e:
                raise ValidationError(f"not a log verifier key: {e.message}", field=f"{where}.logKey") from e
            if log_key.name != item["log"]:
                raise ValidationError(
                    f"is the key of log {log_key.name!r}, not of log {item['log']!r}", field=f"{where}.logKey"
                )
            issuers[item["id"]] = (item["log"], item["logKey"])
        witnesses: dict[str, str] = {}
        listed = data.get("witnesses", [])
        if not isinstance(listed, list):
            raise ValidationError("must be a list of witness verifier keys", field="witnesses")
        for i, text in enumerate(listed):
            if not isinstance(text, str):
                raise ValidationError("must be a witness verifier key", field=f"witnesses[{i}]")
            try:
                witnesses[parse_witness_key(text).name] = text
            except ValidationError as e:
                raise ValidationError(
                    f"not a witness verifier key: {e.message}", field=f"witnesses[{i}]"
                ) from e
        return cls(issuers, witnesses)


def _b64(text: object, where: str) -> bytes:
    if not isinstance(text, str):
        raise ValidationError("must be base64", field=where)
    try:
        return b64.strict(text)
    except ValueError as e:  # binascii.Error, or a character beyond ASCII
        raise ValidationError(f"not base64: {e}", field=where) from e


_STRINGS = frozenset({str})


def _strict_hashes(texts: tuple[object, ...]) -> list[bytes] | None:
    """``_b64`` of each text when all are strings in strict base64, in one comprehension: an
    inclusion proof has a dozen. None when any is not (``_b64`` then names the one at fault)."""
    if not _STRINGS.issuperset(map(type, texts)):
        return None
    try:
        return [b64.strict(text) for text in texts]  # type: ignore[arg-type]  # all str: checked above (a set test mypy cannot follow)
    except ValueError:
        return None


@dataclass
class _State:
    """What each step leaves for the later ones (set in step order; a later step runs only when the
    earlier ones passed, so what it reads is there)."""

    credential: JSONObject = field(default_factory=dict)
    issuer: str = ""
    # step 1's reveal for step 2: (credential, disclosures, shown, hidden, count)
    revealed: tuple[JSONObject, list[str], JSONObject, int, int] | None = None
    shown: JSONObject = field(default_factory=dict)
    hidden: int = 0
    evidence: JSONObject = field(default_factory=dict)
    note: str = ""
    checkpoint: Checkpoint | None = None
    envelopes: dict[int, bytes] = field(default_factory=dict)


class StepFailedError(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def verify_certificate(
    presentation: Mapping[str, object],
    trusted: TrustedKeys,
    *,
    status_list: Mapping[str, object] | None = None,
    witness_threshold: int = 0,
    now: datetime | None = None,
) -> Report:
    """Run every step in order; stop at the first failure (later steps would build on it)."""
    moment = now or datetime.now(UTC)
    steps: list[Step] = []
    state = _State()
    credential = presentation.get("credential")
    disclosures = presentation.get("disclosures", [])
    checks: tuple[Callable[[], tuple[bool | None, str]], ...] = (
        lambda: _proof(credential, trusted, state, disclosures),
        lambda: _disclosures(state.credential, disclosures, state),
        lambda: _checkpoint(state, trusted),
        lambda: _witnesses(state, trusted, witness_threshold),
        lambda: _inclusion(state),
        lambda: _facts(state),
        lambda: _validity(state, moment),
        lambda: _revocation(state, status_list, trusted),
    )
    for number, (name, check) in enumerate(zip(STEPS, checks, strict=True), start=1):
        try:
            ok, detail = check()
        except StepFailedError as e:
            steps.append(Step(number, name, False, e.detail))
            break
        except RaretraceError as e:
            steps.append(Step(number, name, False, str(e)))
            break
        steps.append(Step(number, name, ok, detail))
    return Report(tuple(steps), state.shown, state.hidden)


# 1 ------------------------------------------------------------------------------------------------------
def _proof(
    credential: object, trusted: TrustedKeys, state: _State, disclosures: object = None
) -> tuple[bool, str]:
    """With the disclosures, the credential is revealed here, in the walk that hashes it (step 2 then
    reports the outcome); if that walk fails, nothing is kept and both steps work as without them."""
    if not isinstance(credential, dict):
        raise StepFailedError("the presentation holds no credential object")
    issuer = credential.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    proof = credential.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if not isinstance(issuer_id, str) or not isinstance(method, str):
        raise StepFailedError("the credential names no issuer or no verification method")
    if method.split("#", 1)[0] != issuer_id:
        raise StepFailedError(f"signed by {method.split('#', 1)[0]}, not by the issuer {issuer_id}")
    if issuer_id not in trusted.issuers:
        raise StepFailedError(f"unknown issuer {issuer_id}: not in the trusted-keys file")
    signed = _revealed_early(credential, disclosures, state) if disclosures is not None else credential
    result = verify_proof(signed, resolve_verification_method(method))
    if not result.ok:
        raise StepFailedError(f"the issuer's signature does not verify ({result.step}: {result.reason})")
    state.credential, state.issuer = credential, issuer_id
    return True, f"eddsa-jcs-2022 signature by trusted issuer {issuer_id}"


def _revealed_early(credential: JSONObject, disclosures: object, state: _State) -> JSONObject:
    """The credential to hash: its members as ``reveal_signed`` prepared them, or itself.

    What is shown is kept for step 2, tied to this credential and these disclosures. Any failure
    (a disclosure that does not match, a malformed commitment) keeps nothing: step 2 then reveals
    again and reports it, as it always did.
    """
    if not isinstance(disclosures, list) or not all(isinstance(d, str) for d in disclosures):
        return credential
    body = {k: v for k, v in credential.items() if k != "proof"}
    try:
        shown, hidden, signed = reveal_signed(body, disclosures)
    except Exception:  # step 2 reveals again and meets the same error, as before
        return credential
    state.revealed = (credential, disclosures, shown, hidden, len(disclosures))
    return credential if signed is None else {**signed, "proof": credential["proof"]}


# 2 ------------------------------------------------------------------------------------------------------
def _disclosures(credential: JSONObject, disclosures: object, state: _State) -> tuple[bool, str]:
    early, state.revealed = state.revealed, None
    if early is not None and early[0] is credential and early[1] is disclosures:
        # Step 1 found these disclosures to be strings and revealed the credential with them.
        _, _, shown, hidden, count = early
    else:
        if not isinstance(disclosures, list) or not all(isinstance(d, str) for d in disclosures):
            raise StepFailedError("disclosures must be a list of strings")
        body = {k: v for k, v in credential.items() if k != "proof"}
        shown, hidden = reveal(body, disclosures)
        count = len(disclosures)
    state.shown, state.hidden = shown, hidden
    return True, f"{count} disclosed value(s) match the signed digests; {hidden} kept hidden"


# 3 ------------------------------------------------------------------------------------------------------
def _checkpoint(state: _State, trusted: TrustedKeys) -> tuple[bool, str]:
    subject = state.shown.get("credentialSubject")
    evidence = subject.get("logEvidence") if isinstance(subject, dict) else None
    note = evidence.get("checkpoint") if isinstance(evidence, dict) else None
    if not isinstance(evidence, dict) or not isinstance(note, str):
        raise StepFailedError("the certificate carries no log evidence")
    log_name, log_key = trusted.issuers[state.issuer]
    if evidence.get("log") != log_name:
        raise StepFailedError(
            f"the evidence is from log {evidence.get('log')!r}, not the issuer's log {log_name!r}"
        )
    try:
        checkpoint = _opened_checkpoint(note, log_key)
    except RaretraceError as e:
        raise StepFailedError(
            f"the checkpoint is not signed by log {log_name}'s trusted key: {e.message}"
        ) from e
    if checkpoint.size != evidence.get("treeSize"):
        raise StepFailedError(
            f"the checkpoint is for size {checkpoint.size}, the evidence says {evidence.get('treeSize')}"
        )
    state.evidence, state.note, state.checkpoint = evidence, note, checkpoint
    return True, f"checkpoint of {log_name} at size {checkpoint.size} signed by its trusted key"


@lru_cache(maxsize=64)
def _opened_checkpoint(note: str, log_key: str) -> Checkpoint:
    # Pure in (note, key): certificates issued together share one checkpoint; failures are not cached.
    return open_checkpoint(note, log_key)


@lru_cache(maxsize=64)
def _good_witnesses(note: str, witnesses: tuple[tuple[str, str], ...]) -> frozenset[str]:
    keys = dict(witnesses)
    text, lines = split_note(note)
    good: set[str] = set()
    for line in lines:
        name = line.removeprefix("— ").split(" ", 1)[0]
        key = keys.get(name)
        if key is None or name in good:
            continue
        try:
            verify_cosignature(text, line, key)
        except RaretraceError:
            continue
        good.add(name)
    return frozenset(good)


# 4 ------------------------------------------------------------------------------------------------------
def _witnesses(state: _State, trusted: TrustedKeys, threshold: int) -> tuple[bool, str]:
    good = _good_witnesses(state.note, tuple(sorted(trusted.witnesses.items())))
    if len(good) < threshold:
        raise StepFailedError(
            f"{len(good)} trusted witness cosignature(s), fewer than the {threshold} required"
        )
    return (
        True,
        f"{len(good)} trusted witness cosignature(s) ({', '.join(sorted(good)) or 'none'}; "
        f"{threshold} required)",
    )


# 5 ------------------------------------------------------------------------------------------------------
def _inclusion(state: _State) -> tuple[bool, str]:
    checkpoint = state.checkpoint
    assert checkpoint is not None  # step 3 passed
    events = state.evidence.get("events")
    if not isinstance(events, list) or not events:
        raise StepFailedError("the evidence lists no events")
    envelopes: dict[int, bytes] = {}
    for i, item in enumerate(events):
        where = f"events[{i}]"
        index = item.get("leafIndex") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not isinstance(index, int):
            raise StepFailedError(f"{where} has no leafIndex")
        listed = item.get("inclusionProof", [])
        if not isinstance(listed, list):
            raise StepFailedError(f"{where}.inclusionProof is not a list of hashes")
        # objects, to the cache: a list where a string belongs is unhashable (TypeError below)
        leaf_text: object = item.get("leafHash")
        envelope: object = item.get("envelope")
        proof_texts = tuple(listed)
        shown = "envelope" in item
        args = (where, leaf_text, index, proof_texts, shown, envelope)
        try:
            raw = _included(*args, checkpoint.size, checkpoint.root_hash)
        except TypeError:  # unhashable (a list where a string belongs): checked uncached, and fails
            raw = _included.__wrapped__(*args, checkpoint.size, checkpoint.root_hash)
        if raw is not None:
            envelopes[index] = raw
    state.envelopes = envelopes
    return (
        True,
        f"{len(events)} event(s) included in the tree of size {checkpoint.size} ({len(envelopes)} shown)",
    )


# Pure in its arguments, which include the position named in an error: an event (a registration, a
# production) recurs in many certificates of one registry, with the same proof against one checkpoint.
# Failures raise and are never cached.
@lru_cache(maxsize=4096)
def _included(
    where: str,
    leaf_text: object,
    index: int,
    proof_texts: tuple[object, ...],
    shown: bool,
    envelope: object,
    size: int,
    root: bytes,
) -> bytes | None:
    """The event's envelope bytes (None if hidden) once its leaf is proven in the tree of ``root``."""
    leaf = _b64(leaf_text, f"{where}.leafHash")
    proof = _strict_hashes(proof_texts)
    if proof is None:  # one is not a string or not strict base64: each decided as _b64 decides it
        field = f"{where}.inclusionProof"
        proof = [_b64(h, field) for h in proof_texts]
    raw = None
    if shown:
        raw = _b64(envelope, f"{where}.envelope")
        if leaf_hash(raw) != leaf:
            raise StepFailedError(f"{where}: the envelope's leaf hash is not the listed leaf hash")
    try:
        verify_inclusion(leaf, index, size, proof, root, _proven(size, root))
    except RaretraceError as e:
        raise StepFailedError(f"{where} (leaf {index}) is not in the checkpoint's tree: {e.message}") from e
    return raw


_MAX_PROVEN_NODES = 1 << 12  # ~670 bytes each (measured with tracemalloc): ~2.8 MB a tree


@lru_cache(maxsize=4)  # a verifier meets few checkpoints at a time: at most ~11 MB in all
def _proven_nodes(size: int, root: bytes) -> ProvenNodes:
    """The nodes of the tree of ``size`` and ``root`` that inclusion proofs have led to its root.

    A certificate's events are neighbours in the log, and the certificates of one registry are proven
    against the same checkpoint: their paths share all but their lowest levels, which are then hashed
    once (``verify_inclusion``). Forgotten when full (and by ``clear_caches``).
    """
    return ProvenNodes(size, root)


def _proven(size: int, root: bytes) -> ProvenNodes:
    proven = _proven_nodes(size, root)
    if len(proven.nodes) > _MAX_PROVEN_NODES:
        proven.nodes.clear()
    return proven


# 6 ------------------------------------------------------------------------------------------------------
def _member(value: JSONObject, name: str, where: str) -> JSONObject:
    """The object ``value[name]`` ({} when absent); a member of another type fails the step."""
    member = value.get(name, {})
    if not isinstance(member, dict):
        raise StepFailedError(f"{where} is not an object")
    return member


def _facts(state: _State) -> tuple[bool, str]:
    subject = _member(state.shown, "credentialSubject", "credentialSubject")
    events = [_parsed_event(raw) for raw in state.envelopes.values()]
    produced = {spec.id: spec for event in events for spec in getattr(event, "outputs", ())}
    facilities = {e.spec.id: e.spec for e in events if isinstance(e, RegisterFacility)}
    transfers = [e for e in events if isinstance(e, Transfer)]
    shown_events = bool(state.envelopes)
    lots = _member(subject, "shipment", "credentialSubject.shipment").get("lots", [])
    if not isinstance(lots, list) or not all(isinstance(lot, dict) for lot in lots):
        raise StepFailedError("credentialSubject.shipment.lots is not a list of objects")
    compared = _lot_facts(lots, produced, shown_events)
    compared += _party_facts(subject, facilities)
    compared += _transfer_facts(subject, transfers, shown_events)
    if not shown_events:
        return True, "all event envelopes are hidden: nothing shown to compare (the digests still bind them)"
    return True, f"{compared} certified fact group(s) equal the included events"


@lru_cache(maxsize=4096)
def _parsed_event(raw: bytes) -> Event:
    # Pure in the envelope bytes: registrations and production events recur across certificates.
    return event_from_statement(parse_envelope(raw).statement())


def _lot_facts(lots: list[JSONValue], produced: Mapping[str, LotSpec], shown_events: bool) -> int:
    compared = 0
    for lot in lots:
        assert isinstance(lot, dict)  # _facts checked
        lot_id = lot.get("id", "")
        spec = produced.get(lot_id) if isinstance(lot_id, str) else None
        if spec is None:
            if shown_events and ("massKg" in lot or "composition" in lot):
                raise StepFailedError(f"no included event produced lot {lot.get('id')}")
            continue
        if lot.get("form") != spec.form.value:
            raise StepFailedError(
                f"lot {spec.id}: form {lot.get('form')!r} is {spec.form.value!r} in its event"
            )
        if "massKg" in lot and not _same(lot["massKg"], spec.mass_kg):
            raise StepFailedError(f"lot {spec.id}: mass {lot['massKg']} kg is {spec.mass_kg} kg in its event")
        if "declaredValueUsd" in lot and not (
            spec.currency == "USD"
            and spec.declared_value is not None
            and _same(lot["declaredValueUsd"], spec.declared_value)
        ):
            raise StepFailedError(f"lot {spec.id}: declared value differs from its event")
        if "composition" in lot and not _same_map(lot["composition"], spec.composition.fractions):
            raise StepFailedError(f"lot {spec.id}: composition differs from its event")
        compared += 1
    return compared


def _party_facts(subject: JSONObject, facilities: Mapping[str, Facility]) -> int:
    compared = 0
    for role in ("exporter", "importer"):
        party = subject.get(role)
        registered = facilities.get(str(party.get("id"))) if isinstance(party, dict) else None
        if not isinstance(party, dict) or registered is None:
            continue
        for name in ("name", "operator", "country"):
            if party.get(name) != getattr(registered, name):
                raise StepFailedError(
                    f"{role} {name} {party.get(name)!r} is {getattr(registered, name)!r} in its registration"
                )
        compared += 1
    return compared


def _transfer_facts(subject: JSONObject, transfers: list[Transfer], shown_events: bool) -> int:
    shipment = _member(subject, "shipment", "credentialSubject.shipment")
    if "transferEvent" not in shipment:
        return 0
    transfer = next((e for e in transfers if e.event_id == shipment["transferEvent"]), None)
    if transfer is None:
        if shown_events:
            raise StepFailedError(
                f"the transfer {shipment['transferEvent']} is not among the included events"
            )
        return 0
    lots = shipment.get("lots", [])
    certified = (
        sorted(str(lot.get("id")) for lot in lots if isinstance(lot, dict)) if isinstance(lots, list) else []
    )
    if sorted(transfer.lots) != certified:
        raise StepFailedError("the certified lots are not the lots the transfer moved")
    for role, actual in (("exporter", transfer.facility), ("importer", transfer.to)):
        party = subject.get(role)
        if isinstance(party, dict) and party.get("id") != actual:
            raise StepFailedError(f"the {role} is {party.get('id')!r}, the transfer says {actual!r}")
    hs = (transfer.details or {}).get("hs_code")
    if "hsCode" in shipment and shipment["hsCode"] != hs:
        raise StepFailedError(f"HS code {shipment['hsCode']!r} is {hs!r} in the transfer")
    return 1


def _same(a: object, b: float) -> bool:
    return (
        isinstance(a, int | float)
        and not isinstance(a, bool)
        and abs(float(a) - b) <= 1e-9 * max(1.0, abs(b))
    )


def _same_map(a: object, b: Mapping[str, float]) -> bool:
    return isinstance(a, dict) and set(a) == set(b) and all(_same(a[k], b[k]) for k in b)


# 7 ------------------------------------------------------------------------------------------------------
def _validity(state: _State, now: datetime) -> tuple[bool, str]:
    credential = state.credential
    start = parse_instant(credential.get("validFrom"), "validFrom")
    end = parse_instant(credential.get("validUntil"), "validUntil")
    if now < start:
        raise StepFailedError(f"not yet valid: valid from {credential['validFrom']}")
    if now > end:
        raise StepFailedError(f"expired: valid until {credential['validUntil']}")
    return True, f"valid from {credential['validFrom']} until {credential['validUntil']}"


# 8 ------------------------------------------------------------------------------------------------------
def _same_registry(trusted: TrustedKeys, issuer: object, certificate_issuer: str) -> bool:
    """The certificate's issuer, or another key this verifier trusts for the same log: the registry
    after a rotation of its log key publishes its status list under its current key, and a
    certificate issued before the rotation is revoked (or not) in that list."""
    if issuer == certificate_issuer:
        return True
    mine = trusted.issuers.get(certificate_issuer)
    theirs = trusted.issuers.get(issuer) if isinstance(issuer, str) else None
    return mine is not None and theirs is not None and mine[0] == theirs[0]


def _revocation(
    state: _State, status_list: Mapping[str, object] | None, trusted: TrustedKeys
) -> tuple[bool | None, str]:
    url, index = entry_index(state.credential.get("credentialStatus"))
    if status_list is None:
        return None, f"not checked: no status list given (the issuer publishes it at {url})"
    issuer = status_list.get("issuer")
    if not _same_registry(trusted, issuer, state.issuer):
        raise StepFailedError(
            f"the status list is issued by {issuer!r}, not by the certificate's issuer (nor by "
            "another key trusted for its log)"
        )
    if status_list.get("id") != url:
        raise StepFailedError(
            f"the status list is {status_list.get('id')!r}, the certificate points at {url!r}"
        )
    ok, reason, bits = _status_bits(canonical_bytes(status_list))
    proof = status_list.get("proof")
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if not ok or not isinstance(method, str) or method.split("#", 1)[0] != issuer:
        raise StepFailedError(f"the status list's signature does not verify ({reason})")
    if is_set(bits, index):
        raise StepFailedError(f"revoked: bit {index} of {url} is set")
    return True, f"not revoked (bit {index} of {url}, list of {status_list.get('validFrom')})"


@lru_cache(maxsize=8)
def _status_bits(jcs: bytes) -> tuple[bool, str | None, bytes]:
    # Keyed by the list's JCS bytes: lists with the same JCS have the same proof hash and the same
    # encodedList, so the same outcome (and a changed list is a new entry).
    status_list: object = json.loads(jcs)
    proof = status_list.get("proof") if isinstance(status_list, dict) else None
    method = proof.get("verificationMethod") if isinstance(proof, dict) else None
    if not isinstance(status_list, dict) or not isinstance(method, str):
        return False, "the status list has no proof naming its verification method", b""
    result = verify_proof(status_list, resolve_verification_method(method))
    if not result.ok:
        return False, result.reason, b""
    subject = status_list.get("credentialSubject")
    return True, None, decode_list(subject.get("encodedList") if isinstance(subject, dict) else None)


def clear_caches() -> None:
    """Forget every result this module keeps by content (checkpoints, cosignatures, inclusion proofs
    and the tree nodes they proved, parsed events, status lists), so the next verification does all of
    its work again.

    For benchmarks and tests: each result is pure in its key, so clearing never changes an outcome.
    """
    for cached in (
        _opened_checkpoint,
        _good_witnesses,
        _included,
        _proven_nodes,
        _parsed_event,
        _status_bits,
    ):
        cached.cache_clear()


def load_presentation(data: object) -> JSONObject:
    """A certificate file: ``{"credential": …, "disclosures": […]}``, or a bare credential."""
    if isinstance(data, dict) and "credential" in data:
        return data
    if isinstance(data, dict) and "proof" in data:
        return {"credential": data, "disclosures": []}
    raise ValidationError("not a certificate: expected {credential, disclosures}", field="certificate")


def disclosures_of(presentation: Mapping[str, object]) -> list[str]:
    """The presentation's disclosures, checked to be a list of strings (a holder choosing which to pass
    on needs them readable; the verifier reports a bad list as its step 2 instead)."""
    given = presentation.get("disclosures", [])
    texts = [d for d in given if isinstance(d, str)] if isinstance(given, list) else None
    if texts is None or (isinstance(given, list) and len(texts) != len(given)):
        raise ValidationError("must be a list of disclosure strings", field="certificate.disclosures")
    return texts


def summary_lines(report: Report) -> Iterable[str]:
    for step in report.steps:
        mark = {True: "ok", False: "FAILED", None: "not checked"}[step.ok]
        yield f"{step.number}. {step.name}: {mark} — {step.detail}"
    for number, name in enumerate(STEPS[len(report.steps) :], start=len(report.steps) + 1):
        yield f"{number}. {name}: not reached"
