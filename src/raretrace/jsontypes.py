"""The shape of JSON, as types: what a parsed document, a statement predicate or an API body is before a
parser turns it into a domain object.

``Any`` would let a typo in a key or a wrong assumption about a value's type pass mypy; these make every
reader narrow a value (``isinstance``) or hand it to a checked reader (``raretrace.rules.fields``) before
using it. Read-only inputs take ``Mapping[str, object]``; values built for output are ``JSONObject``.
"""

from __future__ import annotations

from typing import TypeAlias

JSONScalar: TypeAlias = str | int | float | bool | None
JSONValue: TypeAlias = JSONScalar | list["JSONValue"] | dict[str, "JSONValue"]
JSONObject: TypeAlias = dict[str, JSONValue]
JSONArray: TypeAlias = list[JSONValue]
