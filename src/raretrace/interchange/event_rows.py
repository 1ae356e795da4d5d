"""Event rows (one line of an event per row) into raretrace events.

A row is one line of an event: an ``output`` lot it creates, an ``input`` lot it consumes, an
``addition`` (non-REE feed such as iron), or a ``lot`` it ships, receives or assays. The rows of one
event are consecutive and share its ``event_id``; the event's own fields (kind, time, facility …) may
be repeated on each row but must then agree. Masses are converted from the header's unit to kg and
composition columns from theirs to mass fractions; every field of the built event remembers its row
and column, so an error found later — by the event parser or by the registry — names the cell.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from raretrace.custody.events import parse_event
from raretrace.errors import RaretraceError, ValidationError
from raretrace.interchange.columns import EVENT_KIND_NAMES, ROLES, Field, Header, parse_header
from raretrace.interchange.items import Item, Origins
from raretrace.interchange.problems import ProblemLog
from raretrace.interchange.signed import signed_envelope
from raretrace.interchange.tabular import Sheet, cell_number, cell_text

_NUMBERS = frozenset({"mass", "units", "declared_value"})
#: the event's own fields: taken from its first row, and any later row that repeats one must agree
_EVENT_FIELDS = (
    "kind",
    "time",
    "facility_id",
    "stage",
    "deposit",
    "to_facility",
    "transfer_event",
    "hs_code",
    "details",
    "method",
    "results",
    "envelope",
)
#: which row roles each kind takes
_ROLES_OF = {
    "extract": {"output"},
    "process": {"output", "input", "addition"},
    "assemble": {"output", "input", "addition"},
    "recycle": {"output", "input", "addition"},
    "transfer": {"lot"},
    "receive": {"lot"},
    "assay": {"lot"},
}


@dataclass
class Line:
    """One row, read: its number and its values by canonical column (numbers already in kg)."""

    number: int
    values: dict[str, object]
    composition: dict[str, float]


class _Reader:
    def __init__(self, header: Header, log: ProblemLog) -> None:
        self.columns = header.by_name()
        self.components = header.components()
        self.log = log
        self.heading = {name: f.header for name, f in self.columns.items()}

    def column(self, name: str) -> str:
        return self.heading.get(name, name)

    def line(self, number: int, cells: Sequence[object]) -> Line | None:
        values: dict[str, object] = {}
        ok = True
        for name, found in self.columns.items():
            raw = cells[found.index] if found.index < len(cells) else None
            try:
                values[name] = self._value(name, found, raw)
            except ValidationError as e:
                self.log.add(number, found.header, e.message)
                ok = False
        composition: dict[str, float] = {}
        for found in self.components:
            raw = cells[found.index] if found.index < len(cells) else None
            try:
                number_value = cell_number(raw)
            except ValidationError as e:
                self.log.add(number, found.header, e.message)
                ok = False
                continue
            if number_value is not None:
                composition[found.name] = number_value * found.factor
        return Line(number, values, composition) if ok else None

    @staticmethod
    def _value(name: str, found: Field, raw: object) -> object:
        if name in _NUMBERS:
            number = cell_number(raw)
            if number is None:
                return None
            if name == "units":
                if not number.is_integer():
                    raise ValidationError(f"{number:g} is not a whole number of pieces", field=name)
                return int(number)
            return number * found.factor
        return cell_text(raw)


def event_items(sheet: Sheet, log: ProblemLog) -> Iterator[Item]:
    """Events from event rows, streaming: one event is held at a time."""
    header, header_problems = parse_header("events", sheet.header)
    for column, reason in header_problems:
        log.add(1, column, reason)
    if header_problems:
        return
    reader = _Reader(header, log)
    seen_events: dict[str, int] = {}
    seen_lots: dict[str, int] = {}
    group: list[Line] = []
    group_id: str | None = None
    for number, cells in sheet.rows:
        line = reader.line(number, cells)
        if line is None:
            continue
        event_id = _text(line.values.get("event_id"))
        if not event_id:
            log.add(number, reader.column("event_id"), "required value is empty")
            continue
        if group and event_id != group_id:
            item = _event(group, reader, seen_events, seen_lots)
            if item is not None:
                yield item
            group = []
        group_id = event_id
        group.append(line)
    if group:
        item = _event(group, reader, seen_events, seen_lots)
        if item is not None:
            yield item


def _event(
    lines: list[Line], reader: _Reader, seen_events: dict[str, int], seen_lots: dict[str, int]
) -> Item | None:
    """One event from its consecutive rows, checked by ``parse_event``; None (and the faults logged,
    each at its row and column) when any row is wrong."""
    first, col = lines[0], reader.column
    event_id = str(first.values["event_id"])
    head = _head(lines, event_id, reader, seen_events)
    if head is None:
        return None
    kind = head["kind"]
    origins: Origins = {
        "event_id": (first.number, col("event_id")),
        "time": (first.number, col("time")),
        "facility": (first.number, col("facility_id")),
        "kind": (first.number, col("kind")),
    }
    event: dict[str, object] = {
        "kind": kind,
        "event_id": event_id,
        "time": head["time"],
        "facility": head["facility_id"],
    }
    parts = _lines(lines, str(kind), reader, origins, seen_lots)
    if parts is None:
        return None
    facilities = [(str(head["facility_id"]), first.number, col("facility_id"))]
    try:
        _fill(event, str(kind), head, parts, origins, first.number, col)
    except ValidationError as e:
        reader.log.add(first.number, col(e.field or ""), e.message)
        return None
    if kind == "transfer":
        facilities.append((_text(head.get("to_facility")) or "", first.number, col("to_facility")))
    return _checked(Item(first.number, event_id, origins=origins, facilities=facilities), event, head, reader)


def _head(
    lines: list[Line], event_id: str, reader: _Reader, seen_events: dict[str, int]
) -> dict[str, object] | None:
    """The event's own cells (kind, time, facility …), which every row that fills them must agree on;
    None (logged) for a repeated event id, rows that disagree, an empty required cell or an unknown kind."""
    log, col, first = reader.log, reader.column, lines[0]
    if event_id in seen_events:
        log.add(
            first.number,
            col("event_id"),
            f"event {event_id} already appeared on row {seen_events[event_id]} (duplicate id, or its rows "
            "are not consecutive)",
        )
        return None
    seen_events[event_id] = first.number
    before = log.total
    head: dict[str, object] = {}
    for name in _EVENT_FIELDS:
        for line in lines:
            value = line.values.get(name)
            if value is None:
                continue
            if name not in head:
                head[name] = value
            elif value != head[name]:
                message = f"{value!r} differs from {head[name]!r} on an earlier row of event {event_id}"
                log.add(line.number, col(name), message)
    for name in ("kind", "time", "facility_id"):
        if not head.get(name):
            log.add(first.number, col(name), "required value is empty")
    if log.total > before:
        return None
    if head["kind"] not in EVENT_KIND_NAMES:
        log.add(first.number, col("kind"), f"{head['kind']!r} is not one of {', '.join(EVENT_KIND_NAMES)}")
        return None
    return head


def _checked(item: Item, event: dict[str, object], head: dict[str, object], reader: _Reader) -> Item | None:
    """The item with its event (or the signed envelope its row carries) once ``parse_event`` accepts it;
    None, with the fault logged at the cell it came from, otherwise."""
    try:
        parse_event(event)
        envelope = _text(head.get("envelope"))
        if envelope:
            item.envelope = signed_envelope(envelope, event)
        else:
            item.event = event
    except RaretraceError as e:
        row, column = item.locate(e.field)
        if column == e.field and e.field is not None:  # not a field read from a cell: name its column
            column = reader.column(e.field)
        reader.log.add(row, column, e.message, exit_code=e.exit_code)
        return None
    return item


def _lines(
    lines: list[Line], kind: str, reader: _Reader, origins: Origins, seen_lots: dict[str, int]
) -> dict[str, list[object]] | None:
    """The event's outputs, inputs, additions and lots from its rows, recording each one's cells."""
    log = reader.log
    parts: dict[str, list[object]] = {"output": [], "input": [], "addition": [], "lot": []}
    before = log.total
    for line in lines:
        role = _role(line, kind, reader)
        if role is None:
            continue
        index = len(parts[role])
        part: dict[str, object] | None
        if role == "lot":
            origins[f"lots[{index}]"] = origins["lot"] = (line.number, reader.column("lot_id"))
            parts["lot"].append(line.values.get("lot_id"))
            continue
        if role == "output":
            part = _output(line, index, reader, origins, seen_lots)
        elif role == "input":
            part = _input(line, index, reader, origins)
        else:
            name = "external_feed" if kind == "recycle" else "additions"
            part = _addition(line, f"{name}[{index}]", reader, origins)
        if part is not None:
            parts[role].append(part)
    return parts if log.total == before else None


def _role(line: Line, kind: str, reader: _Reader) -> str | None:
    """The row's role, or None (logged) when it is not one or not one the event's kind takes."""
    given = line.values.get("role")
    role = (_text(given) or "").lower()
    if role not in ROLES:
        reader.log.add(line.number, reader.column("role"), f"{given!r} is not one of {', '.join(ROLES)}")
        return None
    if role not in _ROLES_OF[kind]:
        taken = ", ".join(sorted(_ROLES_OF[kind]))
        reader.log.add(
            line.number, reader.column("role"), f"a {kind} event has no {role} rows (it takes {taken})"
        )
        return None
    return role


def _output(
    line: Line, index: int, reader: _Reader, origins: Origins, seen_lots: dict[str, int]
) -> dict[str, object] | None:
    """An output row as the event's lot (None, logged, when another row already produces its lot)."""
    v, col = line.values, reader.column
    spec: dict[str, object] = {
        "id": v.get("lot_id"),
        "form": v.get("form"),
        "mass_kg": v.get("mass"),
        "composition": line.composition,
    }
    if v.get("units") is not None:
        spec["units"] = v["units"]
    if v.get("declared_value") is not None:
        spec["declared_value"] = {"amount": v["declared_value"], "currency": v.get("currency")}
    lot_id = _text(v.get("lot_id"))
    if lot_id is not None and lot_id in seen_lots:
        reader.log.add(
            line.number, col("lot_id"), f"lot {lot_id} is already produced on row {seen_lots[lot_id]}"
        )
        return None
    if lot_id:
        seen_lots[lot_id] = line.number
    base = f"outputs[{index}]"
    origins.setdefault("outputs", (line.number, col("mass")))  # event-wide: mass balance
    cells = {"": "lot_id", ".id": "lot_id", ".form": "form", ".mass_kg": "mass", ".units": "units"}
    cells |= {".declared_value": "declared_value", ".currency": "currency"}
    origins.update({f"{base}{field}": (line.number, col(header)) for field, header in cells.items()})
    for component in line.composition:
        origins[f"{base}.composition.{component}"] = (line.number, _component_header(reader, component))
    return spec


