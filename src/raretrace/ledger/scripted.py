"""A scripted supply chain: facilities with their own keys, signing and recording events in order.

The demo, the test suite and the benchmarks build chains the same way a set of real participants
would — every event is signed by the acting facility's key and appended through the registry's
normal pipeline — so nothing here bypasses a check. Keys live in memory only.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, Required, TypedDict, Unpack

from raretrace.crypto.keys import Ed25519Signer, PublicKey
from raretrace.custody.events import sign_event
from raretrace.custody.namespaces import namespaced
from raretrace.ledger.admin import register_facility_event
from raretrace.ledger.registry import AppendResult, Registry


def lot(
    lot_id: str, form: str, mass_kg: float, composition: Mapping[str, float], **extra: object
) -> dict[str, object]:
    """A lot declaration as events carry it."""
    return {"id": lot_id, "form": form, "mass_kg": mass_kg, "composition": dict(composition), **extra}


class FacilityOptions(TypedDict, total=False):
    """The description of a facility ``ScriptedChain.facility_event`` registers."""

    name: str | None
    operator: str
    country: Required[str]
    stages: Required[Sequence[str]]
    technology: Mapping[str, str] | None
    accreditation: str | None
    signer: Ed25519Signer | None


_P = ParamSpec("_P")


def _appended(
    make: Callable[Concatenate[ScriptedChain, _P], bytes],
) -> Callable[Concatenate[ScriptedChain, _P], AppendResult]:
    """``make``'s envelope appended: one signature for making an event and recording it, so the two
    cannot drift apart."""

    def append(chain: ScriptedChain, /, *args: _P.args, **kwargs: _P.kwargs) -> AppendResult:
        return chain.registry.append([make(chain, *args, **kwargs)])

    return append


@dataclass
class ScriptedChain:
    registry: Registry
    time: str = "2026-01-05T08:00:00Z"
    signers: dict[str, Ed25519Signer] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def next_id(self, facility_id: str, prefix: str = "ev") -> str:
        """A fresh event id in ``facility_id``'s namespace (what registries require by default)."""
        return namespaced("event", facility_id, f"{prefix}-{next(self._ids):06d}")

    def facility_event(
        self,
        facility_id: str,
        *,
        name: str | None = None,
        operator: str = "Demo Operator",
        country: str,
        stages: Sequence[str],
        technology: Mapping[str, str] | None = None,
        accreditation: str | None = None,
        signer: Ed25519Signer | None = None,
    ) -> bytes:
        """The signed register_facility envelope, remembering the facility's new key."""
        key = signer or Ed25519Signer.generate()
        self.signers[facility_id] = key
        spec: dict[str, object] = {
            "id": facility_id,
            "name": name or facility_id,
            "operator": operator,
            "country": country,
            "stages": list(stages),
            "technology": dict(technology or {}),
        }
        if accreditation:
            spec["accreditation"] = accreditation
        event = register_facility_event(
            spec, [PublicKey(key.public_key)], time=self.time, valid_from="2020-01-01T00:00:00Z"
        )
        return sign_event(event, [self.registry.signer])

    def add_facility(self, facility_id: str, **kwargs: Unpack[FacilityOptions]) -> Ed25519Signer:
        self.registry.append([self.facility_event(facility_id, **kwargs)])
        return self.signers[facility_id]

    def envelope(
        self,
        /,
        facility_id: str,
        kind: str,
        *,
        event_id: str | None = None,
        time: str | None = None,
        signer: Ed25519Signer | None = None,
        **fields: object,
    ) -> bytes:
        """A signed event of ``kind`` acted by ``facility_id`` (signed by its key unless told otherwise)."""
        event = {
            "kind": kind,
            "event_id": event_id or self.next_id(facility_id, kind),
            "time": time or self.time,
            "facility": facility_id,
            **fields,
        }
        return sign_event(event, [signer or self.signers[facility_id]])

    #: ``envelope``'s signed event, appended on its own; it takes what ``envelope`` takes.
    record = _appended(envelope)

    def ship(self, sender: str, receiver: str, lots: Sequence[str], **details: object) -> AppendResult:
        """A transfer and its receipt, each signed by its own side, appended together."""
        transfer_id = self.next_id(sender, "transfer")
        return self.registry.append(
            [
                self.envelope(
                    sender, "transfer", event_id=transfer_id, to=receiver, lots=list(lots), details=details
                ),
                self.envelope(receiver, "receive", transfer_event=transfer_id, lots=list(lots)),
            ]
        )


@dataclass(frozen=True)
class ChainLots:
    """The lot ids of one ``mine_to_magnet`` chain, each in the namespace of the facility making it."""

    concentrate: str
    oxide: str
    metal: str
    magnet: str


