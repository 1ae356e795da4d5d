"""Facility list rows (the RMI smelter-list shape) into register_facility events.

Each row registers one facility with its public key(s); the registry signs these itself, as
``raretrace facility add`` does, because registering a facility is the secretariat's act.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import cache

import pycountry

from raretrace.crypto.keys import PublicKey
from raretrace.custody.events import parse_event
from raretrace.errors import RaretraceError, ValidationError
from raretrace.interchange.columns import Field, Header, parse_header
from raretrace.interchange.items import Item
from raretrace.interchange.problems import ProblemLog
from raretrace.interchange.tabular import Sheet, cell_text
from raretrace.ledger.admin import register_facility_event
from raretrace.times import parse_time, utc_now

#: event field -> template column, for naming the column of an error the event parser reports
_FIELD_COLUMNS = {
    "facility.id": "facility_id",
    "facility.name": "facility_name",
    "facility.operator": "operator",
    "facility.country": "country",
    "facility.stages": "stages",
    "facility.technology": "technology",
    "facility.accreditation": "accreditation",
}


@cache
def _country_code(text: str) -> str | None:
    """ISO alpha-2 for a code or an English name as the CMRT writes it ("CHINA", "United States")."""
    if len(text) == 2:
        return text.upper()
    try:
        return str(pycountry.countries.lookup(text).alpha_2)
    except LookupError:
        return None


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def _per_key(text: str | None, count: int, name: str) -> list[str | None]:
    """One time per key: a single time applies to every key, ';' separates one per key (empty: none)."""
    entries = [part.strip() for part in (text or "").split(";")]
    if len(entries) == 1:
        entries = entries * count
    if len(entries) != count:
        raise ValidationError(f"give one time, or one per key ({count}), separated by ';'", field=name)
    return [parse_time(e, name) if e else None for e in entries]


def facility_items(sheet: Sheet, log: ProblemLog, *, now: str | None = None) -> Iterator[Item]:
    header, header_problems = parse_header("facilities", sheet.header)
    for column, reason in header_problems:
        log.add(1, column, reason)
    if header_problems:
        return
    columns = header.by_name()
    seen: dict[str, int] = {}
    moment = now or utc_now()
    for number, cells in sheet.rows:
        item = _row(number, cells, header, columns, log, seen, moment)
        if item is not None:
            yield item


def _row(
    number: int,
    cells: Sequence[object],
    header: Header,
    columns: Mapping[str, Field],
    log: ProblemLog,
    seen: dict[str, int],
    moment: str,
) -> Item | None:
    """The register_facility event of one row, checked by ``parse_event``; None (the fault logged at
    its row and column) when the row is wrong."""
    values = _values(number, cells, columns, log)
    heading = {name: found.header for name, found in columns.items()}
    spec = None if values is None else _spec(number, values, heading, log, seen)
    if values is None or spec is None:
        return None
    facility_id = str(spec["id"])
    try:
        keys = [PublicKey.from_b64(k, field="public_key") for k in _split(values["public_key"])]
        starts = _per_key(values.get("key_valid_from"), len(keys), "key_valid_from")
        ends = _per_key(values.get("key_valid_until"), len(keys), "key_valid_until")
    except RaretraceError as e:
        log.add(number, heading.get(e.field or "", e.field), e.message)
        return None
    event = register_facility_event(spec, keys, time=moment)
    for key, start, end in zip(event["keys"], starts, ends, strict=True):
        key["valid_from"] = start or moment
        if end:
            key["valid_until"] = end
    origins = _origins(number, heading, len(keys))
    try:
        parse_event(event)
    except RaretraceError as e:
        row, column = Item(number, facility_id, origins=origins).locate(e.field)
        log.add(row, column, e.message)
        return None
    return Item(
        number,
        event["event_id"],
        event=dict(event),
        origins=origins,
        secretariat=True,
        registers=(facility_id, number, heading["facility_id"]),
    )


def _values(
    number: int, cells: Sequence[object], columns: Mapping[str, Field], log: ProblemLog
) -> dict[str, str | None] | None:
    """The row's cells as text by column name; None (logged) when a cell cannot be read as text."""
    values: dict[str, str | None] = {}
    for name, found in columns.items():
        raw = cells[found.index] if found.index < len(cells) else None
        try:
            values[name] = cell_text(raw)
        except ValidationError as e:
            log.add(number, found.header, e.message)
            return None
    return values


def _spec(
    number: int,
    values: Mapping[str, str | None],
    heading: Mapping[str, str],
    log: ProblemLog,
    seen: dict[str, int],
) -> dict[str, object] | None:
    """The facility the row describes, as ``register_facility_event`` takes it; None (logged) for an
    empty required cell, a facility listed twice, an unknown country or a technology not STAGE=COUNTRY."""
    before = log.total
    for name in ("facility_id", "facility_name", "operator", "country", "stages", "public_key"):
        if not values.get(name):
            log.add(number, heading[name], "required value is empty")
    if log.total > before:
        return None
    facility_id = values["facility_id"] or ""
    if facility_id in seen:
        message = f"facility {facility_id} is listed twice (first on row {seen[facility_id]})"
        log.add(number, heading["facility_id"], message)
        return None
    seen[facility_id] = number
    country = _country_code(values["country"] or "")
    if country is None:
        log.add(number, heading["country"], f"{values['country']!r} is not a country code or name")
        return None
    technology: dict[str, str] = {}
    for part in _split(values.get("technology")):
        stage, sep, code = part.partition("=")
        if not sep:
            log.add(number, heading["technology"], f"{part!r} is not STAGE=COUNTRY")
            return None
        technology[stage.strip()] = code.strip()
    spec: dict[str, object] = {
        "id": facility_id,
        "name": values["facility_name"],
        "operator": values["operator"],
        "country": country,
        "stages": _split(values["stages"]),
        "technology": technology,
    }
    if values.get("accreditation"):
        spec["accreditation"] = values["accreditation"]
    return spec


def _origins(number: int, heading: Mapping[str, str], key_count: int) -> dict[str, tuple[int, str]]:
    """Event field -> (row, column) it was read from, so a fault ``parse_event`` names is located."""
    origins = {
        path: (number, heading[column]) for path, column in _FIELD_COLUMNS.items() if column in heading
    }
    origins.update({"facility": (number, heading["facility_id"]), "keys": (number, heading["public_key"])})
    for i in range(key_count):
        origins[f"keys[{i}]"] = (number, heading["public_key"])
    return origins
