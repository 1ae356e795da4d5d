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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from raretrace.certify import credential as cred
from raretrace.certify.disclosure import conceal
from raretrace.certify.status import status_entry, status_list_credential
from raretrace.crypto.dataintegrity import add_proof
from raretrace.crypto.dsse import recorded_statement
from raretrace.crypto.multikey import did_key, did_key_verification_method
from raretrace.errors import NotFoundError, ValidationError
from raretrace.ledger.compliance import check_lots, subjects
from raretrace.ledger.logview import inclusion_proof, latest_checkpoint
from raretrace.ledger.registry import Registry
from raretrace.log.checkpoint import Checkpoint
from raretrace.log.note import split_note, verifier_key_text
from raretrace.pricing import PriceTable
from raretrace.provenance import ordered
from raretrace.rules import Regime
from raretrace.store import schema as t
from raretrace.store.db import write_transaction

DEFAULT_VALIDITY_DAYS = 365


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def status_list_url(registry: Registry) -> str:
    return f"https://{registry.origin}/status/1"


def issuer_did(registry: Registry) -> str:
    return did_key(registry.signer.public_key)


def trusted_keys(registry: Registry) -> dict[str, Any]:
    """What a verifier needs to trust this registry: its issuer DID, log name and log key, and the
    witnesses the registry knows (a verifier may keep only those it trusts itself)."""
    with registry.engine.connect() as conn:
        witnesses = [r.verifier_key for r in conn.execute(select(t.witnesses.c.verifier_key))]
    return {
        "issuers": [
            {
                "id": issuer_did(registry),
                "log": registry.origin,
                "logKey": verifier_key_text(registry.origin, registry.signer.public_key),
            }
        ],
        "witnesses": sorted(witnesses),
    }


def _event_rows(registry: Registry, seqs: Sequence[int]) -> list[Any]:
    with registry.engine.connect() as conn:
        return list(
            conn.execute(
                select(t.events.c.seq, t.events.c.envelope, t.events.c.kind).where(
                    t.events.c.seq.in_(sorted(set(seqs)))
                )
            )
        )


def _evidence(registry: Registry, seqs: Sequence[int]) -> dict[str, Any]:
    note = latest_checkpoint(registry)
    size = Checkpoint.parse(split_note(note)[0]).size
    events = []
    for row in sorted(_event_rows(registry, seqs), key=lambda r: r.seq):
        proof = inclusion_proof(registry, row.seq, size)
        events.append(
            {
                "leafIndex": row.seq,
                "kind": row.kind,
                "leafHash": proof.leaf_hash,
                "inclusionProof": list(proof.proof),
                "envelope": base64.b64encode(bytes(row.envelope)).decode("ascii"),
            }
        )
    return {"log": registry.origin, "treeSize": size, "checkpoint": note, "events": events}


def _facilities(registry: Registry, ids: Sequence[str]) -> dict[str, Any]:
    with registry.engine.connect() as conn:
        rows = conn.execute(select(t.facilities).where(t.facilities.c.id.in_(sorted(set(ids))))).all()
    return {r.id: r for r in rows}


def _transfer(registry: Registry, event_id: str) -> tuple[int, dict[str, Any]]:
    with registry.engine.connect() as conn:
        row = conn.execute(
            select(t.events.c.seq, t.events.c.kind, t.events.c.envelope).where(
                t.events.c.event_id == event_id
            )
        ).one_or_none()
    if row is None:
        raise NotFoundError(f"no event {event_id}", field="transfer")
    if row.kind != "transfer":
        raise ValidationError(f"event {event_id} is a {row.kind}, not a transfer", field="transfer")
    statement = recorded_statement(row.envelope)  # the whole in-toto statement, as recorded
    return int(row.seq), dict(statement["predicate"])


