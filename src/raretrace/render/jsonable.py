"""Typed answers to JSON values: the one conversion the interfaces (``--json``, API bodies) use.

Services answer with frozen dataclasses; this turns one into the JSON the CLI prints and the API sends,
so both say the same thing. A field whose JSON name is not a Python name (``from``) carries it in its
metadata: ``field(metadata={"json": "from"})``. Field order is the dataclass's, so output is stable.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum

from raretrace.jsontypes import JSONValue


def jsonable(value: object) -> JSONValue:
    """``value`` as JSON: dataclasses by field (JSON names from metadata), enums by value, tuples, lists
    and frozensets as lists (sets sorted), dates in ISO 8601. Anything else is a programming error."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no JSON form")
        return value
    if isinstance(value, Enum):
        return jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.metadata.get("json", f.name): jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("omit_if_none") or getattr(value, f.name) is not None
        }
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value)]
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"no JSON form for {type(value).__name__}")
