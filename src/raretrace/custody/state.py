"""Judging events against the registry's state: every invariant of DESIGN §3, before anything is written.

``LedgerState`` holds what a batch needs (prefetched from the store) plus the batch's own changes,
so events later in a batch see the effects of earlier ones and nothing touches the database until
the whole batch has passed. Checks raise; the first failure aborts the batch.

Signature checks are split in two: ``apply`` decides *which* key must have signed (known, valid at
the event's time, authorized) and queues the Ed25519 verification; ``pending_signatures`` hands the
queue to the caller, which verifies it in this process or spread over several.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import lru_cache
from typing import Any

from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.crypto.dsse import Envelope
from raretrace.crypto.keys import PublicKey
from raretrace.custody.events import (
    EVENT_KINDS,
    Assay,
    Correct,
    Event,
    Extract,
    Import,
    KeySpec,
    Process,
    Receive,
    RegisterFacility,
    RevokeKey,
    RotateKey,
    Transfer,
)
from raretrace.custody.namespaces import check_new_id
from raretrace.custody.records import BatchWrite, KeyRecord, TransferRecord
from raretrace.elements import REE_SYMBOLS, TRADED_SYMBOLS
from raretrace.errors import (
    AuthorizationError,
    Confidential,
    CustodyError,
    DuplicateError,
    MassBalanceError,
    NotFoundError,
    ProofError,
    SignatureError,
    ValidationError,
)
from raretrace.model import ASSAY_ACTIVITY, FRACTION_SLACK, Facility, Lot, LotSpec, Stage
from raretrace.origin_text import encode_origin
from raretrace.provenance import Contribution, LotOrigin, extracted, performed, pooled, stored_form
from raretrace.times import format_time, stored_instant

#: Default per-element mass-balance tolerance: outputs may hold up to 1% more of an element than the
#: inputs declare, to absorb assay uncertainty in declared compositions. Set per registry at init.
DEFAULT_TOLERANCE = 0.01
_ABS_SLACK_KG = 1e-9


#: An event's time may lie this far before the registry's clock (records of past years)…
PAST_YEARS = 50
#: …and this far after it (the signer's clock running ahead of the registry's).
FUTURE_HOURS = 24


@lru_cache(maxsize=16)
def time_window(recorded_at: str) -> tuple[str, str]:
    """The earliest and latest event times accepted at ``recorded_at``, in the same sortable text.

    Cached: every event of a batch shares the batch's clock, so it is worked out once a batch."""
    now = stored_instant(recorded_at)
    earliest = now.replace(year=now.year - PAST_YEARS, month=1, day=1)
    return format_time(earliest), format_time(now + timedelta(hours=FUTURE_HOURS))


def missing_lot(lot_id: str) -> str:
    """The refusal for a lot that does not exist, which a server also gives about a lot the caller may
    not see (``errors.Confidential``)."""
    return f"lot {lot_id} does not exist"


@dataclass(frozen=True)
class SignatureTask:
    """One Ed25519 verification the batch still owes, and the event it belongs to."""

    index: int
    event_id: str
    public_key: bytes
    signature: bytes
    message: bytes


