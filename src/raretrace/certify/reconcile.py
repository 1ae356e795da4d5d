"""Reconciling two members' trade statistics, certificate by certificate (Kimberley Process duty:
"statistics reconciled between countries by volume and value").

Every certificate the exporter issued to the importer's registry must appear among the importer's
confirmations with the same parcels, mass per element and value; every confirmation must name a
certificate the exporter issued. Each difference is one finding that names the certificate, the field
and both figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REL_TOLERANCE = 1e-6


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is b
    if not isinstance(a, int | float | str) or not isinstance(b, int | float | str):
        return a == b
    x, y = float(a), float(b)
    return abs(x - y) <= REL_TOLERANCE * max(1.0, abs(x), abs(y))


def reconcile(exporter: Mapping[str, Any], importer: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Findings (empty when the two agree) for shipments from ``exporter``'s registry to ``importer``'s."""
    issued = {e["certificate"]: e for e in exporter.get("exports", [])}
    confirmed = {
        c["certificate"]: c for c in importer.get("imports", []) if c.get("issuer") == exporter.get("issuer")
    }
    findings: list[dict[str, Any]] = []
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
        elements = set(item.get("element_kg", {})) | set(other.get("element_kg", {}))
        for element in sorted(elements):
            a, b = item.get("element_kg", {}).get(element, 0.0), other.get("element_kg", {}).get(element, 0.0)
            if other.get("element_kg") and not _close(a, b):
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
