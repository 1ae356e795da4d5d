"""Typed answers to JSON values: the one conversion the interfaces (``--json``, API bodies) use.

Services answer with frozen dataclasses; this turns one into the JSON the CLI prints and the API sends,
so both say the same thing. Field order is the dataclass's, so output is stable. A field's metadata says
how it is written when the plain rule (its name, its value) does not fit:

- ``field(metadata={"json": "from"})``: its JSON name, when that is not a Python name;
- ``{"omit_if_none": True}``: left out while it is None (a member only some answers have);
- ``{"inline": True}``: a dataclass whose members are written in its place, in the object that holds
  it (a trace's source is its lot's summary plus its share, one flat object).

A trace answer holds thousands of small dataclasses (its edges), so each class's fields are read once
(``_plan``) and strings and numbers, most of the values, are answered before any other test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import cast

from raretrace.jsontypes import JSONObject, JSONValue

#: (attribute, JSON name, left out while None, written in place) of each field of a dataclass
_Plan = tuple[tuple[str, str, bool, bool], ...]


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type) -> _Plan:
    found = _PLANS.get(cls)
    if found is None:
        found = _PLANS[cls] = tuple(
            (
                f.name,
                f.metadata.get("json", f.name),
                bool(f.metadata.get("omit_if_none")),
                bool(f.metadata.get("inline")),
            )
            for f in dataclasses.fields(cls)
        )
    return found


def _members(value: object, plan: _Plan) -> JSONObject:
    out: JSONObject = {}
    for attribute, name, omit_if_none, inline in plan:
        member = getattr(value, attribute)
        if member is None and omit_if_none:
            continue
        if inline:
            out.update(_members(member, _plan(type(member))))
        else:
            out[name] = jsonable(member)
    return out


def jsonable(value: object) -> JSONValue:
    """``value`` as JSON: dataclasses by field (see the module's docstring), enums by value, tuples, lists
    and frozensets as lists (sets sorted), dates in ISO 8601. Anything else is a programming error."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most values: no isinstance walk
        return cast("JSONValue", value)  # exactly str, int, bool or None: JSON as they are
    if isinstance(value, Enum):  # before str and int: a StrEnum is written as its plain value
        return jsonable(value.value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no JSON form")
        return value
    if isinstance(value, bool | int | str):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _members(value, _plan(kind))
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"no JSON form for {kind.__name__}")


def as_object(answer: object) -> JSONObject:
    """The JSON object ``jsonable`` makes of a typed answer (a dataclass or a mapping)."""
    value = jsonable(answer)
    if not isinstance(value, dict):
        raise TypeError(f"{type(answer).__name__} is not answered as a JSON object")
    return value
