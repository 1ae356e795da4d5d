"""Between members' registries: import confirmations and per-period statistics (issue #4, item 6).

Kimberley Process participants reconcile their trade statistics by volume and value. Each raretrace
registry publishes, for a period, what was mined in it, what it certified for export and what it
imported on certificates, by element, mass and value; ``certify.reconcile`` compares two members'
statistics certificate by certificate. An import event in the receiving registry is the importer's
confirmation; the exporting member reads those from the receiving log (``confirmations``).

The answers are JSON objects (``statistics`` is a published document, compared field by field by
``certify.reconcile``), built here from checked values: a certificate or event this registry holds was
checked when it was recorded, so a missing field is a programming error, not bad input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date

from raretrace.certify.disclosure import reveal
from raretrace.crypto.dsse import recorded_statement
from raretrace.elements import REE_SYMBOLS
from raretrace.jsontypes import JSONObject, JSONScalar, JSONValue, is_json
from raretrace.ledger.certificates import issuer_did
from raretrace.ledger.registry import Registry
from raretrace.store import confirmations as import_store
from raretrace.store import federation as store


def _object(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _element_kg(lots: Iterable[tuple[float, Mapping[str, object]]]) -> dict[str, float]:
    """Kilograms of each rare-earth element in lots given as (mass in kg, composition)."""
    out: dict[str, float] = {}
    for mass, composition in lots:
        for element, fraction in composition.items():
            if element in REE_SYMBOLS:
                out[element] = out.get(element, 0.0) + mass * _number(fraction)
    return out


def _scalar(value: object) -> JSONScalar:
    """A value a recorded certificate holds as a JSON scalar (checked when the import was recorded)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"a certificate field holds {type(value).__name__}, not a JSON scalar")


def _kg(values: Mapping[str, float]) -> JSONObject:
    out: JSONObject = dict(values)
    return out


def _by_form(lots: Iterable[tuple[str, float, Mapping[str, object], float | None]]) -> JSONObject:
    """Per form of material (ISO 22095's unit of trade here: ore, oxide, metal, magnet ...): mass,
    value (None when a lot's value is not declared) and kg per rare-earth element."""
    forms: dict[str, tuple[float, float | None, dict[str, float]]] = {}
    for form, mass, composition, value in lots:
        total, worth, elements = forms.get(form, (0.0, 0.0, {}))
        for element, kg in _element_kg([(mass, composition)]).items():
            elements[element] = elements.get(element, 0.0) + kg
        forms[form] = (total + mass, None if worth is None or value is None else worth + value, elements)
    return {
        form: {"mass_kg": total, "value_usd": worth, "element_kg": _kg(elements)}
        for form, (total, worth, elements) in sorted(forms.items())
    }


def _shipment(presentation: Mapping[str, object]) -> JSONObject:
    """What a certificate says of a shipment, as the holder disclosed it to this registry."""
    credential = _object(presentation.get("credential"))
    body: JSONObject = {k: v for k, v in credential.items() if k != "proof" and is_json(v)}
    disclosures = presentation.get("disclosures", [])
    shown, _ = reveal(body, disclosures if isinstance(disclosures, list) else [])
    subject = _object(shown.get("credentialSubject"))
    shipment = _object(subject.get("shipment"))
    lots = shipment.get("lots", [])
    issuer = credential.get("issuer")
    exporter, importer = _object(subject.get("exporter")), _object(subject.get("importer"))
    shown_lots = [_object(lot) for lot in (lots if isinstance(lots, list) else [])]
    element_kg = _element_kg(
        (_number(lot.get("massKg")), _object(lot.get("composition"))) for lot in shown_lots
    )
    by_form = _by_form(
        (
            str(lot.get("form", "undisclosed")),
            _number(lot.get("massKg")),
            _object(lot.get("composition")),
            _number(lot["declaredValueUsd"]) if "declaredValueUsd" in lot else None,
        )
        for lot in shown_lots
    )
    return {
        "certificate": _scalar(credential.get("id")),
        "number": _scalar(subject.get("certificateNumber")),
        "issuer": _scalar(_object(issuer).get("id") if isinstance(issuer, Mapping) else issuer),
        "exporter": _scalar(exporter.get("id")),
        "importer": _scalar(importer.get("id")),
        "exporter_country": _scalar(exporter.get("country")),
        "parcels": _scalar(shipment.get("parcels")),
        "mass_kg": _scalar(shipment.get("massKg")),
        "value_usd": _scalar(shipment.get("valueUsd")),
        "element_kg": _kg(element_kg),
        "by_form": by_form,
    }


