"""Between members' registries: import confirmations and per-period statistics (issue #4, item 6).

Kimberley Process participants reconcile their trade statistics by volume and value. Each raretrace
registry publishes, for a period, what was mined in it, what it certified for export and what it
imported on certificates, by element, mass and value; ``certify.reconcile`` compares two members'
statistics certificate by certificate. An import event in the receiving registry is the importer's
confirmation; the exporting member reads those from the receiving log (``confirmations``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import select

from raretrace.certify.disclosure import reveal
from raretrace.crypto.dsse import recorded_statement
from raretrace.elements import REE_SYMBOLS
from raretrace.ledger.certificates import issuer_did
from raretrace.ledger.registry import Registry
from raretrace.store import schema as t


def _element_kg(lots: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for lot in lots:
        mass = float(lot.get("massKg", 0.0))
        for element, fraction in lot.get("composition", {}).items():
            if element in REE_SYMBOLS:
                out[element] = out.get(element, 0.0) + mass * float(fraction)
    return out


def _shipment(presentation: Mapping[str, Any]) -> dict[str, Any]:
    """What a certificate says of a shipment, as the holder disclosed it to this registry."""
    credential = presentation["credential"]
    body = {k: v for k, v in credential.items() if k != "proof"}
    # a disclosed credential, read as the issuer's signed JSON
    revealed: tuple[dict[str, Any], int] = reveal(body, presentation.get("disclosures", []))
    shown = revealed[0]
    subject = shown["credentialSubject"]
    shipment = subject.get("shipment", {})
    lots = shipment.get("lots", [])
    return {
        "certificate": credential["id"],
        "number": subject.get("certificateNumber"),
        "issuer": credential["issuer"]["id"]
        if isinstance(credential["issuer"], dict)
        else credential["issuer"],
        "exporter": (subject.get("exporter") or {}).get("id"),
        "importer": (subject.get("importer") or {}).get("id"),
        "exporter_country": (subject.get("exporter") or {}).get("country"),
        "parcels": shipment.get("parcels"),
        "mass_kg": shipment.get("massKg"),
        "value_usd": shipment.get("valueUsd"),
        "element_kg": _element_kg(lots),
    }


def _in_period(time: str, start: date, end: date) -> bool:
    return start.isoformat() <= time[:10] <= end.isoformat()


def confirmations(log: Registry, issuer: str | None = None) -> list[dict[str, Any]]:
    """Import confirmations recorded in ``log`` (another member's registry), optionally only for
    certificates issued by ``issuer`` (a did:key)."""
    with log.engine.connect() as conn:
        rows = conn.execute(
            select(t.events.c.seq, t.events.c.time, t.events.c.facility_id, t.events.c.envelope)
            .where(t.events.c.kind == "import")
            .order_by(t.events.c.seq)
        ).all()
    out = []
    for row in rows:
        predicate = recorded_statement(row.envelope)["predicate"]
        item = _shipment(predicate["certificate"])
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


def statistics(registry: Registry, start: date, end: date) -> dict[str, Any]:
    """Production, certified exports and imports of one registry for a period (dates inclusive)."""
    production: dict[str, float] = {}
    with registry.engine.connect() as conn:
        extracts = conn.execute(
            select(t.events.c.time, t.events.c.envelope).where(t.events.c.kind == "extract")
        ).all()
        certificates = conn.execute(select(t.certificates.c.issued_at, t.certificates.c.credential)).all()
    for row in extracts:
        if _in_period(row.time, start, end):
            outputs = recorded_statement(row.envelope)["predicate"]["outputs"]
            for element, kg in _element_kg(
                [{"massKg": o["mass_kg"], "composition": o["composition"]} for o in outputs]
            ).items():
                production[element] = production.get(element, 0.0) + kg
    exports = []
    for row in certificates:
        if _in_period(row.issued_at, start, end):
            credential = json.loads(row.credential)
            record = _issued_record(registry, credential)
            if record is not None:
                exports.append(record)
    imports = [
        {k: v for k, v in c.items() if k != "log"}
        for c in confirmations(registry)
        if _in_period(c["time"], start, end)
    ]
    return {
        "registry": registry.origin,
        "issuer": issuer_did(registry),
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "production_kg": production,
        "exports": exports,
        "imports": imports,
    }


def _issued_record(registry: Registry, credential: Mapping[str, Any]) -> dict[str, Any] | None:
    """An issued certificate as exported, from what the registry stored (it knows every value)."""
    with registry.engine.connect() as conn:
        row = conn.execute(
            select(t.certificates.c.lots, t.certificates.c.transfer_event).where(
                t.certificates.c.id == credential["id"]
            )
        ).one()
    if row.transfer_event is None:
        return None  # a certificate for lots, not a shipment
    with registry.engine.connect() as conn:
        lots = registry.store.lots(conn, json.loads(row.lots))
        receiver = registry.store.transfers(conn, [row.transfer_event])[row.transfer_event].receiver
        importer = registry.store.facilities(conn, [receiver]).get(receiver)
    entries = [
        {"massKg": lot.spec.mass_kg, "composition": dict(lot.spec.composition.fractions)}
        for lot in lots.values()
    ]
    values = [lot.spec.declared_value if lot.spec.currency == "USD" else None for lot in lots.values()]
    subject = credential["credentialSubject"]
    return {
        "certificate": credential["id"],
        "number": subject["certificateNumber"],
        "issuer": credential["issuer"]["id"],
        "importer": receiver,  # the registry knows it even when the certificate conceals it
        "importer_country": None if importer is None else importer.country,
        "parcels": len(entries),
        "mass_kg": sum(e["massKg"] for e in entries),
        "value_usd": None if None in values else sum(v for v in values if v is not None),
        "element_kg": _element_kg(entries),
    }
