"""Answers sent as JSON, the two ways the API sends them.

``json_answer``: for routes whose result is large (a trace). For a route that returns a dict, FastAPI
validates it against the response model and then serializes it with pydantic, walking it twice; a trace
answer is made by ``render.jsonable.json_ready`` (or the redaction ``redact_typed_trace``) from strings,
numbers, booleans, None, lists, tuples, dicts with string keys and the plain dataclasses orjson writes
as ``render.jsonable`` would (a trace's edges and lot summaries: no dict made for each), so there is
nothing to check, and orjson writes it in one pass. Anything orjson would write differently (an integer
beyond 64 bits, a date, a subclass of a builtin) goes the old way instead, through pydantic, so the
bytes mean the same either way.

``typed_answer``: for a service's typed answer (a frozen dataclass, a verdict, a search result): the
JSON ``render.jsonable`` makes of it, written as FastAPI writes a returned dict (Starlette's
``JSONResponse``), so the bytes are those the route sent when it returned the dict itself. The route
declares its ``response_model`` for the OpenAPI document (and the schema tests check the answer against
it); the answer is not re-validated, as its shape is fixed by the dataclass.
"""

from __future__ import annotations

import orjson
from fastapi.responses import JSONResponse, Response
from pydantic import TypeAdapter

from raretrace.render.jsonable import as_object, json_ready, jsonable, ready_object

__all__ = ["as_object", "json_answer", "json_ready", "ready_object", "typed_answer"]

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
_PYDANTIC: TypeAdapter[object] = TypeAdapter(object)


def json_answer(data: object) -> Response:
    """``data`` (plain JSON data, or ``json_ready``'s) as an ``application/json`` response."""
    try:
        body = orjson.dumps(data, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: what it passes through or cannot write
        body = _PYDANTIC.dump_json(data)
    return Response(body, media_type="application/json")


def typed_answer(answer: object, status_code: int = 200) -> JSONResponse:
    """A typed answer as the route's JSON body (see the module's docstring)."""
    return JSONResponse(jsonable(answer), status_code=status_code)
