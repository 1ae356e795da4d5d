"""Typed custody events, parsed from the predicate of a signed in-toto Statement.

An event file (what ``raretrace sign`` takes) is the predicate itself: a JSON object with ``kind``,
``event_id``, ``time`` and the kind's own fields. The statement wraps it with
``predicateType = https://raretrace.dev/event/<kind>/v1`` and one subject per lot or facility the
event creates or acts on, each with the SHA-256 of that object's canonical JSON, so the statement
names its artifacts the way in-toto expects. Parsing names the first bad field.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypedDict

from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.dsse import STATEMENT_TYPE, sign_statement
from raretrace.crypto.keys import PublicKey, Signer
from raretrace.errors import ValidationError
from raretrace.fields import Fields, table_of
from raretrace.jsontypes import JSONObject, JSONValue
from raretrace.model import (
    ASSEMBLE_STAGES,
    PROCESS_STAGES,
    Composition,
    Facility,
    LotSpec,
    Stage,
    parse_enum,
    parse_id,
    parse_lot_id,
    parse_positive,
)
from raretrace.provenance import check_paths
from raretrace.times import parse_time

PREDICATE_PREFIX = "https://raretrace.dev/event/"
PREDICATE_SUFFIX = "/v1"


def predicate_type(kind: str) -> str:
    return f"{PREDICATE_PREFIX}{kind}{PREDICATE_SUFFIX}"


def _list(f: Fields, name: str, *, optional: bool = False) -> list[object]:
    """The list at ``name``: non-empty, or (``optional``) absent, null or empty, read as empty."""
    if not optional:
        return f.items(name, required=True)
    return f.items(name) if f.has(name) else []


class _Base(TypedDict):
    """The fields every event has, read before its kind's own (``parse_event``)."""

    event_id: str
    time: str
    facility: str | None


@dataclass(frozen=True)
class Consumption:
    """A mass taken from an existing lot."""

    lot: str
    mass_kg: float

    @classmethod
    def from_dict(cls, value: object, where: str) -> Consumption:
        f = Fields(value, where, shape="must be {lot, mass_kg}")
        return cls(f.checked("lot", parse_lot_id), f.checked("mass_kg", parse_positive))

    def to_dict(self) -> JSONObject:
        return {"lot": self.lot, "mass_kg": self.mass_kg}


@dataclass(frozen=True)
class ExternalFeed:
    """Material entering without a registry history (non-REE additions, untraced scrap)."""

    material: str
    mass_kg: float
    composition: Composition

    @classmethod
    def from_dict(cls, value: object, where: str) -> ExternalFeed:
        f = Fields(value, where, shape="must be {material, mass_kg, composition}")
        return cls(
            f.text("material"),
            f.checked("mass_kg", parse_positive),
            Composition.from_dict(f.raw("composition", {}), f.field("composition")),
        )

    def to_dict(self) -> JSONObject:
        return {"material": self.material, "mass_kg": self.mass_kg, "composition": self.composition.to_dict()}


@dataclass(frozen=True)
class KeySpec:
    """A public key and the period it may sign for."""

    public_key: PublicKey
    valid_from: str
    valid_until: str | None = None

    @classmethod
    def from_dict(cls, value: object, where: str, default_from: str) -> KeySpec:
        """``default_from`` (the event's time, already normalized) when ``valid_from`` is absent."""
        f = Fields(value, where, shape="must be {public_key, valid_from, valid_until}")
        key = PublicKey.from_b64(f.text("public_key"), field=f.field("public_key"))
        start = f.time("valid_from", default_from)
        until = f.time("valid_until", None)
        if until is not None and until <= start:
            raise f.error("valid_until", "must be after valid_from")
        return cls(key, start, until)


@dataclass(frozen=True)
class Event:
    """Fields every event has. ``facility`` is the acting facility (None for secretariat acts)."""

    kind: ClassVar[str]
    secretariat_only: ClassVar[bool] = False
    event_id: str
    time: str
    facility: str | None

    def subjects(self) -> list[tuple[str, object]]:
        """(name, object) pairs the statement's subjects hash; see ``statement_for``."""
        return [(self.event_id, {"event_id": self.event_id})]


@dataclass(frozen=True)
class Extract(Event):
    kind: ClassVar[str] = "extract"
    deposit: str
    outputs: tuple[LotSpec, ...]

    def subjects(self) -> list[tuple[str, object]]:
        return [(o.id, o.to_dict()) for o in self.outputs]