def issue(
    registry: Registry,
    *,
    transfer: str | None = None,
    lots: Sequence[str] = (),
    valid_days: int = DEFAULT_VALIDITY_DAYS,
    now: datetime | None = None,
    prices: PriceTable | None = None,
    regimes: Sequence[Regime] | None = None,
    salt: Any = None,
    end_use: str | None = None,
) -> dict[str, Any]:
    """A signed certificate for a transfer (or for lots): ``{"credential": …, "disclosures": […]}``.

    The disclosures are the concealed fields' values; the holder passes on those it chooses
    (``raretrace present``). Nothing is written unless the whole certificate could be built.
    """
    if (transfer is None) == (not lots):
        raise ValidationError("give a transfer event id or lots, not both", field="transfer")
    if not 0 < valid_days <= 3650:
        raise ValidationError("must be between 1 and 3650 days", field="valid_days")
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    seqs: list[int] = []
    shipment: dict[str, Any] = {}
    exporter_id = importer_id = None
    if transfer is not None:
        seq, predicate = _transfer(registry, transfer)
        seqs.append(seq)
        lot_ids = list(predicate["lots"])
        exporter_id, importer_id = predicate["facility"], predicate["to"]
        shipment = {"transferEvent": transfer}
        hs_code = (predicate.get("details") or {}).get("hs_code")
        if hs_code:
            shipment["hsCode"] = hs_code
    else:
        lot_ids = list(dict.fromkeys(lots))
    items = subjects(registry, lot_ids, with_raw_materials=True)
    with registry.engine.connect() as conn:
        stored = registry.store.lots(conn, lot_ids)
    if exporter_id is None:
        custodians = {stored[i].custodian for i in lot_ids}
        exporter_id = next(iter(custodians)) if len(custodians) == 1 else None
    parties = _facilities(registry, [p for p in (exporter_id, importer_id) if p])
    seqs.extend(stored[i].produced_seq for i in lot_ids)
    seqs.extend(int(parties[p].registered_seq) for p in parties)
    lot_entries = [cred.lot_entry(stored[i].to_dict(), ordered(stored[i].origin())) for i in lot_ids]
    verdicts = [
        {
            "regime": v.regime,
            "version": v.version,
            "asOf": v.as_of,
            "endUse": v.end_use,
            "outcome": v.outcome.value,
            "decidedBy": list(v.decided_by),
            "explanation": v.explanation,
        }
        for v in check_lots(
            registry,
            lot_ids,
            regimes=regimes,
            as_of=moment.date(),
            end_use=end_use,
            prices=prices,
            as_one=True,
        )
    ]
    fingerprints = [
        {"lot": r.lot, "form": r.form, "status": r.fingerprint} for item in items for r in item.raw_materials
    ]
    exporter = cred.party(parties[exporter_id]._asdict()) if exporter_id in parties else None
    importer = cred.party(parties[importer_id]._asdict()) if importer_id in parties else None
    country = exporter["country"] if exporter else "XX"
    evidence = _evidence(registry, seqs)
    with write_transaction(registry.engine) as conn:
        index = int(conn.execute(select(func.count()).select_from(t.certificates)).scalar_one())
        number = f"{country}-{moment.year}-{index + 1:06d}"
        log_tag = hashlib.sha256(registry.origin.encode()).hexdigest()[:12]
        credential_id = f"urn:raretrace:certificate:{log_tag}:{number}"
        unsigned = cred.credential(
            credential_id=credential_id,
            number=number,
            issuer_did=issuer_did(registry),
            registry_origin=registry.origin,
            registry_country=None,
            valid_from=_rfc3339(moment),
            valid_until=_rfc3339(moment + timedelta(days=valid_days)),
            status=status_entry(status_list_url(registry), index),
            exporter=exporter,
            importer=importer,
            shipment=shipment,
            lots=lot_entries,
            verdicts=verdicts,
            fingerprints=fingerprints,
            evidence=evidence,
        )
        concealed, disclosures = conceal(
            unsigned, lambda path: path[0] == "credentialSubject" and cred.concealable(path[1:]), salt=salt
        )
        signed = add_proof(
            concealed,
            registry.signer,
            verification_method=did_key_verification_method(registry.signer.public_key),
            created=_rfc3339(moment),
        )
        conn.execute(
            insert(t.certificates).values(
                id=credential_id,
                number=number,
                status_index=index,
                transfer_event=transfer,
                lots=json.dumps(lot_ids),
                issued_at=_rfc3339(moment),
                valid_until=unsigned["validUntil"],
                credential=json.dumps(signed, separators=(",", ":")),
            )
        )
        conn.execute(
            insert(t.certificate_lots), [{"certificate_id": credential_id, "lot_id": lot} for lot in lot_ids]
        )
    return {"credential": signed, "disclosures": disclosures}


def revoke(
    registry: Registry, certificate_id: str, reason: str, *, now: datetime | None = None
) -> dict[str, Any]:
    if not reason.strip():
        raise ValidationError("say why the certificate is revoked", field="reason")
    moment = _rfc3339(now or datetime.now(UTC))
    with write_transaction(registry.engine) as conn:
        row = conn.execute(
            select(t.certificates.c.id, t.certificates.c.revoked_at).where(
                (t.certificates.c.id == certificate_id) | (t.certificates.c.number == certificate_id)
            )
        ).one_or_none()
        if row is None:
            raise NotFoundError(f"no certificate {certificate_id}", field="certificate")
        if row.revoked_at is not None:
            raise ValidationError(
                f"certificate {certificate_id} was already revoked at {row.revoked_at}", field="certificate"
            )
        conn.execute(
            update(t.certificates)
            .where(t.certificates.c.id == row.id)
            .values(revoked_at=moment, revocation_reason=reason.strip())
        )
    return {"id": row.id, "revoked_at": moment, "reason": reason.strip()}


def status_list(registry: Registry, *, now: datetime | None = None) -> dict[str, Any]:
    """The signed status list credential: bit i set when certificate i is revoked."""
    moment = _rfc3339(now or datetime.now(UTC))
    with registry.engine.connect() as conn:
        revoked = [
            int(i)
            for i in conn.execute(
                select(t.certificates.c.status_index).where(t.certificates.c.revoked_at.is_not(None))
            ).scalars()
        ]
    unsigned = status_list_credential(status_list_url(registry), issuer_did(registry), moment, revoked)
    return add_proof(
        unsigned,
        registry.signer,
        verification_method=did_key_verification_method(registry.signer.public_key),
        created=moment,
    )
