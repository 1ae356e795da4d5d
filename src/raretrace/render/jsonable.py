"""Typed answers to JSON values: the one conversion the interfaces (``--json``, API bodies) use.

Services answer with frozen dataclasses; this turns one into the JSON the CLI prints and the API sends,
so both say the same thing. Field order is the dataclass's, so output is stable. A field's metadata says
how it is written when the plain rule (its name, its value) does not fit:

- ``field(metadata={"json": "from"})``: its JSON name, when that is not a Python name;
- ``{"omit_if_none": True}``: left out while it is None (a member only some answers have);
- ``{"inline": True}``: a dataclass whose members are written in its place, in the object that holds
  it (a trace's source is its lot's summary plus its share, one flat object);
- ``{"omit": True}``: never written: kept for readers in Python when the JSON says the same through the
  other members (an outlook's verdict, whose subject and outcome it carries).

A trace answer holds thousands of small dataclasses (its edges), so how a class is written is worked
out once (``_writer``) and strings, integers and booleans, most of the values, are answered before any
other test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from functools import partial
from math import isfinite
from operator import attrgetter
from typing import cast

from raretrace.jsontypes import JSONObject, JSONValue

#: (attribute, JSON name, left out while None, written in place) of each field of a dataclass
_Plan = tuple[tuple[str, str, bool, bool], ...]
#: what writes one dataclass's members, by class
_Writer = Callable[[object], JSONObject]
_WRITERS: dict[type, _Writer] = {}
#: the types a value written as it is has; and the annotations of fields that hold only those
_SCALARS = frozenset({str, int, bool, type(None)})
_SCALAR_NAMES = frozenset({"str", "int", "float", "bool", "None"})


def _scalar(annotation: object) -> str | None:
    """What a field so annotated holds: ``"plain"`` (strings, integers, booleans, None), ``"float"``
    (exactly a float: checked finite), ``"float?"`` (those and floats, checked unless None), or None:
    something else."""
    if isinstance(annotation, str):
        parts = {part.strip() for part in annotation.split("|")}
    elif isinstance(annotation, type):
        parts = {annotation.__name__}
    else:
        return None
    if not parts <= _SCALAR_NAMES:
        return None
    if "float" not in parts:
        return "plain"
    return "float" if parts == {"float"} else "float?"


def _writer(cls: type) -> _Writer:
    """How ``cls``'s instances are written, worked out once per class. A class whose fields are all
    annotated as strings, numbers, booleans or None, with no metadata, is read in one ``attrgetter``
    call (a trace's edges and lot summaries: thousands per answer); the others member by member."""
    found = _WRITERS.get(cls)
    if found is not None:
        return found
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("omit")]
    kinds = [_scalar(f.type) for f in fields]
    if len(fields) > 1 and not any(f.metadata for f in fields) and None not in kinds:
        names = tuple(f.name for f in fields)
        found = _flat_writer(names, [i for i, k in enumerate(kinds) if k == "float"], "float?" in kinds)
    else:
        plan: _Plan = tuple(
            (
                f.name,
                f.metadata.get("json", f.name),
                bool(f.metadata.get("omit_if_none")),
                bool(f.metadata.get("inline")),
            )
            for f in fields
        )
        found = partial(_members, plan=plan)
    _WRITERS[cls] = found
    return found


def _flat_writer(names: tuple[str, ...], floats: list[int], maybe_floats: bool) -> _Writer:
    """``names`` read at once; the floats among them (at ``floats``, or any if ``maybe_floats``) checked."""
    read = attrgetter(*names)

    def write(value: object) -> JSONObject:
        values = read(value)
        for i in floats:
            if not isfinite(values[i]):
                raise ValueError(f"{values[i]} has no JSON form")
        return dict(zip(names, values))  # noqa: B905 (attrgetter gives one per name)

    def write_checking_all(value: object) -> JSONObject:
        values = read(value)
        for number in values:
            if type(number) is float and not isfinite(number):
                raise ValueError(f"{number} has no JSON form")
        return dict(zip(names, values))  # noqa: B905 (attrgetter gives one per name)

    return write_checking_all if maybe_floats else write


def _members(value: object, plan: _Plan) -> JSONObject:
    out: JSONObject = {}
    for attribute, name, omit_if_none, inline in plan:
        member = getattr(value, attribute)
        kind = type(member)
        if kind in _SCALARS:
            if member is None and omit_if_none:
                continue
            out[name] = member
        elif kind is float and isfinite(member):
            out[name] = member
        elif kind is tuple or kind is list:
            out[name] = _items(member)
        elif inline:
            out.update(_writer(type(member))(member))
        else:
            out[name] = jsonable(member)
    return out


def _items(value: list[object] | tuple[object, ...]) -> list[JSONValue]:
    kinds = set(map(type, value))
    if len(kinds) == 1:  # one kind of item, as a trace's edges and paths: what writes it, found once
        (item,) = kinds
        write = _WRITERS.get(item)
        if write is not None:
            return list(map(write, value))
        if item in _SCALARS or (item is float and all(map(isfinite, cast("tuple[float, ...]", value)))):
            return cast("list[JSONValue]", list(value))  # str, int, bool, None or finite floats only
    return [v if type(v) in _SCALARS else jsonable(v) for v in value]  # type: ignore[misc]  # scalars as they are


def jsonable(value: object) -> JSONValue:
    """``value`` as JSON: dataclasses by field (see the module's docstring), enums by value, tuples, lists
    and frozensets as lists (sets sorted), dates in ISO 8601. Anything else is a programming error."""
    kind = type(value)
    if kind in _SCALARS:  # most values: no isinstance walk
        return cast("JSONValue", value)  # exactly str, int, bool or None: JSON as they are
    writer = _WRITERS.get(kind)
    if writer is not None:  # a dataclass met before
        return writer(value)
    if isinstance(value, Enum):  # before str and int: a StrEnum is written as its plain value
        return jsonable(value.value)
    if isinstance(value, float):
        if not isfinite(value):
            raise ValueError(f"{value} has no JSON form")
        return value
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, list | tuple):
        return _items(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _writer(kind)(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
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