@dataclass(frozen=True)
class Process(Event):
    kind: ClassVar[str] = "process"
    stage: Stage
    inputs: tuple[Consumption, ...]
    additions: tuple[ExternalFeed, ...]
    outputs: tuple[LotSpec, ...]

    def subjects(self) -> list[tuple[str, object]]:
        return [(o.id, o.to_dict()) for o in self.outputs]


@dataclass(frozen=True)
class Assemble(Process):
    kind: ClassVar[str] = "assemble"


@dataclass(frozen=True)
class Recycle(Process):
    """Scrap (traced lots in ``inputs``, untraced feed in ``additions``) becomes a new feed."""

    kind: ClassVar[str] = "recycle"


@dataclass(frozen=True)
class Transfer(Event):
    kind: ClassVar[str] = "transfer"
    to: str
    lots: tuple[str, ...]
    details: Mapping[str, object]

    def subjects(self) -> list[tuple[str, object]]:
        return [(lot, {"lot": lot, "to": self.to}) for lot in self.lots]


@dataclass(frozen=True)
class Receive(Event):
    kind: ClassVar[str] = "receive"
    transfer_event: str
    lots: tuple[str, ...]

    def subjects(self) -> list[tuple[str, object]]:
        return [(lot, {"lot": lot, "transfer_event": self.transfer_event}) for lot in self.lots]


@dataclass(frozen=True)
class Assay(Event):
    kind: ClassVar[str] = "assay"
    lot: str
    method: str
    results: Mapping[str, object]

    def subjects(self) -> list[tuple[str, object]]:
        return [(self.lot, {"lot": self.lot, "results": dict(self.results)})]


@dataclass(frozen=True)
class LotAmendment:
    lot: str
    composition: Composition | None
    remaining_kg: float | None
    void: bool


@dataclass(frozen=True)
class Correct(Event):
    kind: ClassVar[str] = "correct"
    secretariat_only: ClassVar[bool] = True
    target_event: str
    reason: str
    amendments: tuple[LotAmendment, ...]


@dataclass(frozen=True)
class RegisterFacility(Event):
    kind: ClassVar[str] = "register_facility"
    secretariat_only: ClassVar[bool] = True
    spec: Facility
    keys: tuple[KeySpec, ...]

    def subjects(self) -> list[tuple[str, object]]:
        return [(self.spec.id, self.spec.to_dict())]


@dataclass(frozen=True)
class RotateKey(Event):
    """Adds ``new_key``, retires ``retire_key_id`` from ``retire_at``; by the facility or secretariat."""

    kind: ClassVar[str] = "rotate_key"
    new_key: KeySpec
    retire_key_id: str | None
    retire_at: str


@dataclass(frozen=True)
class RevokeKey(Event):
    """Marks a key invalid from ``revoked_at`` (which may lie before the event: a compromise)."""

    kind: ClassVar[str] = "revoke_key"
    key_id: str
    revoked_at: str
    reason: str


@dataclass(frozen=True)
class Import(Event):
    """Lots shipped from another member's registry, accepted on the strength of its certificate.

    The event carries the certificate (credential and the disclosures it needs: masses and
    compositions); the registry verifies it offline against the registries it trusts before creating
    the lots with the certified composition and origin vectors. Recorded in this registry's log, the
    event is also the importer's confirmation of receipt that the Kimberley Process requires.
    """

    kind: ClassVar[str] = "import"
    certificate: Mapping[str, object]
    status_list: Mapping[str, object] | None
    outputs: tuple[LotSpec, ...]
    #: Per lot, the origin vector the certificate shows (checked for paths only: a LotOrigin as JSON).
    origins: Mapping[str, Any]
    stages: Mapping[str, Stage]

    def subjects(self) -> list[tuple[str, object]]:
        return [(o.id, o.to_dict()) for o in self.outputs]


def _outputs(f: Fields) -> tuple[LotSpec, ...]:
    outs = tuple(LotSpec.from_dict(v, f"outputs[{i}]") for i, v in enumerate(_list(f, "outputs")))
    seen: set[str] = set()
    for i, out in enumerate(outs):
        if out.id in seen:
            raise ValidationError(f"lot {out.id} is produced twice by this event", field=f"outputs[{i}].id")
        seen.add(out.id)
    return outs


def _consumptions(f: Fields, name: str, *, optional: bool = False) -> tuple[Consumption, ...]:
    items = tuple(
        Consumption.from_dict(v, f"{name}[{i}]") for i, v in enumerate(_list(f, name, optional=optional))
    )
    lots = [c.lot for c in items]
    if len(set(lots)) != len(lots):
        raise ValidationError("the same lot is consumed twice; give its total mass once", field=name)
    return items


