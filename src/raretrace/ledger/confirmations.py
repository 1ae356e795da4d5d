"""Signed import confirmations between members: the Kimberley scheme's confirmation step, over HTTP.

The importing registry, once an import event for a certificate is in its log, signs with its log key
a statement naming the certificate, the import event, the envelope as recorded, its leaf index and
an inclusion proof in a checkpoint of its log. The exporting registry records the confirmation only
after checking, in order: 1. the statement is a confirmation signed by the log key of a registry it
trusts (``trusted_registries``, filled from the consortium or a trusted-keys file); 2. that log's
checkpoint verifies under the same key and the envelope is leaf ``leaf_index`` of it (RFC 9162
inclusion proof); 3. the envelope is an ``import`` event of exactly that certificate; 4. the
certificate is one this registry issued. A confirmation already recorded is answered as such
(sending again is harmless, which is what makes retrying an offline exporter safe); a *different*
confirmation of the same certificate (a replayed certificate imported twice somewhere) is refused.

The importer needs no outbox: its log is one. ``pending`` lists every import event, and a sender
offers each to its exporter until the exporter says it has it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from raretrace.crypto.dsse import Envelope, parse_envelope, sign_statement
from raretrace.crypto.keys import PublicKey
from raretrace.errors import DuplicateError, NotFoundError, ProofError, ValidationError
from raretrace.jsontypes import JSONObject
from raretrace.ledger.consortium import Consortium
from raretrace.ledger.logview import inclusion_proof, latest_checkpoint
from raretrace.ledger.peer_http import HttpPeer, PeerUnreachableError
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint, open_checkpoint
from raretrace.log.merkle import leaf_hash, verify_inclusion
from raretrace.log.note import parse_verifier_key, split_note
from raretrace.store import confirmations as store
from raretrace.store.db import write_transaction

PREDICATE_TYPE = "https://raretrace.dev/consortium/import-confirmation/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


@dataclass(frozen=True)
class Pending:
    """An import in this log, and the confirmation to send for it."""

    certificate: str
    issuer_log: str | None  # the exporting registry's log origin, from the certificate's evidence
    envelope: bytes  # the signed confirmation


@dataclass(frozen=True)
class Recorded:
    """The exporter's answer to one confirmation: recorded now (``new``) or already held."""

    certificate: str
    importer_log: str
    import_event: str
    leaf_index: int
    new: bool


@dataclass(frozen=True)
class HeldConfirmation:
    """A confirmation this (exporting) registry holds."""

    certificate: str
    importer_log: str
    import_event: str
    leaf_index: int
    confirmed_at: str
    received_at: str


def _import_predicate(envelope: bytes) -> Mapping[str, object]:
    predicate = parse_envelope(envelope).statement()["predicate"]
    if not isinstance(predicate, dict) or predicate.get("kind") != "import":
        raise ValidationError("the confirmed event is not an import", field="predicate.envelope")
    return predicate


def _certificate_of(predicate: Mapping[str, object]) -> Mapping[str, object]:
    certificate = predicate.get("certificate")
    credential = certificate.get("credential") if isinstance(certificate, Mapping) else None
    if not isinstance(credential, Mapping) or not isinstance(credential.get("id"), str):
        raise ValidationError("the import event carries no certificate id", field="predicate.envelope")
    return credential


def _issuer_log(credential: Mapping[str, object]) -> str | None:
    """The log the certificate's evidence names: its issuing registry."""
    subject = credential.get("credentialSubject")
    evidence = subject.get("logEvidence") if isinstance(subject, Mapping) else None
    log = evidence.get("log") if isinstance(evidence, Mapping) else None
    return log if isinstance(log, str) else None


def confirm(registry: Registry, seq: int, event_id: str, envelope: bytes) -> Pending:
    """The signed confirmation of the import event at leaf ``seq`` of this registry's log."""
    predicate = _import_predicate(envelope)
    credential = _certificate_of(predicate)
    certificate = str(credential["id"])
    note = latest_checkpoint(registry)
    size = Checkpoint.parse(split_note(note)[0]).size
    proof = inclusion_proof(registry, seq, size)
    body: JSONObject = {
        "certificate": certificate,
        "importer_log": registry.origin,
        "import_event": event_id,
        "confirmed_by": str(predicate.get("facility")),
        "time": str(predicate.get("time")),
        "leaf_index": seq,
        "envelope": base64.b64encode(envelope).decode(),
        "checkpoint": note,
        "inclusion_proof": list(proof.proof),
    }
    statement: JSONObject = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": certificate, "digest": {"sha256": hashlib.sha256(envelope).hexdigest()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": body,
    }
    return Pending(certificate, _issuer_log(credential), sign_statement(statement, [registry.signer]))


@dataclass(frozen=True)
class Sent:
    """What the exporting member answered to one confirmation."""

    certificate: str
    exporter: str | None
    status: str  # recorded | already | offline | refused | unknown_exporter
    detail: str = ""


