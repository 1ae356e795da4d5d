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
from dataclasses import dataclass
from typing import Protocol

from raretrace.jsontypes import JSONObject
from raretrace.model import Lot
from raretrace.provenance import LotOrigin

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


@dataclass(frozen=True)
class Presentation:
    """A certificate as a holder passes it on: the signed credential (concealed fields as digests) and
    the disclosures of the concealed values the holder chose to show (``disclosure``)."""

    credential: JSONObject
    disclosures: tuple[str, ...]

    def to_dict(self) -> JSONObject:
        """The certificate file's form, ``{"credential": …, "disclosures": […]}``."""
        return {"credential": self.credential, "disclosures": list(self.disclosures)}

    @property
    def number(self) -> str:
        """The certificate number the credential states ("" if it states none)."""
        subject = self.credential.get("credentialSubject")
        number = subject.get("certificateNumber") if isinstance(subject, dict) else None
        return number if isinstance(number, str) else ""


class Party(Protocol):
    """What a certificate states of an exporter or importer (a registered facility)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def operator(self) -> str: ...
    @property
    def country(self) -> str: ...


def _num(value: float) -> float | int:
    """Integral floats as ints: JCS writes 1000.0 as 1000, and the fast canonical path stays fast."""
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def party(facility: Party) -> JSONObject:
    return {
        "id": facility.id,
        "name": facility.name,
        "operator": facility.operator,
        "country": facility.country,
    }


def _shares(by: Mapping[str, float]) -> JSONObject:
    """Shares as JCS writes them (a whole share, 1.0, as 1): the signed bytes are the same either way,
    and a verifier then holds the numbers it hashes and copies nothing to rewrite them."""
    return {key: _num(share) for key, share in by.items()}


def origin_json(origin: LotOrigin) -> JSONObject:
    """An origin vector as JSON, in the order it is given (``provenance.ordered`` sorts it for people)."""
    out: JSONObject = {}
    for element, history in origin.items():
        item: JSONObject = {}
        for aspect in ("location", "technology"):
            if aspect in history:
                shares = history["location"] if aspect == "location" else history["technology"]
                item[aspect] = {stage: _shares(by) for stage, by in shares.items()}
        if "paths" in history:
            item["paths"] = _shares(history["paths"])
        out[element] = item
    return out


def lot_entry(lot: Lot, origin: LotOrigin) -> JSONObject:
    spec = lot.spec
    entry: JSONObject = {
        "id": spec.id,
        "form": spec.form.value,
        "massKg": _num(spec.mass_kg),
        "composition": {k: _num(v) for k, v in sorted(spec.composition.fractions.items())},
        "origin": origin_json(origin),
    }
    if spec.units is not None:
        entry["units"] = spec.units
    if spec.declared_value is not None and spec.currency == "USD":
        entry["declaredValueUsd"] = _num(spec.declared_value)
    return entry


def country_of_origin(origins: Sequence[LotOrigin]) -> str | None:
    """The Kimberley Process states one origin only for unmixed parcels: here, when every element of
    every lot was mined in one country; otherwise None (the per-stage shares say the rest)."""
    countries = {
        country
        for origin in origins
        for element in origin.values()
        for country in element.get("location", {}).get("mining", {"unknown": 1.0})
    }
    return next(iter(countries)) if len(countries) == 1 and "unknown" not in countries else None


@dataclass(frozen=True)
class CertifiedLot:
    """One lot's entry in the credential (``lot_entry``) and the facts the shipment totals need."""

    entry: JSONObject
    origin: LotOrigin
    mass_kg: float | int
    value_usd: float | int | None

    @classmethod
    def of(cls, lot: Lot, origin: LotOrigin) -> CertifiedLot:
        spec = lot.spec
        usd = (
            _num(spec.declared_value) if spec.declared_value is not None and spec.currency == "USD" else None
        )
        return cls(lot_entry(lot, origin), origin, _num(spec.mass_kg), usd)


def _shipment(members: JSONObject, lots: Sequence[CertifiedLot]) -> JSONObject:
    """The shipment: the transfer's own members, then parcels, totals, origin and the lots. The value
    is stated only when every lot declares one in USD."""
    values = [lot.value_usd for lot in lots]
    return {
        **members,
        "parcels": len(lots),
        "massKg": _num(sum(lot.mass_kg for lot in lots)),
        **({"valueUsd": _num(sum(v for v in values if v is not None))} if None not in values else {}),
        "countryOfOrigin": country_of_origin([lot.origin for lot in lots]),
        "lots": [lot.entry for lot in lots],
    }


def credential(
    *,
    credential_id: str,
    number: str,
    issuer_did: str,
    registry_origin: str,
    registry_country: str | None,
    valid_from: str,
    valid_until: str,
    status: JSONObject,
    exporter: JSONObject | None,
    importer: JSONObject | None,
    shipment: JSONObject,
    lots: Sequence[CertifiedLot],
    verdicts: Sequence[JSONObject],
    fingerprints: Sequence[JSONObject],
    evidence: JSONObject,
) -> JSONObject:
    """The unsigned credential; ``certify.issue`` conceals and signs it."""
    authority: JSONObject = {
        "name": registry_origin,
        **({"country": registry_country} if registry_country else {}),
    }
    subject: JSONObject = {
        "type": ["ConformityAttestation", "ShipmentCertificate"],
        "attestationType": "certification",
        "title": TITLE,
        "statement": STATEMENT,
        "certificateNumber": number,
        "issuingAuthority": authority,
        "dateOfIssue": valid_from[:10],
        "dateOfExpiry": valid_until[:10],
        "shipment": _shipment(shipment, lots),
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
