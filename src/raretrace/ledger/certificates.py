"""Issuing and revoking shipment certificates, and publishing the status list (issue #4).

A certificate is issued for a transfer (the shipment a Kimberley certificate accompanies) or for lots.
The service gathers the facts — parties, lots with composition and origin vectors, verdicts, assays —
and the log evidence: the envelopes of the transfer, of the events that produced each lot and of the
parties' registrations, each with its inclusion proof against the newest checkpoint and that checkpoint's
witness cosignatures. It conceals the fields a holder may hide, signs with the registry's key
(``eddsa-jcs-2022``, issuer ``did:key``) and records the certificate with its status-list bit.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from raretrace.certify import credential as cred
from raretrace.certify.credential import Presentation
from raretrace.certify.disclosure import conceal
from raretrace.certify.status import status_entry, status_list_credential
from raretrace.crypto.dataintegrity import add_proof
from raretrace.crypto.dsse import recorded_statement
from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.multikey import did_key, did_key_verification_method
from raretrace.errors import NotFoundError, ValidationError
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.ledger.compliance import judging_of, subjects
from raretrace.ledger.logview import inclusion_proofs, latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.note import split_note, verifier_key_text
from raretrace.model import Lot
from raretrace.pricing import PriceTable
from raretrace.provenance import ordered
from raretrace.rules import Regime, Subject
from raretrace.store import certificates as records
from raretrace.store.certificates import CertificateRecord, PartyRow
from raretrace.store.db import write_transaction
from raretrace.store.protocol import CertificateRecords
from raretrace.store.reading import Connection

DEFAULT_VALIDITY_DAYS = 365
C = TypeVar("C")

#: Work done in the transaction that records a certificate (``issue``'s ``also``)
InTransaction = Callable[[Connection, Presentation], None]


@dataclass(frozen=True)
class Revocation:
    """A certificate just revoked: its id, when, and why (as recorded)."""

    id: str
    revoked_at: str
    reason: str


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_list_url(registry: Registry) -> str:
    return f"https://{registry.origin}/status/1"


def issuer_did(registry: Registry) -> str:
    return did_key(registry.signer.public_key)


def trusted_keys(registry: Registry) -> JSONObject:
    """What a verifier needs to trust this registry: its issuer DID, log name and log key, and the
    witnesses the registry knows (a verifier may keep only those it trusts itself). A document (the
    trusted-keys file ``certify.verify.TrustedKeys.from_dict`` reads), so JSON, not a dataclass."""
    with registry.engine.connect() as conn:
        witnesses = records.witness_keys(conn)
    key = registry.signer.public_key
    issuer: JSONObject = {
        "id": did_key(key),
        "log": registry.origin,
        "logKey": verifier_key_text(registry.origin, key),
    }
    return {"issuers": [issuer], "witnesses": list[JSONValue](sorted(witnesses))}


def _evidence(registry: Registry, seqs: Sequence[int]) -> JSONObject:
    """The cited events with their inclusion proofs against the newest checkpoint, read on one
    connection through one tiled tree (one pool checkout and the shared tiles read once, not once per
    proof: this was most of a certificate's database round trips)."""
    with registry.engine.connect() as conn:
        note = latest_checkpoint(registry, conn)
        size = Checkpoint.parse(split_note(note)[0]).size
        logged = records.logged_events(conn, seqs)
        proofs = inclusion_proofs(registry, conn, [row.seq for row in logged], size)
    events: list[JSONValue] = [
        {
            "leafIndex": row.seq,
            "kind": row.kind,
            "leafHash": proof.leaf_hash,
            "inclusionProof": list(proof.proof),
            "envelope": base64.b64encode(bytes(row.envelope)).decode("ascii"),
        }
        for row, proof in zip(logged, proofs, strict=True)
    ]
    return {"log": registry.origin, "treeSize": size, "checkpoint": note, "events": events}


def _transfer(conn: Connection, event_id: str) -> tuple[int, Mapping[str, object]]:
    row = records.event_by_id(conn, event_id)
    if row is None:
        raise NotFoundError(f"no event {event_id}", field="transfer")
    if row.kind != "transfer":
        raise ValidationError(f"event {event_id} is a {row.kind}, not a transfer", field="transfer")
    predicate = recorded_statement(row.envelope)["predicate"]  # the whole statement, as recorded
    assert isinstance(predicate, dict)  # the registry recorded a valid transfer
    return row.seq, predicate


@dataclass(frozen=True)
class _Shipment:
    """What is certified: the lots, the parties' ids, the shipment's own members and the log leaves
    (so far: the transfer's) whose envelopes become evidence."""

    lot_ids: list[str]
    exporter_id: str | None
    importer_id: str | None
    members: JSONObject
    seqs: list[int]


def _shipment(conn: Connection, transfer: str | None, lots: Sequence[str]) -> _Shipment:
    if transfer is None:
        return _Shipment(list(dict.fromkeys(lots)), None, None, {}, [])
    seq, predicate = _transfer(conn, transfer)
    members: JSONObject = {"transferEvent": transfer}
    details = predicate.get("details")
    hs_code = details.get("hs_code") if isinstance(details, dict) else None
    if hs_code:
        # as the transfer states it (a code is a string; anything else is kept as its text)
        members["hsCode"] = hs_code if isinstance(hs_code, str | int | float) else str(hs_code)
    moved = predicate["lots"]
    assert isinstance(moved, list)  # a recorded transfer names its lots
    return _Shipment(
        [str(lot) for lot in moved], str(predicate["facility"]), str(predicate["to"]), members, [seq]
    )


def _verdicts(
    items: Sequence[Subject],
    regimes: Sequence[Regime] | None,
    moment: datetime,
    end_use: str | None,
    prices: PriceTable | None,
) -> list[JSONObject]:
    """Every regime's verdict on the lots as one shipment (the subjects ``issue`` read already)."""
    judging = judging_of(items, regimes=regimes, end_use=end_use, prices=prices, as_one=True)
    return [
        {
            "regime": v.regime,
            "version": v.version,
            "asOf": v.as_of,
            "endUse": v.end_use,
            "outcome": v.outcome.value,
            "decidedBy": list(v.decided_by),
            "explanation": v.explanation,
        }
        for v in judging.on(moment.date())
    ]


@dataclass(frozen=True)
class _Facts:
    """What a certificate states, read on one connection before the transaction that records it: the
    shipment, the lots as subjects and as stored, the parties, and the log leaves cited as evidence."""

    shipment: _Shipment
    items: list[Subject]
    stored: Mapping[str, Lot]
    exporter: PartyRow | None
    importer: PartyRow | None
    seqs: list[int]


def _facts(registry: Registry, transfer: str | None, lots: Sequence[str]) -> _Facts:
    with registry.engine.connect() as conn:  # what is certified, read on one connection
        shipment = _shipment(conn, transfer, lots)
        lot_ids = shipment.lot_ids
        # first: an unknown lot is an error here
        items = subjects(registry, lot_ids, with_raw_materials=True, conn=conn)
        stored = registry.store.lots(conn, lot_ids)
        exporter_id = shipment.exporter_id or _sole_custodian(stored, lot_ids)
        parties = registry.store.parties(conn, [p for p in (exporter_id, shipment.importer_id) if p])
    seqs = [
        *shipment.seqs,
        *(stored[i].produced_seq for i in lot_ids),
        *(p.registered_seq for p in parties.values()),
    ]
    exporter = parties.get(exporter_id) if exporter_id else None
    importer = parties.get(shipment.importer_id) if shipment.importer_id else None
    return _Facts(shipment, items, stored, exporter, importer, seqs)


def issue(
    registry: Registry,
    *,
    transfer: str | None = None,
    lots: Sequence[str] = (),
    valid_days: int = DEFAULT_VALIDITY_DAYS,
    now: datetime | None = None,
    prices: PriceTable | None = None,
    regimes: Sequence[Regime] | None = None,
    salt: Callable[[], str] | None = None,
    end_use: str | None = None,
    also: InTransaction | None = None,
) -> Presentation:
    """A signed certificate for a transfer (or for lots), with the disclosures of its concealed fields.

    The holder passes on the disclosures it chooses (``raretrace present``). Nothing is written
    unless the whole certificate could be built. ``also`` runs in the transaction that records it
    (a shipment kept for its importer: committed with the certificate, or neither is).
    """
    _check_request(transfer, lots, valid_days)
    signer = registry.signer  # read once: the issuer and the proof name one key, even across a rotation
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    facts = _facts(registry, transfer, lots)
    lot_ids = facts.shipment.lot_ids
    certified = [cred.CertifiedLot.of(facts.stored[i], ordered(facts.stored[i].origin())) for i in lot_ids]
    verdicts = _verdicts(facts.items, regimes, moment, end_use, prices)
    evidence = _evidence(registry, facts.seqs)
    with write_transaction(registry.engine) as conn:
        index = registry.store.certificate_count(conn)
        number = f"{facts.exporter.country if facts.exporter else 'XX'}-{moment.year}-{index + 1:06d}"
        unsigned = cred.credential(
            credential_id=_credential_id(registry, number),
            number=number,
            issuer_did=did_key(signer.public_key),
            registry_origin=registry.origin,
            registry_country=None,
            valid_from=_rfc3339(moment),
            valid_until=_rfc3339(moment + timedelta(days=valid_days)),
            status=status_entry(status_list_url(registry), index),
            exporter=cred.party(facts.exporter) if facts.exporter else None,
            importer=cred.party(facts.importer) if facts.importer else None,
            shipment=facts.shipment.members,
            lots=certified,
            verdicts=verdicts,
            fingerprints=_fingerprints(facts.items),
            evidence=evidence,
        )
        presentation = _signed(signer, unsigned, moment, salt)
        _record(registry.store, conn, presentation.credential, number, index, transfer, lot_ids, moment)
        if also is not None:
            also(conn, presentation)
    return presentation


def _check_request(transfer: str | None, lots: Sequence[str], valid_days: int) -> None:
    if (transfer is None) == (not lots):
        raise ValidationError("give a transfer event id or lots, not both", field="transfer")
    if not 0 < valid_days <= 3650:
        raise ValidationError("must be between 1 and 3650 days", field="valid_days")


def _credential_id(registry: Registry, number: str) -> str:
    """The certificate's URN: its number, prefixed with a tag of the issuing log (numbers restart per log)."""
    log_tag = hashlib.sha256(registry.origin.encode()).hexdigest()[:12]
    return f"urn:raretrace:certificate:{log_tag}:{number}"


def _fingerprints(items: Sequence[Subject]) -> list[JSONObject]:
    """The fingerprint status of each raw material the lots were made from."""
    return [
        {"lot": r.lot, "form": r.form, "status": r.fingerprint} for item in items for r in item.raw_materials
    ]


def _sole_custodian(stored: Mapping[str, Lot], lot_ids: Sequence[str]) -> str | None:
    """The exporter of certified lots: their custodian when one facility holds them all."""
    custodians = {stored[i].custodian for i in lot_ids}
    return next(iter(custodians)) if len(custodians) == 1 else None


def _signed(
    signer: Ed25519Signer, unsigned: JSONObject, moment: datetime, salt: Callable[[], str] | None
) -> Presentation:
    """The credential with its concealable fields as digests, signed by the registry (eddsa-jcs-2022)."""
    concealed, disclosures = conceal(
        unsigned, lambda path: path[0] == "credentialSubject" and cred.concealable(path[1:]), salt=salt
    )
    signed = add_proof(
        concealed,
        signer,
        verification_method=did_key_verification_method(signer.public_key),
        created=_rfc3339(moment),
    )
    return Presentation(signed, tuple(disclosures))


def _record(
    store: CertificateRecords[C],
    conn: C,
    credential: JSONObject,
    number: str,
    index: int,
    transfer: str | None,
    lot_ids: Sequence[str],
    moment: datetime,
) -> None:
    valid_until = credential["validUntil"]
    assert isinstance(valid_until, str)  # cred.credential writes it
    certificate = CertificateRecord(
        id=str(credential["id"]),
        number=number,
        lots=tuple(lot_ids),
        transfer_event=transfer,
        issued_at=_rfc3339(moment),
        valid_until=valid_until,
        revoked_at=None,
        revocation_reason=None,
        credential=json.dumps(credential, separators=(",", ":")),
    )
    store.record_certificate(conn, certificate, index)


def certificate(registry: Registry, id_or_number: str) -> CertificateRecord | None:
    """The certificate with this id or number as recorded, or None."""
    with registry.engine.connect() as conn:
        return registry.store.find_certificate(conn, id_or_number)


def revoke(
    registry: Registry, certificate_id: str, reason: str, *, now: datetime | None = None
) -> Revocation:
    moment = _rfc3339(now or datetime.now(UTC))
    with write_transaction(registry.engine) as conn:
        return revoke_recorded(registry.store, conn, certificate_id, reason, moment)


def revoke_recorded(
    store: CertificateRecords[C], conn: C, certificate_id: str, reason: str, moment: str
) -> Revocation:
    """Mark a recorded certificate revoked at ``moment``, in the caller's transaction: refused, and
    nothing changed, without a reason, for an unknown certificate or one already revoked."""
    if not reason.strip():
        raise ValidationError("say why the certificate is revoked", field="reason")
    found = store.find_certificate(conn, certificate_id)
    if found is None:
        raise NotFoundError(f"no certificate {certificate_id}", field="certificate")
    if found.revoked_at is not None:
        raise ValidationError(
            f"certificate {certificate_id} was already revoked at {found.revoked_at}", field="certificate"
        )
    store.set_revoked(conn, found.id, moment, reason.strip())
    return Revocation(found.id, moment, reason.strip())


def status_list(registry: Registry, *, now: datetime | None = None) -> JSONObject:
    """The signed status list credential: bit i set when certificate i is revoked. A document (W3C
    Bitstring Status List), so JSON, not a dataclass."""
    moment = _rfc3339(now or datetime.now(UTC))
    with registry.engine.connect() as conn:
        revoked = records.revoked_indexes(conn)
    signer = registry.signer  # read once, as for a certificate
    unsigned = status_list_credential(status_list_url(registry), did_key(signer.public_key), moment, revoked)
    return add_proof(
        unsigned,
        signer,
        verification_method=did_key_verification_method(signer.public_key),
        created=moment,
    )