def _feeds(f: Fields, name: str) -> tuple[ExternalFeed, ...]:
    return tuple(
        ExternalFeed.from_dict(v, f"{name}[{i}]") for i, v in enumerate(_list(f, name, optional=True))
    )


def _stage(f: Fields, allowed: frozenset[Stage], kind: str) -> Stage:
    stage = parse_enum(Stage, f.raw("stage", None), "stage")
    if stage not in allowed:
        raise ValidationError(
            f"a {kind} event performs one of {', '.join(sorted(allowed))}, not {stage}", field="stage"
        )
    return stage


def _lot_ids(f: Fields, name: str) -> tuple[str, ...]:
    ids = tuple(parse_lot_id(v, f"{name}[{i}]") for i, v in enumerate(_list(f, name)))
    if len(set(ids)) != len(ids):
        raise ValidationError("a lot is listed twice", field=name)
    return ids


def _parse_extract(d: Fields, base: _Base) -> Event:
    return Extract(**base, deposit=d.text("deposit"), outputs=_outputs(d))


def _parse_process(d: Fields, base: _Base) -> Event:
    return Process(
        **base,
        stage=_stage(d, PROCESS_STAGES, "process"),
        inputs=_consumptions(d, "inputs"),
        additions=_feeds(d, "additions"),
        outputs=_outputs(d),
    )


def _parse_assemble(d: Fields, base: _Base) -> Event:
    return Assemble(
        **base,
        stage=_stage(d, ASSEMBLE_STAGES, "assemble"),
        inputs=_consumptions(d, "inputs"),
        additions=_feeds(d, "additions"),
        outputs=_outputs(d),
    )


def _parse_recycle(d: Fields, base: _Base) -> Event:
    inputs = _consumptions(d, "inputs", optional=True)
    feed = _feeds(d, "external_feed")
    if not inputs and not feed:
        raise ValidationError("a recycle event needs traced scrap lots or an external feed", field="inputs")
    return Recycle(**base, stage=Stage.RECYCLING, inputs=inputs, additions=feed, outputs=_outputs(d))


def _parse_transfer(d: Fields, base: _Base) -> Event:
    details = d.raw("details", {})
    if not isinstance(details, dict):
        raise ValidationError("must be an object (hs_code, value, documents …)", field="details")
    to = parse_id(d.raw("to", None), "to")
    if to == base["facility"]:
        raise ValidationError("a facility cannot transfer to itself", field="to")
    return Transfer(**base, to=to, lots=_lot_ids(d, "lots"), details=details)


def _parse_receive(d: Fields, base: _Base) -> Event:
    return Receive(**base, transfer_event=d.text("transfer_event"), lots=_lot_ids(d, "lots"))


def _parse_assay(d: Fields, base: _Base) -> Event:
    results = d.raw("results", None)
    if not isinstance(results, dict) or not results:
        raise ValidationError("missing or not a non-empty object of measurements", field="results")
    _measurements(results, "results", 1)
    return Assay(
        **base, lot=parse_lot_id(d.raw("lot", None), "lot"), method=d.text("method"), results=results
    )


#: How deep an assay's results may nest (``{"detection_limits": {"Nd": 0.1}}`` is two levels).
MAX_RESULT_DEPTH = 3


def _measurements(value: object, where: str, depth: int) -> None:
    """An assay's results: names with text, finite numbers within the registry's bound, or objects of
    those (a few levels deep); nothing that would store ``Infinity`` or a 400-digit number."""
    if isinstance(value, dict):
        if depth > MAX_RESULT_DEPTH:
            raise ValidationError(f"nested more than {MAX_RESULT_DEPTH} levels deep", field=where)
        for name, item in value.items():
            _measurements(item, f"{where}.{name}", depth + 1)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        parse_positive(abs(value), where, allow_zero=True)
    elif value is not None and not isinstance(value, str | bool):
        raise ValidationError("must be a number, text or an object of those", field=where)


def _parse_correct(d: Fields, base: _Base) -> Event:
    amendments = []
    for i, item in enumerate(_list(d, "amend_lots", optional=True)):
        amendments.append(_amendment(Fields(item, f"amend_lots[{i}]", shape=AMENDMENT_SHAPE)))
    return Correct(
        **base,
        target_event=d.text("target_event"),
        reason=d.text("reason"),
        amendments=tuple(amendments),
    )


AMENDMENT_SHAPE = "must be {lot, composition?, remaining_kg?, void?}"


