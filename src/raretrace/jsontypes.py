"""The shape of JSON, as types: what a parsed document, a statement predicate or an API body is before a
parser turns it into a domain object.

``Any`` would let a typo in a key or a wrong assumption about a value's type pass mypy; these make every
reader narrow a value (``isinstance``) or hand it to a checked reader (``raretrace.rules.fields``) before
using it. Read-only inputs take ``Mapping[str, object]``; values built for output are ``JSONObject``.
"""

from __future__ import annotations

from typing import TypeAlias, TypeGuard

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject: TypeAlias = dict[str, JSONValue]
JSONArray: TypeAlias = list[JSONValue]


def is_json(value: object) -> TypeGuard[JSONValue]:
    """True when ``value`` is made of JSON values only (what a JSON parser returns), checked all the way
    down: for values typed ``object`` that a reader must hand on as JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return True
    if isinstance(value, list):
        return all(is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_json(item) for key, item in value.items())
    return False