def _in_period(time: str, start: date, end: date) -> bool:
    return start.isoformat() <= time[:10] <= end.isoformat()


def confirmations(log: Registry, issuer: str | None = None) -> list[JSONObject]:
    """Import confirmations recorded in ``log`` (another member's registry), optionally only for
    certificates issued by ``issuer`` (a did:key)."""
    with log.engine.connect() as conn:
        rows = import_store.import_events(conn)
    out: list[JSONObject] = []
    for row in rows:
        predicate = _object(recorded_statement(row.envelope).get("predicate"))
        item = _shipment(_object(predicate.get("certificate")))
        if issuer is None or item["issuer"] == issuer:
            out.append(
                {
                    **item,
                    "confirmed_by": row.facility_id,
                    "time": row.time,
                    "leaf_index": row.seq,
                    "log": log.origin,
                }
            )
    return out


def _production(registry: Registry, start: date, end: date) -> dict[str, float]:
    production: dict[str, float] = {}
    with registry.engine.connect() as conn:
        extracts = store.extract_events(conn)
    for time, envelope in extracts:
        if not _in_period(time, start, end):
            continue
        outputs = _object(recorded_statement(envelope).get("predicate")).get("outputs")
        lots = [_object(o) for o in (outputs if isinstance(outputs, list) else [])]
        for element, kg in _element_kg(
            (_number(o.get("mass_kg")), _object(o.get("composition"))) for o in lots
        ).items():
            production[element] = production.get(element, 0.0) + kg
    return production


def statistics(registry: Registry, start: date, end: date) -> JSONObject:
    """Production, certified exports and imports of one registry for a period (dates inclusive)."""
    with registry.engine.connect() as conn:
        issued = store.issued_certificates(conn)
    exports: list[JSONValue] = []
    for certificate in issued:
        if _in_period(certificate.issued_at, start, end):
            record = _issued_record(registry, certificate)
            if record is not None:
                exports.append(record)
    imports: list[JSONValue] = [
        {k: v for k, v in c.items() if k != "log"}
        for c in confirmations(registry)
        if _in_period(str(c["time"]), start, end)
    ]
    return {
        "registry": registry.origin,
        "issuer": issuer_did(registry),
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "production_kg": _kg(_production(registry, start, end)),
        "exports": exports,
        "imports": imports,
    }


def _issued_record(registry: Registry, certificate: store.IssuedCertificate) -> JSONObject | None:
    """An issued certificate as exported, from what the registry stored (it knows every value)."""
    if certificate.transfer_event is None:
        return None  # a certificate for lots, not a shipment
    transfer = certificate.transfer_event
    with registry.engine.connect() as conn:
        lots = registry.store.lots(conn, list(certificate.lots))
        receiver = registry.store.transfers(conn, [transfer])[transfer].receiver
        importer = registry.store.facilities(conn, [receiver]).get(receiver)
    masses = [(lot.spec.mass_kg, dict(lot.spec.composition.fractions)) for lot in lots.values()]
    values = [lot.spec.declared_value if lot.spec.currency == "USD" else None for lot in lots.values()]
    credential = json.loads(certificate.credential)
    return {
        "certificate": certificate.id,
        "number": str(credential["credentialSubject"]["certificateNumber"]),
        "issuer": str(credential["issuer"]["id"]),
        "importer": receiver,  # the registry knows it even when the certificate conceals it
        "importer_country": None if importer is None else importer.country,
        "parcels": len(masses),
        "mass_kg": sum(mass for mass, _ in masses),
        "value_usd": None if None in values else sum(v for v in values if v is not None),
        "element_kg": _kg(_element_kg(masses)),
        "by_form": _by_form(
            (lot.spec.form.value, lot.spec.mass_kg, dict(lot.spec.composition.fractions), value)
            for lot, value in zip(lots.values(), values, strict=True)
        ),
    }
