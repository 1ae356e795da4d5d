"""GS1 EPCIS 2.0 JSON / JSON-LD events into raretrace events.

ERP and MES systems report what happened to goods as EPCIS events: what (EPCs and quantities of
classes, here lots), when (``eventTime`` with ``eventTimeZoneOffset``), where (``readPoint``,
``bizLocation``, ``sourceList``/``destinationList``) and why (``bizStep``). raretrace needs a little
more than EPCIS carries — a lot's form and composition, the stage a transformation performs, a
mine's deposit — which goes in extension members of the raretrace namespace
(``https://raretrace.dev/epcis/``, any prefix bound to it in ``@context``): lot master data in
``ilmd`` as EPCIS intends for lots an event creates. The mapping (docs/import-export.md):

=====================  ==============================================  =========================
EPCIS event            condition                                       raretrace event
=====================  ==============================================  =========================
ObjectEvent            action ADD, bizStep commissioning               extract
ObjectEvent            bizStep shipping (or departing)                 transfer
ObjectEvent            bizStep receiving (or arriving)                 receive
ObjectEvent            bizStep inspecting with rt:results              assay
TransformationEvent    rt:stage (or bizStep assembling: component)     process / assemble / recycle
AggregationEvent       action ADD, bizStep assembling                  assemble (parent = output)
anything else          (packing, storing, OBSERVE elsewhere …)         skipped and counted
=====================  ==============================================  =========================
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from raretrace.crypto.canonical import canonical_bytes
from raretrace.custody.events import parse_event
from raretrace.custody.namespaces import namespaced
from raretrace.errors import RaretraceError, ValidationError
from raretrace.interchange.items import Item, Origins
from raretrace.interchange.problems import ProblemLog
from raretrace.interchange.signed import signed_envelope
from raretrace.io import read_json_file
from raretrace.jsontypes import JSONValue
from raretrace.model import ASSEMBLE_STAGES, PROCESS_STAGES, Stage

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
RT_NAMESPACE = "https://raretrace.dev/epcis/"
RT_PREFIX = "rt"
#: a registered facility id written as a URI (EPCIS locations are URIs)
FACILITY_URN = "urn:raretrace:facility:"
#: UN/CEFACT Recommendation 20 codes of the mass units accepted, with their factor to kg
MASS_UOM: Mapping[str, float] = {"KGM": 1.0, "TNE": 1000.0}
_BIZSTEP_PREFIXES = (
    "urn:epcglobal:cbv:bizstep:",
    "https://ref.gs1.org/cbv/BizStep-",
    "https://gs1.org/voc/BizStep-",
    "cbv:BizStep-",
)
_OFFSET = re.compile(r"^[+-]\d\d:\d\d$")
_PARTY_TYPES = ("possessing_party", "owning_party", "location")


def bizstep(value: object) -> str:
    """A CBV business step in its bare form ("shipping"), whichever of its spellings is used."""
    text = str(value or "")
    for prefix in _BIZSTEP_PREFIXES:
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def facility_id(uri: object) -> str:
    """The facility id an EPCIS location names: ours without its URN prefix, anything else as is."""
    text = str(uri or "")
    return text[len(FACILITY_URN) :] if text.startswith(FACILITY_URN) else text


def load_document(path: Path) -> tuple[list[JSONValue], tuple[str, ...]]:
    """The event list of an EPCISDocument (or EPCISQueryDocument) and the prefixes bound to our
    namespace. The document is one JSON value, so it is read whole."""
    document = read_json_file(path, "file")
    if not isinstance(document, dict):
        raise ValidationError(f"{path.name}: an EPCIS document is a JSON object", field="type")
    kind = _type(document)
    body = document.get("epcisBody")
    if kind not in ("EPCISDocument", "EPCISQueryDocument") or not isinstance(body, dict):
        raise ValidationError(
            f"{path.name}: not an EPCIS 2.0 document (type {kind!r}; expected EPCISDocument with epcisBody)",
            field="type",
        )
    events = body.get("eventList")
    if events is None and kind == "EPCISQueryDocument":
        results = body.get("queryResults")
        found = results.get("resultsBody") if isinstance(results, dict) else None
        events = found.get("eventList") if isinstance(found, dict) else None
    if not isinstance(events, list):
        raise ValidationError(f"{path.name}: epcisBody.eventList is missing or not a list", field="eventList")
    return events, _prefixes(document.get("@context"))


def _type(obj: Mapping[str, object]) -> str:
    value = obj.get("type", obj.get("isA", ""))
    return str(value).removeprefix("epcis:")


def _prefixes(context: object) -> tuple[str, ...]:
    entries = context if isinstance(context, list) else [context]
    found = {
        prefix
        for entry in entries
        if isinstance(entry, dict)
        for prefix, iri in entry.items()
        if iri == RT_NAMESPACE
    }
    return tuple(sorted(found)) or (RT_PREFIX,)


class _Event:
    """One EPCIS event with access to its raretrace extension members."""

    def __init__(self, data: Mapping[str, object], prefixes: tuple[str, ...]) -> None:
        self.data = data
        self.prefixes = prefixes

    def rt(self, name: str, container: Mapping[str, object] | None = None) -> object:
        source = self.data if container is None else container
        for prefix in self.prefixes:
            if f"{prefix}:{name}" in source:
                return source[f"{prefix}:{name}"]
        return source.get(RT_NAMESPACE + name)

    def get(self, name: str) -> object:
        return self.data.get(name)

    def member(self, name: str) -> str:
        """How this document spells one of our extension members (for naming it in an error)."""
        return f"{self.prefixes[0]}:{name}"


def epcis_items(path: Path, log: ProblemLog, skipped: list[str]) -> Iterator[Item]:
    """Events from an EPCIS document; events raretrace has no use for are named in ``skipped``."""
    events, prefixes = load_document(path)
    shipments: dict[str, str] = {}  # desadv business transaction -> the shipping event's id
    for number, data in enumerate(events, start=1):
        if not isinstance(data, dict):
            log.add(number, None, "an event is a JSON object")
            continue
        event = _Event(data, prefixes)
        origins: Origins = {}
        try:
            mapped = _map(event, origins, shipments)
            if mapped is None:
                skipped.append(f"event {number}: {_type(data)} bizStep {bizstep(data.get('bizStep')) or '-'}")
                continue
            parse_event(mapped)
            envelope = event.rt("envelope")
            signed = None
            if envelope:
                origins["envelope"] = (0, event.member("envelope"))
                if not isinstance(envelope, str):
                    raise ValidationError("must be the base64 DSSE envelope", field="envelope")
                signed = signed_envelope(envelope, mapped)
        except RaretraceError as e:
            log.add(number, _member(e.field, origins), e.message, exit_code=e.exit_code)
            continue
        at_row = {path: (number, member) for path, (_, member) in origins.items()}
        # parse_event accepted ``mapped``: its ids are strings
        item = Item(number, str(mapped["event_id"]), origins=at_row, envelope=signed)
        item.event = None if signed else mapped
        item.facilities = [(str(mapped["facility"]), number, origins["facility"][1])]
        if mapped["kind"] == "transfer":
            item.facilities.append((str(mapped["to"]), number, origins["to"][1]))
        yield item


def _listed(value: object) -> list[object]:
    """An optional EPCIS list member: its items, or none when it is absent or not a list."""
    return value if isinstance(value, list) else []


def _kg(value: object) -> float:
    """A mass already read (``_mass``) or not yet checked (an addition: ``parse_event`` judges it)."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _member(field: str | None, origins: Origins) -> str | None:
    """The JSON member an event field was read from (its own field name when it came from none)."""
    return Item(0, "", origins=origins).locate(field)[1]


