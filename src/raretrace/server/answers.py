"""Answers serialized in one step, for routes whose result is already plain JSON data.

Why: for a route that returns a dict, FastAPI validates it against the response model and then
serializes it with pydantic, walking it twice; a trace answer is built by the ledger and the
redaction from strings, numbers, booleans, None, lists and dicts with string keys, so there is
nothing to check, and orjson writes it in one pass. The route keeps its ``response_model`` so the
OpenAPI document describes the answer as before. Anything orjson would write differently (an integer
beyond 64 bits, a date, a dataclass, a subclass of a builtin) goes the old way instead, through
pydantic, so the bytes mean the same either way.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.responses import Response
from pydantic import TypeAdapter

_OPTIONS = (
    orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_PYDANTIC: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def json_answer(data: dict[str, Any]) -> Response:
    """``data`` as an ``application/json`` response."""
    try:
        body = orjson.dumps(data, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: what it passes through or cannot write
        body = _PYDANTIC.dump_json(data)
    return Response(body, media_type="application/json")