def _input(line: Line, index: int, reader: _Reader, origins: Origins) -> dict[str, object]:
    """An input row as a consumption of a lot."""
    base, col = f"inputs[{index}]", reader.column
    origins.setdefault("inputs", (line.number, col("lot_id")))
    cells = {"": "lot_id", ".lot": "lot_id", ".mass_kg": "mass"}
    origins.update({f"{base}{field}": (line.number, col(header)) for field, header in cells.items()})
    return {"lot": line.values.get("lot_id"), "mass_kg": line.values.get("mass")}


def _addition(line: Line, base: str, reader: _Reader, origins: Origins) -> dict[str, object]:
    """An addition row (an external feed of a recycle event) as material without a registry history."""
    cells = {"": "material", ".material": "material", ".mass_kg": "mass"}
    origins.update(
        {f"{base}{field}": (line.number, reader.column(header)) for field, header in cells.items()}
    )
    v = line.values
    return {"material": v.get("material"), "mass_kg": v.get("mass"), "composition": line.composition}


def _text(value: object) -> str | None:
    """A text column's value (cells are read as text, numbers or nothing: ``_Reader._value``)."""
    return None if value is None else str(value)


def _component_header(reader: _Reader, component: str) -> str:
    return next((f.header for f in reader.components if f.name == component), component)