def chain_lots(prefix: str, mine: str, separator: str, metal_maker: str, magnet_maker: str) -> ChainLots:
    return ChainLots(
        *(
            namespaced("lot", maker, f"{prefix}-{n}")
            for maker, n in (
                (mine, "conc"),
                (separator, "ox"),
                (metal_maker, "metal"),
                (magnet_maker, "magnet"),
            )
        )
    )


#: The lots of ``two_reference_chains``: Bayan Obo to Japan, Mount Weld to the US.
JP_CHAIN = chain_lots("jp", "CN-MINE", "CN-SEP", "CN-SEP", "JP-MAG")
US_CHAIN = chain_lots("us", "AU-MINE", "MY-SEP", "US-MAG", "US-MAG")


def mine_to_magnet(
    chain: ScriptedChain,
    prefix: str,
    mine: str,
    separator: str,
    metal_maker: str,
    magnet_maker: str,
    value: float,
) -> ChainLots:
    """A reference chain for tests and benchmarks: 1 t of concentrate → 300 kg NdPr(Dy) oxide → 240 kg
    metal → 800 kg magnets, shipping whenever the next stage is another facility's; returns its lots."""
    made = chain_lots(prefix, mine, separator, metal_maker, magnet_maker)
    conc = made.concentrate
    chain.record(
        mine,
        "extract",
        deposit="test",
        outputs=[lot(conc, "concentrate", 1000.0, {"Nd": 0.20, "Pr": 0.06, "Dy": 0.01})],
    )
    steps = _reference_steps(made, separator, metal_maker, magnet_maker, value)
    holder = mine
    for facility, stage, source, kg, output, additions in steps:
        if facility != holder:
            chain.ship(holder, facility, [source])
            holder = facility
        chain.record(
            facility,
            "process",
            stage=stage,
            inputs=[{"lot": source, "mass_kg": kg}],
            outputs=[output],
            additions=additions,
        )
    return made


#: One processing step of a reference chain: facility, stage, input lot and kg, output, additions.
_Step = tuple[str, str, str, float, dict[str, object], list[dict[str, object]]]


def _reference_steps(
    made: ChainLots, separator: str, metal_maker: str, magnet_maker: str, value: float
) -> list[_Step]:
    """``mine_to_magnet``'s three processing steps, with their figures."""
    conc, oxide, metal, magnet = made.concentrate, made.oxide, made.metal, made.magnet
    return [
        (
            separator,
            "separation",
            conc,
            1000.0,
            lot(oxide, "separated_oxide", 300.0, {"Nd": 0.6, "Pr": 0.18, "Dy": 0.03}),
            [],
        ),
        (
            metal_maker,
            "metallization",
            oxide,
            300.0,
            lot(metal, "metal", 240.0, {"Nd": 0.75, "Pr": 0.225, "Dy": 0.025}),
            [],
        ),
        (
            magnet_maker,
            "magnet",
            metal,
            240.0,
            lot(
                magnet,
                "magnet",
                800.0,
                {"Nd": 0.225, "Pr": 0.0675, "Dy": 0.0075, "Fe": 0.69},
                declared_value={"amount": value, "currency": "USD"},
            ),
            [{"material": "iron and boron", "mass_kg": 560.0, "composition": {"Fe": 0.98, "B": 0.02}}],
        ),
    ]


def two_reference_chains(chain: ScriptedChain) -> None:
    """Bayan Obo → Baotou (separation, metal) → Japan (magnet), and Mount Weld → Malaysia (Australian
    technology) → US (metal, magnet), with an assay of the Australian concentrate: the chains the
    compliance and certificate tests and the certificate benchmark share."""
    chain.add_facility("CN-MINE", country="CN", stages=["mining"])
    chain.add_facility("CN-SEP", country="CN", stages=["separation", "metallization"])
    chain.add_facility("JP-MAG", country="JP", stages=["magnet"])
    chain.add_facility("AU-MINE", country="AU", stages=["mining"])
    chain.add_facility("MY-SEP", country="MY", stages=["separation"], technology={"separation": "AU"})
    chain.add_facility("US-MAG", country="US", stages=["metallization", "magnet"])
    chain.add_facility("US-LAB", country="US", stages=["assay"], accreditation="ISO/IEC 17025:2017")
    mine_to_magnet(chain, "jp", "CN-MINE", "CN-SEP", "CN-SEP", "JP-MAG", 60_000.0)
    mine_to_magnet(chain, "us", "AU-MINE", "MY-SEP", "US-MAG", "US-MAG", 75_000.0)
    chain.record(
        "US-LAB",
        "assay",
        lot=US_CHAIN.concentrate,
        method="ICP-MS",
        results={"units": "ppm", "Nd": 200000},
    )