def send_pending(
    registry: Registry,
    consortium: Consortium,
    client: httpx.Client,
    *,
    endpoints: Mapping[str, str] | None = None,
) -> list[Sent]:
    """Offer every import's confirmation to its exporting member. Safe to repeat: an exporter that
    has one answers so; one that is offline gets it on a later run (this log is the outbox)."""
    out = []
    for item in pending(registry):
        try:
            member = consortium.by_origin(item.issuer_log or "")
        except ValidationError:
            out.append(
                Sent(item.certificate, None, "unknown_exporter", f"log {item.issuer_log} is no member's")
            )
            continue
        url = (endpoints or {}).get(member.id, member.endpoint)
        if url is None:
            out.append(Sent(item.certificate, member.id, "offline", "no endpoint"))
            continue
        try:
            answer = HttpPeer(url, client).send_confirmation(item.envelope)
        except PeerUnreachableError as e:
            out.append(Sent(item.certificate, member.id, "offline", e.message))
            continue
        status = {201: "recorded", 200: "already"}.get(answer.status, "refused")
        out.append(Sent(item.certificate, member.id, status, "" if status != "refused" else answer.reason))
    return out


def pending(registry: Registry) -> list[Pending]:
    """A signed confirmation for every import event in this log, oldest first."""
    with registry.engine.connect() as conn:
        rows = store.import_events(conn)
    return [confirm(registry, r.seq, r.event_id, r.envelope) for r in rows]


@dataclass(frozen=True)
class _Claim:
    """What a confirmation states, read from its predicate (nothing checked yet)."""

    origin: str
    index: int
    certificate: str
    event_bytes: bytes
    proof: list[bytes]
    note: str
    event_id: str


def _claim(envelope: Envelope) -> _Claim:
    statement = envelope.statement()
    if statement["predicateType"] != PREDICATE_TYPE:
        raise ValidationError(f"is not {PREDICATE_TYPE}", field="payload.predicateType")
    body = statement["predicate"]
    if not isinstance(body, dict):
        raise ValidationError("must be an object", field="predicate")
    try:
        return _Claim(
            str(body["importer_log"]),
            int(body["leaf_index"]),
            str(body["certificate"]),
            base64.b64decode(body["envelope"], validate=True),
            [base64.b64decode(h, validate=True) for h in body["inclusion_proof"]],
            str(body["checkpoint"]),
            str(body["import_event"]),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise ValidationError(f"malformed confirmation: {e}", field="predicate") from e


def _signing_key(registry: Registry, origin: str, envelope: Envelope) -> str:
    """Step 1: the verifier key, among those this registry trusts for log ``origin``, that signed it
    (a log whose key was rotated is trusted under each of its keys, one trusted-keys file each)."""
    with registry.engine.connect() as conn:
        key_texts = store.trusted_log_keys(conn).get(origin, [])
    if not key_texts:
        raise ProofError(f"this registry does not trust log {origin}", field="predicate.importer_log")
    for key_text in key_texts:
        key = PublicKey(parse_verifier_key(key_text).public_key)
        if any(key.is_valid(s.sig, envelope.signing_bytes) for s in envelope.signatures):
            return key_text
    raise ProofError(f"the confirmation is not signed by log {origin}'s key", field="signatures")


def record_confirmation(registry: Registry, raw: bytes, *, now: datetime | None = None) -> Recorded:
    """Check a confirmation (steps in the module docstring) and record it; see there for replays."""
    envelope = parse_envelope(raw)
    claim = _claim(envelope)
    origin, index, certificate, event_id = claim.origin, claim.index, claim.certificate, claim.event_id
    # 1. signed by the log key of a registry this one trusts
    key_text = _signing_key(registry, origin, envelope)
    # 2. the envelope is in that log
    checkpoint = open_checkpoint(claim.note, key_text)
    verify_inclusion(leaf_hash(claim.event_bytes), index, checkpoint.size, claim.proof, checkpoint.root_hash)
    # 3. it imports exactly that certificate
    predicate = _import_predicate(claim.event_bytes)
    if _certificate_of(predicate)["id"] != certificate or predicate.get("event_id") != event_id:
        raise ProofError("the recorded import is not of the certificate it confirms", field="predicate")
    stamp = (
        (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    )
    with write_transaction(registry.engine) as conn:
        # 4. a certificate this registry issued, confirmed once
        if not store.issued(conn, certificate):
            raise NotFoundError(
                f"this registry issued no certificate {certificate}", field="predicate.certificate"
            )
        held = store.confirmation(conn, certificate)
        if held is not None:
            if (held.importer_log, held.import_event) != (origin, event_id):
                raise DuplicateError(
                    f"certificate {certificate} was already confirmed by {held.importer_log} "
                    f"(event {held.import_event}): a replayed certificate",
                    field="predicate.certificate",
                )
            return Recorded(certificate, origin, event_id, held.leaf_index, False)
        store.record(
            conn,
            store.ConfirmationRow(
                certificate, origin, event_id, index, str(predicate.get("time") or ""), stamp, bytes(raw)
            ),
        )
    return Recorded(certificate, origin, event_id, index, True)


def recorded(registry: Registry) -> list[HeldConfirmation]:
    """Every confirmation this (exporting) registry holds."""
    with registry.engine.connect() as conn:
        rows = store.all_confirmations(conn)
    return [
        HeldConfirmation(
            r.certificate_id, r.importer_log, r.import_event, r.leaf_index, r.confirmed_at, r.received_at
        )
        for r in rows
    ]