def _amendment(f: Fields) -> LotAmendment:
    """One ``amend_lots`` item: the lot, and what changes about it (only what is given)."""
    given, left = f.raw("composition", None), f.raw("remaining_kg", None)
    composition = None if given is None else Composition.from_dict(given, f.field("composition"))
    remaining = None if left is None else parse_positive(left, f.field("remaining_kg"), allow_zero=True)
    return LotAmendment(
        lot=parse_lot_id(f.raw("lot", None), f.field("lot")),
        composition=composition,
        remaining_kg=remaining,
        void=f.boolean("void", False),
    )


def _parse_register(d: Fields, base: _Base) -> Event:
    spec = Facility.from_dict(d.raw("facility", None))
    keys = tuple(KeySpec.from_dict(k, f"keys[{i}]", base["time"]) for i, k in enumerate(_list(d, "keys")))
    acting: _Base = {**base, "facility": spec.id}
    return RegisterFacility(**acting, spec=spec, keys=keys)


def _parse_rotate(d: Fields, base: _Base) -> Event:
    retire = d.raw("retire_key_id", None)
    if retire is not None and not isinstance(retire, str):
        raise ValidationError("must be a key id string", field="retire_key_id")
    retire_at = d.time("retire_at", base["time"])
    return RotateKey(
        **base,
        new_key=KeySpec.from_dict(d.raw("new_key", None), "new_key", base["time"]),
        retire_key_id=retire,
        retire_at=retire_at,
    )


def _parse_revoke(d: Fields, base: _Base) -> Event:
    return RevokeKey(
        **base,
        key_id=d.text("key_id"),
        revoked_at=d.time("revoked_at", base["time"]),
        reason=d.text("reason"),
    )


def _check_stage_shares(value: object, where: str) -> None:
    """``{stage: {place or technology: share}}`` as a certificate shows an origin's marginals: each
    stage's shares numbers from 0 to 1 adding up to one."""
    if not isinstance(value, dict):
        raise ValidationError("must be a table of stage -> {name: share}", field=where)
    for stage, shares in value.items():
        if not isinstance(shares, dict) or not shares:
            raise ValidationError(f"stage {stage!r} must be a non-empty table of name -> share", field=where)
        if not all(
            not isinstance(v, bool) and isinstance(v, int | float) and 0 <= v <= 1 for v in shares.values()
        ):
            raise ValidationError(f"the shares of stage {stage!r} must be numbers from 0 to 1", field=where)
        if abs(sum(shares.values()) - 1.0) > 1e-6:
            raise ValidationError(f"the shares of stage {stage!r} do not add up to 1", field=where)


def _certified_lot(lot: object, where: str) -> tuple[LotSpec, Mapping[str, Any], Stage]:
    if not isinstance(lot, dict):
        raise ValidationError("must be a lot object", field=where)
    for name in ("massKg", "composition", "origin"):
        if name not in lot:
            raise ValidationError(
                f"the certificate does not show the lot's {name}: an import needs it", field=where
            )
    declared = lot.get("declaredValueUsd")
    spec = LotSpec.from_dict(
        {
            "id": lot.get("id"),
            "form": lot.get("form"),
            "mass_kg": lot["massKg"],
            "composition": lot["composition"],
            **({"units": lot["units"]} if "units" in lot else {}),
            **({"declared_value": {"amount": declared, "currency": "USD"}} if declared is not None else {}),
        },
        where,
    )
    origin = lot["origin"]
    if not isinstance(origin, dict):
        raise ValidationError("must be an origin vector", field=f"{where}.origin")
    done: set[str] = set()
    for symbol, element in origin.items():
        # read from another registry's certificate: each part checked, so a malformed one is refused
        # naming it rather than failing somewhere later
        if not isinstance(element, dict):
            raise ValidationError(
                "must be an element's origin {location: {stage: {place: share}}, …}",
                field=f"{where}.origin.{symbol}",
            )
        for aspect in ("location", "technology"):
            if aspect in element:
                _check_stage_shares(element[aspect], f"{where}.origin.{symbol}.{aspect}")
        if "paths" in element:
            check_paths(element["paths"], f"{where}.origin.{symbol}.paths")
        done.update(element.get("location", {}))
    known = {st.value for st in Stage}
    stage = max((Stage(s) for s in done if s in known), key=list(Stage).index, default=None)
    if stage is None:
        raise ValidationError("the certified origin names no stage", field=f"{where}.origin")
    return spec, origin, stage


