"""Recorded events as a GS1 EPCIS 2.0 JSON-LD document (the inverse of ``epcis.py``'s mapping).

Each material event becomes the EPCIS event ``epcis.py`` maps back to the same raretrace event:
extract an ObjectEvent ADD/commissioning, transfers and receipts ObjectEvents shipping/receiving
(linked by a ``desadv`` business transaction), assays ObjectEvents inspecting, and process, assemble
and recycle TransformationEvents. Lots are EPC classes with their mass in kilograms (``KGM``); their
form and composition go in ``ilmd`` as raretrace extension members, and every event carries its signed
envelope (``rt:envelope``), so a registry importing the document checks the original signatures.
The document is written event by event, never held whole.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from raretrace.interchange.epcis import EPCIS_CONTEXT, FACILITY_URN, RT_NAMESPACE, RT_PREFIX
from raretrace.interchange.export import stored_events
from raretrace.ledger.registry import Registry
from raretrace.times import utc_now

_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")
_OFFSET = re.compile(r"([+-]\d\d:\d\d)$")


def _rt(name: str) -> str:
    return f"{RT_PREFIX}:{name}"


def location(facility: str) -> str:
    """A facility id as an EPCIS location URI: as it is when it already is one (an SGLN), else ours."""
    return facility if _URI.match(facility) else FACILITY_URN + facility


#: A recorded predicate (or one of its lots): the registry validated it, so its members are read as is.
Recorded = Mapping[str, Any]


def _place(facility: str) -> dict[str, str]:
    return {"id": location(facility)}


def _offset(time: str) -> str:
    match = _OFFSET.search(time)
    return match.group(1) if match else "+00:00"


def _quantity(lot: str, mass_kg: float | None = None) -> dict[str, object]:
    element: dict[str, object] = {"epcClass": lot}
    if mass_kg is not None:
        element.update(quantity=mass_kg, uom="KGM")
    return element


def _master(outputs: Iterable[Recorded]) -> dict[str, object]:
    lots: dict[str, object] = {}
    for spec in outputs:
        data: dict[str, object] = {"form": spec["form"], "composition": spec.get("composition", {})}
        if "units" in spec:
            data["units"] = spec["units"]
        if spec.get("declared_value"):
            data["declaredValue"] = spec["declared_value"]
        lots[spec["id"]] = data
    return {_rt("lots"): lots}


def epcis_event(event: Recorded, envelope: bytes | None = None) -> dict[str, object]:
    """The EPCIS 2.0 event that stands for a raretrace event (a recorded, hence valid, predicate)."""
    kind = event["kind"]
    out: dict[str, object] = {
        "type": "ObjectEvent",
        "eventTime": event["time"],
        "eventTimeZoneOffset": _offset(event["time"]),
    }
    if _URI.match(event["event_id"]):
        out["eventID"] = event["event_id"]
    out[_rt("eventId")] = event["event_id"]
    place = _place(event["facility"])
    for kinds, members in _MEMBERS:
        if kind in kinds:
            out.update(members(event, place))
    out[_rt("kind")] = kind
    if envelope is not None:
        out[_rt("envelope")] = base64.b64encode(envelope).decode("ascii")
    return out


def _extract(event: Recorded, place: dict[str, str]) -> dict[str, object]:
    """A mine's output: lots commissioned at the mine (CBV ``commissioning``), with their deposit."""
    return {
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": place,
        "bizLocation": place,
        "quantityList": [_quantity(o["id"], o["mass_kg"]) for o in event["outputs"]],
        "ilmd": _master(event["outputs"]),
        _rt("deposit"): event["deposit"],
    }


def _transformation(event: Recorded, place: dict[str, str]) -> dict[str, object]:
    """Process, assemble and recycle: inputs become outputs (a TransformationEvent)."""
    kind = event["kind"]
    out: dict[str, object] = {
        "type": "TransformationEvent",
        "bizStep": "assembling" if kind == "assemble" else "commissioning",
        "readPoint": place,
        "bizLocation": place,
        "inputQuantityList": [_quantity(i["lot"], i["mass_kg"]) for i in event.get("inputs", ())],
        "outputQuantityList": [_quantity(o["id"], o["mass_kg"]) for o in event["outputs"]],
        "ilmd": _master(event["outputs"]),
    }
    if kind != "recycle":
        out[_rt("stage")] = event["stage"]
    feed = event.get("external_feed" if kind == "recycle" else "additions") or []
    if feed:
        out[_rt("additions")] = feed
    return out


def _movement(event: Recorded, place: dict[str, str]) -> dict[str, object]:
    """A shipment or its receipt, tied together by the shipment's despatch advice (``desadv``)."""
    shipping = event["kind"] == "transfer"
    out: dict[str, object] = {
        "action": "OBSERVE",
        "bizStep": "shipping" if shipping else "receiving",
        "disposition": "in_transit" if shipping else "in_progress",
        "readPoint": place,
        "bizLocation": place,
        "quantityList": [_quantity(lot) for lot in event["lots"]],
    }
    reference = event["event_id"] if shipping else event["transfer_event"]
    if _URI.match(reference):
        out["bizTransactionList"] = [{"type": "desadv", "bizTransaction": reference}]
    if shipping:
        out["sourceList"] = [{"type": "possessing_party", "source": place["id"]}]
        out["destinationList"] = [{"type": "possessing_party", "destination": location(event["to"])}]
        if event.get("details"):
            out[_rt("details")] = event["details"]
    else:
        out[_rt("transferEvent")] = event["transfer_event"]
    return out


def _assay(event: Recorded, place: dict[str, str]) -> dict[str, object]:
    """An assay: the lot inspected (CBV ``inspecting``), with the method and results."""
    return {
        "action": "OBSERVE",
        "bizStep": "inspecting",
        "readPoint": place,
        "bizLocation": place,
        "quantityList": [_quantity(event["lot"])],
        _rt("method"): event["method"],
        _rt("results"): event["results"],
    }


#: The kinds each builder serves (other kinds are an ObjectEvent with their identity only).
_Members = Callable[[Recorded, dict[str, str]], dict[str, object]]
_MEMBERS: tuple[tuple[tuple[str, ...], _Members], ...] = (
    (("extract",), _extract),
    (("process", "assemble", "recycle"), _transformation),
    (("transfer", "receive"), _movement),
    (("assay",), _assay),
)


def write_document(handle: TextIO, events: Iterable[Mapping[str, object]]) -> int:
    """Write an EPCISDocument with ``events`` (already EPCIS events), one at a time."""
    head: dict[str, object] = {
        "@context": [EPCIS_CONTEXT, {RT_PREFIX: RT_NAMESPACE}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": utc_now(),
    }
    handle.write(json.dumps(head, indent=2)[:-2] + ',\n  "epcisBody": {\n    "eventList": [')
    count = 0
    for event in events:
        handle.write(("," if count else "") + "\n      " + json.dumps(event, separators=(",", ":")))
        count += 1
    handle.write("\n    ]\n  }\n}\n")
    return count


def export_epcis(registry: Registry, path: Path) -> int:
    """Every material event of the registry as one EPCIS 2.0 JSON-LD document at ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            count = write_document(
                handle, (epcis_event(event, envelope) for _, event, envelope in stored_events(registry))
            )
        tmp.replace(path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return count