def _json_object(text: str | None, name: str) -> dict[str, object]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValidationError(f"not JSON: {e.msg}", field=name) from e
    if not isinstance(value, dict):
        raise ValidationError("must be a JSON object", field=name)
    return value


def _fill(
    event: dict[str, object],
    kind: str,
    head: dict[str, object],
    parts: dict[str, list[object]],
    origins: Origins,
    row: int,
    col: Callable[[str], str],
) -> None:
    """Put the kind's own fields on the event (from the event fields and the collected lines)."""
    for name, column in (
        ("stage", "stage"),
        ("deposit", "deposit"),
        ("to", "to_facility"),
        ("transfer_event", "transfer_event"),
        ("details", "details"),
        ("method", "method"),
        ("results", "results"),
    ):
        origins[name] = (row, col(column))
    if kind == "extract":
        event.update(deposit=head.get("deposit"), outputs=parts["output"])
    elif kind in ("process", "assemble"):
        event.update(
            stage=head.get("stage"),
            inputs=parts["input"],
            additions=parts["addition"],
            outputs=parts["output"],
        )
    elif kind == "recycle":
        event.update(inputs=parts["input"], external_feed=parts["addition"], outputs=parts["output"])
    elif kind == "transfer":
        details = _json_object(_text(head.get("details")), "details")
        if head.get("hs_code"):
            details["hs_code"] = head["hs_code"]
        event.update(to=head.get("to_facility"), lots=parts["lot"], details=details)
    elif kind == "receive":
        event.update(transfer_event=head.get("transfer_event"), lots=parts["lot"])
    elif kind == "assay":
        if len(parts["lot"]) != 1:
            raise ValidationError("an assay event has exactly one lot row", field="role")
        event.update(
            lot=parts["lot"][0],
            method=head.get("method"),
            results=_json_object(_text(head.get("results")), "results"),
        )