def _parse_import(d: Fields, base: _Base) -> Event:
    from raretrace.certify.disclosure import reveal

    certificate = d.raw("certificate", None)
    if not isinstance(certificate, dict) or not isinstance(certificate.get("credential"), dict):
        raise ValidationError("must be a certificate {credential, disclosures}", field="certificate")
    status = d.raw("status_list", None)
    if status is not None and not isinstance(status, dict):
        raise ValidationError("must be the issuer's status list credential", field="status_list")
    body = {k: v for k, v in certificate["credential"].items() if k != "proof"}
    try:
        # read with .get below: each value is checked where it is used
        revealed: tuple[dict[str, Any], int] = reveal(body, certificate.get("disclosures", []))
    except ValidationError as e:
        raise ValidationError(e.message, field=f"certificate.{e.field}") from e
    shown = revealed[0]
    subject = shown.get("credentialSubject")
    shipment = subject.get("shipment") if isinstance(subject, dict) else None
    lots = shipment.get("lots") if isinstance(shipment, dict) else None
    if not isinstance(lots, list) or not lots:
        raise ValidationError("the certificate lists no lots", field="certificate")
    outputs, origins, stages = [], {}, {}
    for i, lot in enumerate(lots):
        spec, origin, stage = _certified_lot(lot, f"certificate.lots[{i}]")
        outputs.append(spec)
        origins[spec.id], stages[spec.id] = origin, stage
    return Import(
        **base,
        certificate=certificate,
        status_list=status,
        outputs=tuple(outputs),
        origins=origins,
        stages=stages,
    )


_PARSERS: dict[str, Callable[[Fields, _Base], Event]] = {
    "extract": _parse_extract,
    "process": _parse_process,
    "assemble": _parse_assemble,
    "recycle": _parse_recycle,
    "transfer": _parse_transfer,
    "receive": _parse_receive,
    "assay": _parse_assay,
    "correct": _parse_correct,
    "register_facility": _parse_register,
    "rotate_key": _parse_rotate,
    "revoke_key": _parse_revoke,
    "import": _parse_import,
}

EVENT_KINDS = tuple(_PARSERS)

#: Kinds only the registry's secretariat may sign: the one definition (``secretariat_only`` on the class).
SECRETARIAT_KINDS: frozenset[str] = frozenset(
    cls.kind for cls in (Correct, RegisterFacility) if cls.secretariat_only
)


def parse_event(data: object) -> Event:
    """Parse an event (a statement predicate) into its typed object, naming the first bad field."""
    # an event's fields are named from its top ("outputs[0].mass_kg"); the event itself is "event"
    f = Fields(table_of(data, "event", "an event must be a JSON object"), "")
    kind = f.raw("kind", None)
    parser = _PARSERS.get(kind) if isinstance(kind, str) else None
    if parser is None:
        raise ValidationError(f"{kind!r} is not one of {', '.join(EVENT_KINDS)}", field="kind")
    event_id = f.raw("event_id", None)
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 200:
        raise f.error("event_id", "missing or not a string of 1-200 characters")
    base: _Base = {
        "event_id": event_id,
        "time": parse_time(f.raw("time", None), "time"),
        "facility": None if kind in SECRETARIAT_KINDS else parse_id(f.raw("facility", None), "facility"),
    }
    return parser(f, base)


def subject_list(event: Event) -> list[JSONValue]:
    """The statement subjects an event implies: each created or touched object with its digest."""
    return [
        {"name": name, "digest": {"sha256": hashlib.sha256(canonical_bytes(obj)).hexdigest()}}
        for name, obj in event.subjects()
    ]


def statement_for(event_data: object) -> dict[str, object]:
    """The in-toto Statement v1 that carries an event; subjects are derived, never free text."""
    event = parse_event(event_data)
    assert isinstance(event_data, Mapping)  # parse_event refused anything else
    return {
        "_type": STATEMENT_TYPE,
        "subject": subject_list(event),
        "predicateType": predicate_type(event.kind),
        "predicate": dict(event_data),
    }


def event_from_statement(statement: Mapping[str, object]) -> Event:
    """Parse and cross-check a statement: predicateType and subjects must match the predicate."""
    event = parse_event(statement["predicate"])
    if statement["predicateType"] != predicate_type(event.kind):
        raise ValidationError(
            f"must be {predicate_type(event.kind)!r} for a {event.kind} event", field="payload.predicateType"
        )
    if statement["subject"] != subject_list(event):
        raise ValidationError(
            "subjects do not match the lots and digests the predicate declares", field="payload.subject"
        )
    return event


def sign_event(event_data: object, signers: Sequence[Signer]) -> bytes:
    """Envelope bytes for an event: its statement, canonicalized and signed by every signer."""
    return sign_statement(statement_for(event_data), signers)
