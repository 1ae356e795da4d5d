"""Typed answers to JSON values: the one conversion the interfaces (``--json``, API bodies) use.

Services answer with frozen dataclasses; this turns one into the JSON the CLI prints and the API sends,
so both say the same thing. Field order is the dataclass's, so output is stable. A field's metadata says
how it is written when the plain rule (its name, its value) does not fit:

- ``field(metadata={"json": "from"})``: its JSON name, when that is not a Python name;
- ``{"omit_if_none": True}``: left out while it is None (a member only some answers have);
- ``{"inline": True}``: a dataclass or a dict whose members are written in its place, in the object that
  holds it (a trace's source is its lot's summary plus its share, one flat object);
- ``{"omit": True}``: never written: kept for readers in Python when the JSON says the same through the
  other members (an outlook's verdict, whose subject and outcome it carries).

A trace answer holds thousands of small dataclasses (its edges), so how a class is written is worked
out once (``_writer``) and strings, integers and booleans, most of the values, are answered before any
other test.

``json_ready`` is the same conversion for a writer that is orjson (the API's ``json_answer``): it stops
at the dataclasses orjson writes exactly as ``jsonable`` would (no field metadata, every field a string,
number, boolean, None or a tuple of those: a trace's paths), at the tuples and dicts holding only such
values, and at a dataclass's field annotated as a tuple, or a mapping by string, of ``TypedDict``s whose
items are all such values (a trace's edges and lot summaries, ``ledger.trace_answers``: what the type
checker holds them to stands for a look at each), and leaves them for orjson to write, so nothing is
made for each of a trace's thousands of edges. The bytes are those of ``orjson.dumps(jsonable(value))``,
but for a float that is not finite inside what is left to orjson: written as null where ``jsonable``
refuses it (the traces' masses are checked finite when recorded, and their shares are ratios of them).
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime
from enum import Enum
from functools import partial
from math import isfinite
from operator import attrgetter
from types import NoneType, UnionType
from typing import cast, get_args

from typing_extensions import get_type_hints, is_typeddict

from raretrace.jsontypes import JSONObject, JSONValue

#: (attribute, JSON name, left out while None, written in place, left as it is) of each field of a
#: dataclass (the last only in ``json_ready``'s plans: ``_rows``)
_Plan = tuple[tuple[str, str, bool, bool, bool], ...]
#: what writes one dataclass's members, by class
_Writer = Callable[[object], JSONObject]
_WRITERS: dict[type, _Writer] = {}
#: the types a value written as it is has; and the annotations of fields that hold only those
_SCALARS = frozenset({str, int, bool, type(None)})
_SCALAR_NAMES = frozenset({"str", "int", "float", "bool", "None"})


def _scalar(annotation: object) -> str | None:
    """What a field so annotated holds: ``"plain"`` (strings, integers, booleans, None), ``"float"``
    (exactly a float: checked finite), ``"float?"`` (those and floats, checked unless None), ``"array"``
    (a tuple of any of those), or None: something else."""
    if isinstance(annotation, str) and annotation.startswith("tuple[") and annotation.endswith(", ...]"):
        return "array" if _scalar(annotation[6:-6]) is not None else None
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


#: the annotations (as written) of a field holding rows: a tuple of them, a mapping by string to them,
#: or one (a source's inlined summary)
_ROWS = (("tuple[", ", ...]"), ("Mapping[str, ", "]"), ("", ""))


def _rows(owner: type, annotation: object) -> bool:
    """Whether a field of ``owner`` so annotated holds rows (``_ROWS``; or None) that are ``TypedDict``s
    whose items are all strings, numbers, booleans or None: orjson writes those as ``jsonable`` does (a
    trace's edges and lot summaries)."""
    if not isinstance(annotation, str):
        return False
    text = annotation.removesuffix(" | None")
    for start, end in _ROWS:
        if text.startswith(start) and text.endswith(end):
            item = vars(sys.modules[owner.__module__]).get(text[len(start) : len(text) - len(end)])
            hints = get_type_hints(item).values() if is_typeddict(item) else [object]
            return all(_scalar(_written(hint)) is not None for hint in hints)
    return False


def _written(hint: object) -> str:
    """A resolved annotation as ``_scalar`` reads one written in the source: ``str | None``."""
    parts = get_args(hint) if isinstance(hint, UnionType) else (hint,)
    return " | ".join("None" if part is NoneType else getattr(part, "__name__", "?") for part in parts)


def _writer(cls: type) -> _Writer:
    """How ``cls``'s instances are written, worked out once per class. A class whose fields are all
    annotated as strings, numbers, booleans or None, with no metadata, is read in one ``attrgetter``
    call (a trace's edges and lot summaries: thousands per answer); the others member by member."""
    found = _WRITERS.get(cls)
    if found is not None:
        return found
    fields = [f for f in dataclasses.fields(cls) if not f.metadata.get("omit")]
    kinds = [_scalar(f.type) for f in fields]
    if len(fields) > 1 and not any(f.metadata for f in fields) and not {None, "array"} & set(kinds):
        names = tuple(f.name for f in fields)
        found = _flat_writer(names, [i for i, k in enumerate(kinds) if k == "float"], "float?" in kinds)
    else:
        found = partial(_members, plan=_plan(tuple(fields)), items=_items, convert=jsonable)
    _WRITERS[cls] = found
    return found


def _plan(fields: tuple[dataclasses.Field[object], ...], ready_in: type | None = None) -> _Plan:
    """How each of ``fields`` is written; with ``ready_in`` (their class: ``json_ready``'s plans), which
    of them are left as they are (``_rows``)."""
    return tuple(
        (
            f.name,
            f.metadata.get("json", f.name),
            bool(f.metadata.get("omit_if_none")),
            bool(f.metadata.get("inline")),
            ready_in is not None and _rows(ready_in, f.type),
        )
        for f in fields
    )


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


def _members(
    value: object,
    plan: _Plan,
    items: Callable[[list[object] | tuple[object, ...]], object],
    convert: Callable[[object], object],
) -> JSONObject:
    """``value``'s members by ``plan``; lists and tuples by ``items``, other values by ``convert``
    (``jsonable``'s or ``json_ready``'s)."""
    out: JSONObject = {}
    for attribute, name, omit_if_none, inline, as_is in plan:
        member = getattr(value, attribute)
        kind = type(member)
        if kind in _SCALARS:
            if member is None and omit_if_none:
                continue
            out[name] = member
        elif inline:  # its members in place; a plain TypedDict's as they are (``json_ready``: ``_rows``)
            out.update(cast("JSONObject", member) if as_is else as_object(member))
        elif (kind is float and isfinite(member)) or (as_is and (kind is tuple or kind is dict)):
            out[name] = member  # a finite float, or rows of plain TypedDicts (``json_ready``: ``_rows``)
        elif kind is tuple or kind is list:
            out[name] = cast("JSONValue", items(member))
        else:
            out[name] = cast("JSONValue", convert(member))
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


def _object_of(mapping: Mapping[object, object]) -> JSONObject:
    return {str(k): jsonable(v) for k, v in mapping.items()}


def jsonable(value: object) -> JSONValue:
    """``value`` as JSON: dataclasses by field (see the module's docstring), enums by value, tuples, lists
    and frozensets as lists (sets sorted), dates in ISO 8601. Anything else is a programming error."""
    kind = type(value)
    if kind in _SCALARS:  # most values: no isinstance walk
        return cast("JSONValue", value)  # exactly str, int, bool or None: JSON as they are
    writer = _WRITERS.get(kind)
    if writer is not None:  # a dataclass met before
        return writer(value)
    if kind is dict:  # before the isinstance walk: a trace's edges (``TraceEdge``) are dicts
        return _object_of(cast("dict[object, object]", value))
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
        return _object_of(value)
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"no JSON form for {kind.__name__}")


