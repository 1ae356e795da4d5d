"""The shipment certificate as a W3C Verifiable Credential 2.0 (DESIGN §5), built from plain facts.

It carries every field a Kimberley Process certificate must (31 CFR 592.307, see docs/certificates.md:
title, statement of handling under the scheme, origin, a unique number with the ISO 3166-1 alpha-2 code,
issue and expiry dates, issuing authority, exporter and importer, mass, value in USD, number of parcels,
HS code, validation by the issuer's signature) and maps onto the UN/CEFACT UNTP Digital Conformity
Credential (a ``ConformityAttestation`` subject). Beyond the Kimberley Process, it states origin per
stage and element for mixed parcels and carries the log evidence that makes it checkable offline.
Pure: the service (``ledger/certificates.py``) gathers the facts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CONTEXT = [
    "https://www.w3.org/ns/credentials/v2",
    "https://test.uncefact.org/vocabulary/untp/dcc/0.5.0/",
]
TYPES = ["VerifiableCredential", "DigitalConformityCredential", "RareEarthShipmentCertificate"]
TITLE = "Rare-earth shipment certificate (Kimberley Process model)"
STATEMENT = (
    "The rare-earth material in this shipment was handled under the raretrace chain-of-custody scheme: "
    "every event below was signed by the facility that performed it and is recorded in the issuing "
    "registry's append-only transparency log."
)

#: What a holder may hide (SD-JWT style): supplier identities, masses and prices, and the event
#: envelopes that would reveal them. Paths are relative to ``credentialSubject``.
CONCEALABLE = ("exporter", "importer", "valueUsd", "massKg", "envelope", "declaredValueUsd")


def concealable(path: tuple[str | int, ...]) -> bool:
    return len(path) >= 1 and isinstance(path[-1], str) and path[-1] in CONCEALABLE and path[0] != "type"


def _num(value: float) -> float | int:
    """Integral floats as ints: JCS writes 1000.0 as 1000, and the fast canonical path stays fast."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def party(facility: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": facility["id"],
        "name": facility["name"],
        "operator": facility["operator"],
        "country": facility["country"],
    }


def lot_entry(lot: Mapping[str, Any], origin: Mapping[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": lot["id"],
        "form": lot["form"],
        "massKg": _num(lot["mass_kg"]),
        "composition": {k: _num(v) for k, v in sorted(lot["composition"].items())},
        "origin": origin,
    }
    if lot.get("units") is not None:
        entry["units"] = lot["units"]
    declared = lot.get("declared_value")
    if isinstance(declared, Mapping) and declared.get("currency") == "USD":
        entry["declaredValueUsd"] = _num(declared["amount"])
    return entry


def country_of_origin(lots: Sequence[Mapping[str, Any]]) -> str | None:
    """The Kimberley Process states one origin only for unmixed parcels: here, when every element of
    every lot was mined in one country; otherwise None (the per-stage shares say the rest)."""
    countries = {
        country
        for lot in lots
        for element in lot["origin"].values()
        for country in element["location"].get("mining", {"unknown": 1.0})
    }
    return next(iter(countries)) if len(countries) == 1 and "unknown" not in countries else None


def credential(
    *,
    credential_id: str,
    number: str,
    issuer_did: str,
    registry_origin: str,
    registry_country: str | None,
    valid_from: str,
    valid_until: str,
    status: Mapping[str, Any],
    exporter: Mapping[str, Any] | None,
    importer: Mapping[str, Any] | None,
    shipment: Mapping[str, Any],
    lots: Sequence[Mapping[str, Any]],
    verdicts: Sequence[Mapping[str, Any]],
    fingerprints: Sequence[Mapping[str, Any]],
    evidence: Mapping[str, Any],
) -> dict[str, Any]:
    """The unsigned credential; ``certify.issue`` conceals and signs it."""
    mass = sum(lot["massKg"] for lot in lots)
    values = [lot.get("declaredValueUsd") for lot in lots]
    subject: dict[str, Any] = {
        "type": ["ConformityAttestation", "ShipmentCertificate"],
        "attestationType": "certification",
        "title": TITLE,
        "statement": STATEMENT,
        "certificateNumber": number,
        "issuingAuthority": {
            "name": registry_origin,
            **({"country": registry_country} if registry_country else {}),
        },
        "dateOfIssue": valid_from[:10],
        "dateOfExpiry": valid_until[:10],
        "shipment": {
            **shipment,
            "parcels": len(lots),
            "massKg": _num(mass),
            **({"valueUsd": _num(sum(v for v in values if v is not None))} if None not in values else {}),
            "countryOfOrigin": country_of_origin(lots),
            "lots": list(lots),
        },
        "compliance": list(verdicts),
        "fingerprint": list(fingerprints),
        "logEvidence": dict(evidence),
    }
    if exporter is not None:
        subject["exporter"] = dict(exporter)
    if importer is not None:
        subject["importer"] = dict(importer)
    return {
        "@context": list(CONTEXT),
        "id": credential_id,
        "type": list(TYPES),
        "name": TITLE,
        "issuer": {"id": issuer_did, "name": registry_origin},
        "validFrom": valid_from,
        "validUntil": valid_until,
        "credentialStatus": dict(status),
        "credentialSubject": subject,
    }
