"""Signed monthly statistics of a member, and their reconciliation between two members.

Why signed: a member's figures are only worth comparing if nobody can alter them on the way and the
member cannot later deny them. Each month a registry signs its statistics (``ledger.federation
.statistics``: production, every certified export, every confirmed import) with its log key, as a
DSSE envelope over an in-toto Statement whose predicate carries the figures plus a summary per
partner country and element (mass, value, number of certificates). Any member checks the envelope against
the log keys the consortium file lists for the signer's origin (rotated keys included), then
reconciles certificate by certificate (``certify.reconcile``), which names every mismatch: a
shipment exported but not confirmed, confirmed but never issued, or confirmed with other parcels,
masses per element or value.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from raretrace.certify.reconcile import reconcile
from raretrace.crypto.canonical import canonical_bytes
from raretrace.crypto.dsse import parse_envelope, sign_statement
from raretrace.crypto.keys import PublicKey
from raretrace.errors import ProofError, ValidationError
from raretrace.ledger.consortium import Consortium, Member
from raretrace.ledger.federation import statistics
from raretrace.ledger.registry import Registry
from raretrace.log.note import parse_verifier_key

PREDICATE_TYPE = "https://raretrace.dev/consortium/monthly-statistics/v1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")


def month_range(month: str) -> tuple[date, date]:
    """``YYYY-MM`` -> its first and last day."""
    match = _MONTH.fullmatch(month)
    if match is None:
        raise ValidationError(f"{month!r} is not a month (YYYY-MM)", field="month")
    year, number = int(match.group(1)), int(match.group(2))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


def _summary(items: list[Mapping[str, Any]], partner_key: str) -> list[dict[str, Any]]:
    by_partner: dict[str, dict[str, Any]] = {}
    for item in items:
        partner = str(item.get(partner_key) or "undisclosed")
        row = by_partner.setdefault(
            partner,
            {"partner": partner, "certificates": 0, "mass_kg": 0.0, "value_usd": 0.0, "element_kg": {}},
        )
        row["certificates"] += 1
        row["mass_kg"] += float(item.get("mass_kg") or 0.0)
        if row["value_usd"] is not None and item.get("value_usd") is not None:
            row["value_usd"] += float(item["value_usd"])
        else:
            row["value_usd"] = None  # one undeclared value makes the total unknown, not smaller
        for element, kg in item.get("element_kg", {}).items():
            row["element_kg"][element] = row["element_kg"].get(element, 0.0) + float(kg)
    return [by_partner[p] for p in sorted(by_partner)]


def monthly_statistics(registry: Registry, month: str) -> dict[str, Any]:
    """The registry's statistics for ``month`` with a summary per partner and element."""
    start, end = month_range(month)
    stats = statistics(registry, start, end)
    return {
        **stats,
        "month": month,
        "summary": {
            "exports": _summary(stats["exports"], "importer_country"),
            "imports": _summary(stats["imports"], "exporter_country"),
        },
    }


def sign_monthly(registry: Registry, month: str) -> bytes:
    """The month's statistics as a DSSE envelope signed with the registry's log key."""
    predicate = monthly_statistics(registry, month)
    digest = hashlib.sha256(canonical_bytes(predicate)).hexdigest()
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": f"statistics:{registry.origin}:{month}", "digest": {"sha256": digest}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }
    return sign_statement(statement, [registry.signer])


def open_monthly(consortium: Consortium, raw: bytes) -> tuple[Member, dict[str, Any]]:
    """Steps: 1. a DSSE in-toto statement of monthly statistics; 2. the member whose origin it names;
    3. signed by one of that member's log keys (current or rotated); 4. the subject digest matches."""
    envelope = parse_envelope(raw)
    statement = envelope.statement()
    if statement["predicateType"] != PREDICATE_TYPE:
        raise ValidationError(f"is not {PREDICATE_TYPE}", field="payload.predicateType")
    predicate = statement["predicate"]
    origin = predicate.get("registry")
    if not isinstance(origin, str):
        raise ValidationError("names no registry", field="predicate.registry")
    member = consortium.by_origin(origin)
    keys = [PublicKey(parse_verifier_key(k.key).public_key) for k in member.log_keys]
    if not any(k.is_valid(s.sig, envelope.signing_bytes) for k in keys for s in envelope.signatures):
        raise ProofError(
            f"the statistics are not signed by a log key of member {member.id}", field="signatures"
        )
    digest = hashlib.sha256(canonical_bytes(predicate)).hexdigest()
    subjects = statement["subject"]
    if not any(isinstance(s, dict) and s.get("digest", {}).get("sha256") == digest for s in subjects):
        raise ProofError("the subject digest is not that of the statistics", field="payload.subject")
    return member, predicate


def reconcile_signed(consortium: Consortium, exporter: bytes, importer: bytes) -> dict[str, Any]:
    """Both members' signed statistics checked, then every mismatch of the exporter's shipments to
    the importer's registry named (certificate, field, both figures)."""
    ex_member, ex = open_monthly(consortium, exporter)
    im_member, im = open_monthly(consortium, importer)
    if ex.get("month") != im.get("month"):
        raise ValidationError(f"months differ: {ex.get('month')} and {im.get('month')}", field="month")
    # the exporter's shipments to the importer's country (a member is one country's registry)
    shipped = {
        **ex,
        "exports": [e for e in ex.get("exports", []) if e.get("importer_country") == im_member.country],
    }
    findings = reconcile(shipped, im)
    return {
        "month": ex.get("month"),
        "exporter": ex_member.id,
        "importer": im_member.id,
        "certificates": len(shipped["exports"]),
        "agree": not findings,
        "findings": findings,
    }