def _time(event: _Event, origins: Origins) -> str:
    origins["time"] = (0, "eventTime")
    value = event.get("eventTime")
    offset = event.get("eventTimeZoneOffset")
    if not isinstance(value, str):
        raise ValidationError("missing: every EPCIS event has an eventTime", field="time")
    if not isinstance(offset, str) or not _OFFSET.match(offset):
        origins["offset"] = (0, "eventTimeZoneOffset")
        raise ValidationError(
            f"{offset!r} is not an offset such as +01:00 (required by EPCIS)", field="offset"
        )
    return value


def _location(event: _Event, origins: Origins) -> str:
    for member in ("bizLocation", "readPoint"):
        place = event.get(member)
        if isinstance(place, dict) and place.get("id"):
            origins["facility"] = (0, f"{member}.id")
            return facility_id(place["id"])
    origins["facility"] = (0, "bizLocation")
    raise ValidationError(
        "missing: bizLocation.id or readPoint.id names the acting facility", field="facility"
    )


def _party(event: _Event, member: str, key: str) -> tuple[str, int] | None:
    entries = event.get(member)
    if not isinstance(entries, list):
        return None
    for wanted in _PARTY_TYPES:
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and bizstep(entry.get("type")).endswith(wanted) and entry.get(key):
                return facility_id(entry[key]), i
    return None