@dataclass
class LedgerState:
    registry_key: PublicKey
    tolerance: float
    facilities: dict[str, Facility]
    keys: dict[str, KeyRecord]
    lots: dict[str, Lot]
    events: dict[str, tuple[int, str]]
    transfers: dict[str, TransferRecord]
    write: BatchWrite = field(default_factory=BatchWrite)
    pending_signatures: list[SignatureTask] = field(default_factory=list)
    #: Other members' registries whose certificates an import may rely on (loaded only for imports).
    trusted: TrustedKeys | None = None
    import_witness_threshold: int = 0
    #: New lot and event ids must be in the acting facility's namespace (``custody/namespaces.py``).
    namespaced_ids: bool = False

    # --- the entry point ----------------------------------------------------------------------
    def apply(self, index: int, seq: int, event: Event, envelope: Envelope, recorded_at: str) -> None:
        earliest, latest = time_window(recorded_at)
        if not earliest <= event.time <= latest:
            raise ValidationError(
                f"{event.time} is outside the registry's window of {PAST_YEARS} years before and "
                f"{FUTURE_HOURS} hours after its clock ({recorded_at})",
                field="time",
            )
        actor = None if event.secretariat_only else event.facility  # the secretariat's acts: no namespace
        check_new_id("event", event.event_id, actor, "event_id", required=self.namespaced_ids)
        if event.event_id in self.events:
            raise DuplicateError(f"event {event.event_id} is already recorded", field="event_id")
        self._check_signatures(index, event, envelope)
        _HANDLERS[event.kind](self, seq, event)
        self.events[event.event_id] = (seq, event.kind)
        self.write.events.append(
            {
                "seq": seq,
                "event_id": event.event_id,
                "kind": event.kind,
                "facility_id": event.facility,
                "time": event.time,
                "envelope": envelope.raw,
                "leaf_hash": hashlib.sha256(b"\x00" + envelope.raw).digest(),
            }
        )
        self.write.payloads.append(envelope.payload)

    # --- signatures and authorization ---------------------------------------------------------
    def _check_signatures(self, index: int, event: Event, envelope: Envelope) -> list[str]:
        """Every signature by a known key valid at the event's time, and one that may sign this event.

        A key whose revocation is already recorded may still have signed events dated before its
        ``revoked_at``, but whoever stole it can sign such back-dated events too. So an event signed
        by a revoked key that reaches the registry after the revocation needs the secretariat's
        countersignature (the registry key on the same envelope): someone checked it is genuine."""
        authorized = False
        signer_ids: list[str] = []
        revoked_signer: tuple[str, KeyRecord] | None = None
        for i, sig in enumerate(envelope.signatures):
            where = f"envelope.signatures[{i}].keyid"
            if sig.key_id == self.registry_key.key_id:
                public = self.registry_key
                owner: str | None = None  # the secretariat
            else:
                record = self.keys.get(sig.key_id)
                if record is None:
                    raise SignatureError(
                        f"unknown key {sig.key_id[:16]}…: not registered to any facility", field=where
                    )
                if record.revoked_at is not None and event.time >= record.revoked_at:
                    raise SignatureError(
                        f"key {sig.key_id[:16]}… of {record.facility_id} was revoked at {record.revoked_at}, "
                        f"before the event's time {event.time}",
                        field=where,
                    )
                if record.revoked_at is not None and revoked_signer is None:
                    revoked_signer = (where, record)
                if not record.valid_at(event.time):
                    raise SignatureError(
                        f"key {sig.key_id[:16]}… of {record.facility_id} is valid from {record.valid_from}"
                        f" until {record.valid_until or 'further notice'}, "
                        f"not at the event's time {event.time}",
                        field=where,
                    )
                public, owner = record.public_key, record.facility_id
            self.pending_signatures.append(
                SignatureTask(index, event.event_id, public.raw, sig.sig, envelope.signing_bytes)
            )
            signer_ids.append(sig.key_id)
            authorized = authorized or self._may_sign(event, owner)
        if not authorized:
            who = "the registry secretariat" if event.secretariat_only else f"facility {event.facility}"
            raise AuthorizationError(
                f"a {event.kind} event must be signed by a current key of {who}", field="envelope.signatures"
            )
        if revoked_signer is not None and self.registry_key.key_id not in signer_ids:
            where, record = revoked_signer
            raise SignatureError(
                f"key {record.key_id[:16]}… of {record.facility_id} has been revoked (from "
                f"{record.revoked_at}); an event it signed that arrives after the revocation needs the "
                "secretariat's countersignature",
                field=where,
            )
        return signer_ids

    @staticmethod
    def _may_sign(event: Event, owner: str | None) -> bool:
        if owner is None:  # secretariat may administer keys and corrections, not act for a facility
            return event.secretariat_only or isinstance(event, RotateKey | RevokeKey)
        return not event.secretariat_only and owner == event.facility

    # --- lookups with clear errors ------------------------------------------------------------
    def _facility(self, facility_id: str | None, field_name: str = "facility") -> Facility:
        facility = self.facilities.get(facility_id or "")
        if facility is None:
            raise NotFoundError(f"facility {facility_id} is not registered", field=field_name)
        return facility

    def _performs(self, facility: Facility, activity: str) -> None:
        if activity not in facility.activities:
            raise AuthorizationError(
                f"facility {facility.id} is not registered for {activity} "
                f"(it performs {', '.join(sorted(facility.activities))})",
                field="facility",
            )

    def _lot(self, lot_id: str, field_name: str) -> Lot:
        lot = self.lots.get(lot_id)
        if lot is None:
            message = missing_lot(lot_id)
            raise NotFoundError(message, field=field_name, confidential=Confidential("lot", lot_id, message))
        return lot

    def _held_lot(self, lot_id: str, holder: str, field_name: str) -> Lot:
        lot = self._lot(lot_id, field_name)
        unseen, discreet = missing_lot(lot_id), f"lot {lot_id} is not held by {holder}"
        if lot.void:
            raise CustodyError(
                f"lot {lot_id} was voided by a correction",
                field=field_name,
                confidential=Confidential("lot", lot_id, unseen),
            )
        if lot.in_transit_to is not None:
            parties = frozenset({lot.custodian, lot.in_transit_to})
            raise CustodyError(
                f"lot {lot_id} is in transit to {lot.in_transit_to}",
                field=field_name,
                confidential=Confidential("lot", lot_id, unseen, parties, discreet),
            )
        if lot.custodian != holder:
            raise CustodyError(
                f"lot {lot_id} is held by {lot.custodian}, not by {holder}",
                field=field_name,
                confidential=Confidential("lot", lot_id, unseen, frozenset({lot.custodian}), discreet),
            )
        return lot

    def _set_lot(self, lot: Lot, *, new: bool = False) -> None:
        self.lots[lot.id] = lot
        (self.write.new_lots if new else self.write.changed_lots)[lot.id] = lot
        if not new and lot.id in self.write.new_lots:
            self.write.new_lots[lot.id] = lot

    def _create_lots(
        self,
        seq: int,
        event: Event,
        facility: Facility,
        outputs: tuple[LotSpec, ...],
        stage: Stage,
        origin: LotOrigin,
        deposit: str | None = None,
    ) -> None:
        for i, spec in enumerate(outputs):
            if not isinstance(event, Import):  # imported ids were certified by another registry
                check_new_id("lot", spec.id, facility.id, f"outputs[{i}].id", required=self.namespaced_ids)
            if spec.id in self.lots:
                raise DuplicateError(f"lot {spec.id} already exists", field=f"outputs[{i}].id")
            own = {e: o for e, o in origin.items() if spec.composition.fraction(e) > 0}
            self._set_lot(
                Lot(
                    spec=spec,
                    custodian=facility.id,
                    remaining_kg=spec.mass_kg,
                    producer=facility.id,
                    stage=stage,
                    produced_seq=seq,
                    created_time=event.time,
                    deposit=deposit,
                    origin_text=encode_origin(own),
                ),
                new=True,
            )

    # --- one method per event kind ------------------------------------------------------------
    def _apply_extract(self, seq: int, event: Extract) -> None:
        facility = self._facility(event.facility)
        self._performs(facility, Stage.MINING)
        elements = {e for o in event.outputs for e in o.composition.fractions if e in REE_SYMBOLS}
        origin = extracted(elements, facility.country, facility.technology_origin(Stage.MINING))
        self._create_lots(seq, event, facility, event.outputs, Stage.MINING, origin, deposit=event.deposit)

    def _apply_process(self, seq: int, event: Process) -> None:
        facility = self._facility(event.facility)
        self._performs(facility, event.stage)
        consumed: list[tuple[Lot, float]] = []
        for i, use in enumerate(event.inputs):
            where = f"inputs[{i}]"
            lot = self._held_lot(use.lot, facility.id, f"{where}.lot")
            if use.mass_kg > lot.remaining_kg * (1 + FRACTION_SLACK) + _ABS_SLACK_KG:
                raise CustodyError(
                    f"consumes {use.mass_kg:g} kg of lot {lot.id} but only {lot.remaining_kg:g} kg remain",
                    field=f"{where}.mass_kg",
                )
            consumed.append((lot, use.mass_kg))
        brought = [_ree_kg(lot.spec.composition.fractions, mass) for lot, mass in consumed]
        untraced_kg: dict[str, float] = {}
        for feed in event.additions:
            for element, kg in _ree_kg(feed.composition.fractions, feed.mass_kg).items():
                untraced_kg[element] = untraced_kg.get(element, 0.0) + kg
        self._check_mass_balance(event, consumed, brought, untraced_kg)
        for lot, mass in consumed:
            self._set_lot(lot.evolve(remaining_kg=max(0.0, lot.remaining_kg - mass)))
        contributions = [
            Contribution(lot.stored_origin(), kg) for (lot, _), kg in zip(consumed, brought, strict=True)
        ]
        stage = event.stage.value
        origin = performed(
            pooled(contributions, untraced_kg), stage, facility.country, facility.technology_origin(stage)
        )
        self._create_lots(seq, event, facility, event.outputs, event.stage, origin)
        total_out = sum(o.mass_kg for o in event.outputs)
        for out in event.outputs:
            share = out.mass_kg / total_out
            self.write.lot_inputs.extend(
                {"seq": seq, "child": out.id, "parent": lot.id, "mass_kg": mass * share}
                for lot, mass in consumed
            )

    _apply_assemble = _apply_process
    _apply_recycle = _apply_process

    def _apply_import(self, seq: int, event: Import) -> None:
        facility = self._facility(event.facility)
        # 1. The certificate verifies offline against the registries this one trusts, at the event's time.
        if self.trusted is None or not self.trusted.issuers:
            raise AuthorizationError(
                "this registry trusts no other registry's certificates (raretrace trust-registry)",
                field="certificate",
            )
        report = verify_certificate(
            event.certificate,
            self.trusted,
            status_list=event.status_list,
            witness_threshold=self.import_witness_threshold,
            now=stored_instant(event.time),
        )
        failed = report.failed()
        if failed is not None or not report.ok:
            step = f"step {failed.number} ({failed.name}): {failed.detail}" if failed else "incomplete"
            raise ProofError(f"certificate refused at {step}", field="certificate")
        # 2. It was issued to this facility.
        importer = report.subject().get("importer")
        if not isinstance(importer, dict) or importer.get("id") != facility.id:
            shown = importer.get("id") if isinstance(importer, dict) else "hidden"
            raise AuthorizationError(
                f"the certificate's importer is {shown}, not the importing facility {facility.id}",
                field="certificate",
            )
        # 3. The lots, with the certified composition and origin vectors.
        for spec in event.outputs:
            self._create_lots(
                seq, event, facility, (spec,), event.stages[spec.id], stored_form(event.origins[spec.id])
            )

    def _check_mass_balance(
        self,
        event: Process,
        consumed: list[tuple[Lot, float]],
        brought: list[dict[str, float]],
        untraced_kg: dict[str, float],
    ) -> None:
        """Per rare-earth element, and in total, outputs may not exceed inputs beyond the tolerance."""
        factor = 1 + self.tolerance
        mass_in = sum(m for _, m in consumed) + sum(a.mass_kg for a in event.additions)
        mass_out = sum(o.mass_kg for o in event.outputs)
        if mass_out > mass_in * factor + _ABS_SLACK_KG:
            raise MassBalanceError(
                f"outputs weigh {mass_out:g} kg but inputs and additions only {mass_in:g} kg "
                f"(tolerance {self.tolerance:.1%})",
                field="outputs",
            )
        declared = {c for o in event.outputs for c in o.composition.fractions if c in REE_SYMBOLS}
        for element in sorted(declared, key=TRADED_SYMBOLS.index):
            out = sum(o.element_mass(element) for o in event.outputs)
            if out <= _ABS_SLACK_KG:
                continue
            into = sum(kg.get(element, 0.0) for kg in brought) + untraced_kg.get(element, 0.0)
            if out > into * factor + _ABS_SLACK_KG:
                raise MassBalanceError(
                    f"outputs hold {out:.6g} kg of {element} but inputs only {into:.6g} kg "
                    f"(tolerance {self.tolerance:.1%})",
                    field="outputs",
                )

    def _apply_transfer(self, seq: int, event: Transfer) -> None:
        sender = self._facility(event.facility)
        self._facility(event.to, "to")
        for i, lot_id in enumerate(event.lots):
            lot = self._held_lot(lot_id, sender.id, f"lots[{i}]")
            if lot.remaining_kg <= _ABS_SLACK_KG:
                raise CustodyError(
                    f"lot {lot_id} has been used up; nothing remains to ship", field=f"lots[{i}]"
                )
            self._set_lot(lot.evolve(in_transit_to=event.to))
            self.write.transfers.append(
                {
                    "seq": seq,
                    "lot_id": lot_id,
                    "sender": sender.id,
                    "receiver": event.to,
                    "received_seq": None,
                }
            )
        self.transfers[event.event_id] = TransferRecord(event.event_id, seq, sender.id, event.to, event.lots)

    def _apply_receive(self, seq: int, event: Receive) -> None:
        receiver = self._facility(event.facility)
        transfer = self.transfers.get(event.transfer_event)
        unseen = f"no transfer event {event.transfer_event} is recorded"
        secret = Confidential("event", event.transfer_event, unseen)
        if transfer is None:
            raise NotFoundError(unseen, field="transfer_event", confidential=secret)
        if transfer.receiver != receiver.id:
            raise CustodyError(
                f"transfer {transfer.event_id} was sent to {transfer.receiver}, not {receiver.id}",
                field="transfer_event",
                confidential=secret,
            )
        for i, lot_id in enumerate(event.lots):
            where = f"lots[{i}]"
            if lot_id not in transfer.lots:
                raise CustodyError(f"lot {lot_id} is not part of transfer {transfer.event_id}", field=where)
            lot = self._lot(lot_id, where)
            if lot.in_transit_to != receiver.id or lot.custodian != transfer.sender:
                raise CustodyError(f"lot {lot_id} is not awaiting receipt by {receiver.id}", field=where)
            self._set_lot(lot.evolve(custodian=receiver.id, in_transit_to=None))
            self.write.received.append((transfer.seq, lot_id, seq))

    def _apply_assay(self, seq: int, event: Assay) -> None:
        lab = self._facility(event.facility)
        self._performs(lab, ASSAY_ACTIVITY)
        self._lot(event.lot, "lot")
        data = {"method": event.method, "results": dict(event.results), "time": event.time}
        self.write.assays.append({"seq": seq, "lot_id": event.lot, "lab": lab.id, "data": json.dumps(data)})

    def _apply_correct(self, seq: int, event: Correct) -> None:
        if event.target_event not in self.events:
            raise NotFoundError(f"no event {event.target_event} is recorded", field="target_event")
        for i, change in enumerate(event.amendments):
            where = f"amend_lots[{i}]"
            lot = self._lot(change.lot, f"{where}.lot")
            spec = replace(lot.spec, composition=change.composition) if change.composition else lot.spec
            remaining = lot.remaining_kg if change.remaining_kg is None else change.remaining_kg
            if remaining > spec.mass_kg * (1 + FRACTION_SLACK):
                raise ValidationError(
                    f"exceeds the lot's mass of {spec.mass_kg:g} kg", field=f"{where}.remaining_kg"
                )
            self._set_lot(lot.evolve(spec=spec, remaining_kg=remaining, void=lot.void or change.void))

    def _apply_register_facility(self, seq: int, event: RegisterFacility) -> None:
        if event.spec.id in self.facilities:
            raise DuplicateError(f"facility {event.spec.id} is already registered", field="facility.id")
        self.facilities[event.spec.id] = event.spec
        self.write.facilities.append((event.spec, seq))
        for i, key in enumerate(event.keys):
            self._add_key(seq, event.spec.id, key, f"keys[{i}]")

    def _add_key(self, seq: int, facility_id: str, key: KeySpec, where: str) -> None:
        key_id = key.public_key.key_id
        if key_id in self.keys or key_id == self.registry_key.key_id:
            raise DuplicateError(f"key {key_id[:16]}… is already registered", field=f"{where}.public_key")
        record = KeyRecord(key_id, facility_id, key.public_key, key.valid_from, key.valid_until, None)
        self.keys[key_id] = record
        self.write.new_keys.append(
            {
                "key_id": key_id,
                "facility_id": facility_id,
                "public_key": key.public_key.raw,
                "valid_from": key.valid_from,
                "valid_until": key.valid_until,
                "revoked_at": None,
                "added_seq": seq,
            }
        )

    def _owned_key(self, key_id: str, facility_id: str | None, field_name: str) -> KeyRecord:
        record = self.keys.get(key_id)
        if record is None or record.facility_id != facility_id:
            raise NotFoundError(
                f"key {key_id[:16]}… is not a key of facility {facility_id}", field=field_name
            )
        return record

    def _update_key(self, record: KeyRecord, **values: Any) -> None:
        updated = replace(record, **values)
        self.keys[record.key_id] = updated
        new = next((k for k in self.write.new_keys if k["key_id"] == record.key_id), None)
        if new is not None:
            new.update(values)
        else:
            self.write.key_updates.setdefault(record.key_id, {}).update(values)

    def _apply_rotate_key(self, seq: int, event: RotateKey) -> None:
        self._facility(event.facility)
        if event.retire_key_id is not None:
            old = self._owned_key(event.retire_key_id, event.facility, "retire_key_id")
            until = event.retire_at if old.valid_until is None else min(old.valid_until, event.retire_at)
            self._update_key(old, valid_until=until)
        self._add_key(seq, event.facility or "", event.new_key, "new_key")

    def _apply_revoke_key(self, seq: int, event: RevokeKey) -> None:
        self._facility(event.facility)
        record = self._owned_key(event.key_id, event.facility, "key_id")
        revoked = event.revoked_at if record.revoked_at is None else min(record.revoked_at, event.revoked_at)
        self._update_key(record, revoked_at=revoked)


#: each event kind's ``_apply_<kind>`` method, looked up once (``apply`` runs for every event)
_HANDLERS: dict[str, Callable[[LedgerState, int, Event], None]] = {
    kind: getattr(LedgerState, f"_apply_{kind}") for kind in EVENT_KINDS
}


def _ree_kg(fractions: Mapping[str, float], mass_kg: float) -> dict[str, float]:
    """Mass of each rare earth in ``mass_kg`` of material (DESIGN §4: origin is pooled by element mass)."""
    return {e: f * mass_kg for e, f in fractions.items() if e in REE_SYMBOLS}
