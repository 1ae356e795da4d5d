"""What ``build_world`` returns: counts, timings, and where each case sits in the registry.

The summary names lots and events only; what the cases *show* is computed afresh from the registry by
``findings`` (so a check that stops catching a case shows up there, not here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

#: Dates the checks are run at. MOFCOM No. 61's extraterritorial rules bind from 2025-12-01; No. 70
#: suspended them until 2026-11-10 (the regime file carries both), so the demo checks after the window
#: and, to show the suspension, inside it. DFARS 252.225-7052 reaches back to the mine from 2027-01-01.
MOFCOM_AS_OF = date(2026, 12, 1)
MOFCOM_SUSPENDED_ON = date(2026, 6, 1)
DFARS_BEFORE = date(2026, 12, 31)
DFARS_FROM = date(2027, 1, 1)


@dataclass(frozen=True)
class FalseOrigin:
    """Case (a): ore declared from one deposit whose assay has another's chemistry."""

    ore: str
    concentrate: str
    facility: str
    declared: str  # the deposit the mine declares (a fingerprint-library id)
    actual: str  # the library deposit its assay was drawn from
    assay_event: str


@dataclass(frozen=True)
class ChineseTechnology:
    """Case (b): magnets made outside China, from non-Chinese feed, with Chinese process technology."""

    magnet: str
    facility: str
    oxide: str


@dataclass(frozen=True)
class DefenseMagnet:
    """Case (c): defense magnets from Chinese-separated oxide, metal and magnet made outside China."""

    magnet: str
    oxide: str
    component: str
    system: str  # the F-35 it went into
    transfer: str  # the magnets' shipment to the component maker (case d certifies it)


@dataclass(frozen=True)
class TamperedCertificate:
    """Case (d): a genuine certificate and copies altered in transit, each with the step it must fail."""

    transfer: str
    certificate: dict[str, Any]
    trusted_keys: dict[str, Any]
    tampered: dict[str, dict[str, Any]]  # name -> presentation
    expected_step: dict[str, int]  # name -> the verification step that must fail
    what: dict[str, str]  # name -> what was altered
    files: dict[str, str] = field(default_factory=dict)  # name -> path, when written


@dataclass
class WorldSummary:
    seed: int
    scale: float
    facilities: int
    events: int
    lots: int
    lots_by_form: dict[str, int]
    seconds: dict[str, float]  # sign, append, total (wall, build only)
    false_origin: FalseOrigin
    chinese_technology: ChineseTechnology
    defense_magnet: DefenseMagnet
    certificate: TamperedCertificate
    assayed: list[str]  # every ore lot with an assay (the case's and the honest ones)
    military_systems: list[str]  # every defense system lot
    folder: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["folder"] = str(self.folder) if self.folder else None
        cert = out["certificate"]
        cert.pop("certificate")
        cert.pop("tampered")
        cert.pop("trusted_keys")
        return out