def _event_id(event: _Event, origins: Origins) -> str:
    own = event.rt("eventId")
    if isinstance(own, str) and own:
        origins["event_id"] = (0, event.member("eventId"))
        return own
    origins["event_id"] = (0, "eventID")
    given = event.get("eventID")
    if isinstance(given, str) and given:
        return given
    # no id: one derived from the event's content, so importing the same file twice is a duplicate; in
    # the acting facility's namespace, as a registry requires by default (custody/namespaces.py)
    content = {k: v for k, v in event.data.items() if k != "recordTime"}
    facility = _location(event, origins)
    return namespaced("event", facility, "epcis-" + hashlib.sha256(canonical_bytes(content)).hexdigest())


def _mass(element: Mapping[str, object], where: str, origins: Origins, field: str) -> float:
    origins[field] = (0, f"{where}.quantity")
    quantity, uom = element.get("quantity"), element.get("uom")
    if uom is None:
        origins[field] = (0, f"{where}.uom")
        raise ValidationError(
            "a quantity without uom is a count of items; give the mass with uom KGM or TNE", field=field
        )
    if uom not in MASS_UOM:
        origins[field] = (0, f"{where}.uom")
        raise ValidationError(
            f"uom {uom!r} is not a mass unit raretrace takes ({', '.join(MASS_UOM)})", field=field
        )
    if isinstance(quantity, bool) or not isinstance(quantity, int | float):
        raise ValidationError("missing or not a number", field=field)
    return float(quantity) * MASS_UOM[str(uom)]


def _quantities(event: _Event, member: str) -> list[Mapping[str, object]]:
    value = event.get(member)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ValidationError(f"{member} must be a list of quantity elements", field=member)
    return value


def _master(event: _Event) -> dict[str, object]:
    """Lot master data (form, composition, units, declaredValue) by lot id, from ilmd or the event."""
    ilmd = event.get("ilmd")
    lots = event.rt("lots", ilmd) if isinstance(ilmd, dict) else None
    if lots is None:
        lots = event.rt("lots")
    if lots is None:
        return {}
    if not isinstance(lots, dict):
        raise ValidationError("must be an object of lot id: {form, composition}", field="lots")
    return lots


def _outputs(
    event: _Event, member: str, field: str, origins: Origins, extra: list[tuple[str, float]] | None = None
) -> list[dict[str, object]]:
    _no_instances(event, member, field, origins, "creates")
    master = _master(event)
    origins[field] = (0, member)
    specs: list[dict[str, object]] = []
    entries = [
        (e.get("epcClass"), _mass(e, f"{member}[{i}]", origins, f"{field}[{i}].mass_kg"), f"{member}[{i}]")
        for i, e in enumerate(_quantities(event, member))
    ]
    entries += [(lot, kg, "parentID") for lot, kg in extra or []]
    for i, (lot, kg, where) in enumerate(entries):
        base = f"{field}[{i}]"
        origins[base] = origins[f"{base}.id"] = (0, f"{where}.epcClass" if where != "parentID" else where)
        data = master.get(str(lot))
        origins[f"{base}.form"] = origins[f"{base}.composition"] = (0, "ilmd." + event.member("lots"))
        if not isinstance(data, dict):
            raise ValidationError(
                f"lot {lot} has no master data: give its form and composition in ilmd {event.member('lots')}",
                field=f"{base}.form",
            )
        spec: dict[str, object] = {
            "id": lot,
            "form": data.get("form"),
            "mass_kg": kg,
            "composition": data.get("composition", {}),
        }
        if "units" in data:
            spec["units"] = data["units"]
        value = data.get("declaredValue")
        if isinstance(value, dict):
            spec["declared_value"] = {"amount": value.get("amount"), "currency": value.get("currency")}
        specs.append(spec)
    return specs


#: the EPC list beside each quantity list: instance identifiers, which carry no mass
_EPC_LISTS = {
    "inputQuantityList": "inputEPCList",
    "outputQuantityList": "outputEPCList",
    "childQuantityList": "childEPCs",
    "quantityList": "epcList",
}