def _as_is(value: object) -> object:
    return value


#: what ``json_ready`` does with each dataclass met: ``_as_is`` for those orjson writes itself
_READY: dict[type, Callable[[object], object]] = {}


def _ready_writer(cls: type) -> Callable[[object], object]:
    """``json_ready`` for ``cls``'s instances, worked out once per class (see the module's docstring)."""
    found = _READY.get(cls)
    if found is None:
        fields = dataclasses.fields(cls)
        if not any(f.metadata for f in fields) and all(_scalar(f.type) is not None for f in fields):
            found = _as_is
        else:
            found = partial(_members, plan=_plan(fields, cls), items=_ready_items, convert=json_ready)
        _READY[cls] = found
    return found


def _left_to_orjson(kind: type) -> bool:
    """Whether ``json_ready`` leaves values of ``kind`` as they are."""
    if kind in _SCALARS or kind is float:
        return True
    return dataclasses.is_dataclass(kind) and _ready_writer(kind) is _as_is


def _ready_items(value: list[object] | tuple[object, ...]) -> object:
    if all(map(_left_to_orjson, set(map(type, value)))):
        return value  # a tuple is written as an array too
    return [json_ready(v) for v in value]


def json_ready(value: object) -> object:
    """``value`` as ``jsonable`` answers it, but for what orjson writes the same way itself: the value
    to give ``orjson.dumps`` (see the module's docstring)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    writer = _READY.get(kind)
    if writer is not None:  # a dataclass met before
        return writer(value)
    if kind is list or kind is tuple:
        return _ready_items(cast("list[object]", value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _ready_writer(kind)(value)
    if kind is dict:
        mapping = cast("dict[object, object]", value)
        if all(type(k) is str for k in mapping) and all(
            map(_left_to_orjson, set(map(type, mapping.values())))
        ):
            return mapping
        return {str(k): json_ready(v) for k, v in mapping.items()}
    return jsonable(value)  # finite floats, enums, other mappings, sets, dates: as jsonable writes them


def ready_object(answer: object) -> dict[str, object]:
    """The JSON object ``json_ready`` makes of a typed answer with a member orjson does not write as it
    is (a trace): a new dict, its members orjson's to write (the web lot page sets some of them)."""
    value = json_ready(answer)
    if not isinstance(value, dict):
        raise TypeError(f"{type(answer).__name__} is not answered as a new JSON object")
    return value


def as_object(answer: object) -> JSONObject:
    """The JSON object ``jsonable`` makes of a typed answer (a dataclass or a mapping)."""
    value = jsonable(answer)
    if not isinstance(value, dict):
        raise TypeError(f"{type(answer).__name__} is not answered as a JSON object")
    return value
