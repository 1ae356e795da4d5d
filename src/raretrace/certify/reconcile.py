"""Reconciling two members' trade statistics, certificate by certificate (Kimberley Process duty:
"statistics reconciled between countries by volume and value").

Every certificate the exporter issued to the importer's registry must appear among the importer's
confirmations with the same parcels, mass per element and value; every confirmation must name a
certificate the exporter issued. Each difference is one finding that names the certificate, the field
and both figures.
"""

from __future__ import annotations

from collections.abc import Mapping

from raretrace.errors import ValidationError
from raretrace.jsontypes import JSONObject, JSONValue

REL_TOLERANCE = 1e-6


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if not isinstance(a, int | float | str) or not isinstance(b, int | float | str):
        return a == b
    x, y = float(a), float(b)
    return abs(x - y) <= REL_TOLERANCE * max(1.0, abs(x), abs(y))


def _by_certificate(statistics: Mapping[str, object], name: str) -> dict[str, JSONObject]:
    """The ``exports`` or ``imports`` of a statistics file, by certificate id; a malformed entry is an
    error naming it."""
    entries = statistics.get(name, [])
    if not isinstance(entries, list):
        raise ValidationError("must be a list", field=name)
    out: dict[str, JSONObject] = {}
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("certificate"), str):
            raise ValidationError("must be an object naming its certificate", field=f"{name}[{i}]")
        out[str(entry["certificate"])] = entry
    return out


def _element_kg(entry: JSONObject) -> dict[str, JSONValue]:
    masses = entry.get("element_kg", {})
    return masses if isinstance(masses, dict) else {}


def reconcile(exporter: Mapping[str, object], importer: Mapping[str, object]) -> list[JSONObject]:
    """Findings (empty when the two agree) for shipments from ``exporter``'s registry to ``importer``'s."""
    issued = _by_certificate(exporter, "exports")
    confirmed = {
        cert: c
        for cert, c in _by_certificate(importer, "imports").items()
        if c.get("issuer") == exporter.get("issuer")
    }
    findings: list[JSONObject] = []
    for cert, item in sorted(issued.items()):
        other = confirmed.get(cert)
        if other is None:
            findings.append(
                {
                    "certificate": cert,
                    "number": item.get("number"),
                    "issue": "exported, not confirmed by the importer",
                }
            )
            continue
        for name in ("parcels", "mass_kg", "value_usd"):
            if other.get(name) is not None and not _close(item.get(name), other.get(name)):
                findings.append(
                    {
                        "certificate": cert,
                        "number": item.get("number"),
                        "issue": f"{name} differs",
                        "exporter": item.get(name),
                        "importer": other.get(name),
                    }
                )
        mine, theirs = _element_kg(item), _element_kg(other)
        for element in sorted(set(mine) | set(theirs)):
            a, b = mine.get(element, 0.0), theirs.get(element, 0.0)
            if theirs and not _close(a, b):
                findings.append(
                    {
                        "certificate": cert,
                        "number": item.get("number"),
                        "issue": f"{element} mass differs",
                        "exporter": a,
                        "importer": b,
                    }
                )
    for cert, other in sorted(confirmed.items()):
        if cert not in issued:
            findings.append(
                {
                    "certificate": cert,
                    "number": other.get("number"),
                    "issue": "confirmed by the importer, not among the exporter's certificates of the period",
                }
            )
    return findings