def _no_instances(event: _Event, member: str, field: str, origins: Origins, verb: str) -> None:
    """Lots an event consumes or creates need a mass, which only a quantity list gives."""
    listed = _EPC_LISTS[member]
    if event.get(listed):
        origins[field] = (0, listed)
        raise ValidationError(
            f"{listed} entries carry no mass; list the lots the event {verb} in {member} with quantity "
            "and uom (KGM or TNE)",
            field=field,
        )


def _inputs(event: _Event, member: str, origins: Origins) -> list[dict[str, object]]:
    _no_instances(event, member, "inputs", origins, "consumes")
    out = []
    for i, element in enumerate(_quantities(event, member)):
        origins[f"inputs[{i}]"] = origins[f"inputs[{i}].lot"] = (0, f"{member}[{i}].epcClass")
        out.append(
            {
                "lot": element.get("epcClass"),
                "mass_kg": _mass(element, f"{member}[{i}]", origins, f"inputs[{i}].mass_kg"),
            }
        )
    return out


def _lots(event: _Event, origins: Origins) -> list[object]:
    """Lots an event is about: epcList entries, then quantityList classes."""
    lots: list[object] = []
    for i, epc in enumerate(_listed(event.get("epcList"))):
        origins[f"lots[{i}]"] = (0, f"epcList[{i}]")
        lots.append(epc)
    for element in _quantities(event, "quantityList"):
        origins[f"lots[{len(lots)}]"] = (
            0,
            f"quantityList[{len(lots) - len(_listed(event.get('epcList')))}].epcClass",
        )
        lots.append(element.get("epcClass"))
    origins["lots"] = (0, "quantityList")
    return lots


def _map(event: _Event, origins: Origins, shipments: dict[str, str]) -> dict[str, object] | None:
    """The raretrace event an EPCIS event stands for, or None when it stands for none."""
    kind_of = _type(event.data)
    step = bizstep(event.get("bizStep"))
    action = event.get("action")
    explicit = event.rt("kind")
    origins["kind"] = (0, "type")

    def start(kind: str) -> dict[str, object]:
        """The fields every event has, read (with their origins) once the kind is known."""
        return {
            "kind": kind,
            "event_id": _event_id(event, origins),
            "time": _time(event, origins),
            "facility": _location(event, origins),
        }

    if kind_of == "ObjectEvent":
        kind = _object_kind(event, step, action, explicit)
        return None if kind is None else _OBJECT_EVENTS[kind](event, start(kind), origins, shipments)
    if kind_of == "TransformationEvent":
        return _transformation(event, step, explicit, start, origins)
    if kind_of == "AggregationEvent" and action == "ADD" and (step == "assembling" or explicit == "assemble"):
        return _assemble(event, start("assemble"), origins)
    return None


def _object_kind(event: _Event, step: str, action: object, explicit: object) -> str | None:
    """The kind of event an ObjectEvent stands for: the one it states, else the one its CBV business
    step (and action) implies; None for an ObjectEvent raretrace has no event for."""
    if explicit is not None:
        return explicit if isinstance(explicit, str) and explicit in _OBJECT_EVENTS else None
    if action == "ADD" and step == "commissioning":
        return "extract"
    if step in ("shipping", "departing"):
        return "transfer"
    if step in ("receiving", "arriving"):
        return "receive"
    if step == "inspecting" and event.rt("results") is not None:
        return "assay"
    return None


def _desadv_references(event: _Event) -> Iterator[str]:
    """The despatch advice numbers (CBV ``desadv``) the event's business transactions name."""
    for transaction in _listed(event.get("bizTransactionList")):
        if isinstance(transaction, dict) and bizstep(transaction.get("type")).endswith("desadv"):
            yield str(transaction.get("bizTransaction"))


def _extract(
    event: _Event, event_data: dict[str, object], origins: Origins, shipments: dict[str, str]
) -> dict[str, object]:
    origins["deposit"] = (0, event.member("deposit"))
    event_data.update(
        deposit=event.rt("deposit"), outputs=_outputs(event, "quantityList", "outputs", origins)
    )
    return event_data


def _transfer(
    event: _Event, event_data: dict[str, object], origins: Origins, shipments: dict[str, str]
) -> dict[str, object]:
    """A shipment; its despatch advice numbers are remembered, so a receipt naming one finds it."""
    to = _party(event, "destinationList", "destination")
    origins["to"] = (0, f"destinationList[{to[1]}].destination" if to else "destinationList")
    details = event.rt("details") or {}
    origins["details"] = (0, event.member("details"))
    event_data.update(to=to[0] if to else None, lots=_lots(event, origins), details=details)
    for reference in _desadv_references(event):
        shipments[reference] = str(event_data["event_id"])
    return event_data


def _receive(
    event: _Event, event_data: dict[str, object], origins: Origins, shipments: dict[str, str]
) -> dict[str, object]:
    """A receipt of the transfer it states, else of the shipment its despatch advice names."""
    origins["transfer_event"] = (0, event.member("transferEvent"))
    transfer = event.rt("transferEvent")
    if transfer is None:
        origins["transfer_event"] = (0, "bizTransactionList")
        for reference in _desadv_references(event):
            transfer = shipments.get(reference, reference)
    event_data.update(transfer_event=transfer, lots=_lots(event, origins))
    return event_data


def _assay(
    event: _Event, event_data: dict[str, object], origins: Origins, shipments: dict[str, str]
) -> dict[str, object]:
    lots = _lots(event, origins)
    origins["lot"] = origins.get("lots[0]", (0, "quantityList"))
    origins["method"], origins["results"] = (0, event.member("method")), (0, event.member("results"))
    event_data.update(
        lot=lots[0] if len(lots) == 1 else None,
        method=event.rt("method"),
        results=event.rt("results"),
    )
    if len(lots) != 1:
        raise ValidationError("an assay is of exactly one lot", field="lot")
    return event_data


_OBJECT_EVENTS: dict[
    str, Callable[[_Event, dict[str, object], Origins, dict[str, str]], dict[str, object]]
] = {
    "extract": _extract,
    "transfer": _transfer,
    "receive": _receive,
    "assay": _assay,
}


def _assemble(event: _Event, event_data: dict[str, object], origins: Origins) -> dict[str, object]:
    """An aggregation that assembles: its parent is the output, of the inputs' and additions' mass."""
    inputs = _inputs(event, "childQuantityList", origins)
    additions = _additions(event, origins, "additions")
    parent = event.get("parentID")
    total = sum(_kg(i["mass_kg"]) for i in inputs) + sum(
        _kg(a.get("mass_kg")) for a in additions if isinstance(a, dict)
    )
    origins["stage"] = (0, event.member("stage"))
    event_data.update(
        stage=event.rt("stage") or Stage.COMPONENT.value,
        inputs=inputs,
        additions=additions,
        outputs=_outputs(event, "outputQuantityList", "outputs", origins, extra=[(str(parent), total)]),
    )
    return event_data


def _additions(event: _Event, origins: Origins, field: str) -> list[object]:
    value = event.rt("additions") or []
    origins[field] = (0, event.member("additions"))
    if not isinstance(value, list):
        raise ValidationError("must be a list of {material, mass_kg, composition}", field=field)
    for i in range(len(value)):
        origins[f"{field}[{i}]"] = (0, event.member("additions") + f"[{i}]")
    return value


def _transformation(
    event: _Event,
    step: str,
    explicit: object,
    start: Callable[[str], dict[str, object]],
    origins: Origins,
) -> dict[str, object]:
    stage = event.rt("stage") or (Stage.COMPONENT.value if step == "assembling" else None)
    origins["stage"] = (0, event.member("stage"))
    if explicit == "recycle" or stage == Stage.RECYCLING.value:
        kind = "recycle"
    elif stage in ASSEMBLE_STAGES or explicit == "assemble":
        kind = "assemble"
    elif stage in PROCESS_STAGES or explicit == "process":
        kind = "process"
    else:
        start("process")
        raise ValidationError(
            f"a TransformationEvent must name the stage it performs in {event.member('stage')} "
            f"({', '.join(s.value for s in Stage if s is not Stage.MINING)}), got {stage!r}",
            field="stage",
        )
    event_data: dict[str, object] = start(kind)
    inputs = _inputs(event, "inputQuantityList", origins)
    feed_name = "external_feed" if kind == "recycle" else "additions"
    additions = _additions(event, origins, feed_name)
    outputs = _outputs(event, "outputQuantityList", "outputs", origins)
    if kind == "recycle":
        event_data.update(inputs=inputs, external_feed=additions, outputs=outputs)
    else:
        event_data.update(stage=stage, inputs=inputs, additions=additions, outputs=outputs)
    return event_data
