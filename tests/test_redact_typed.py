"""The API and the web lot page write a trace from the typed answer (``render.jsonable.json_ready``,
``redact_typed_trace``) where the web page wrote it from its JSON object (``as_object``, ``redact_trace``,
now ``tests/trace_reference.py``): the same bytes, for every lot of the shared world, both directions,
every caller, with shares per element too."""

from __future__ import annotations

import dataclasses
import math
from typing import TypedDict

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from raretrace.ledger.lineage import trace_down, trace_up
from raretrace.ledger.trace_answers import LotSummary, Trace, TraceEdge
from raretrace.render.jsonable import as_object, json_ready, jsonable
from raretrace.server.access import visible_among
from raretrace.server.deps import token_principal
from raretrace.server.redact import HiddenNames, redact_typed_trace
from raretrace.store import schema as t
from tests.test_server_support import ServerWorld, shared_fixture  # noqa: F401 (fixtures)
from tests.trace_reference import redact_trace


def test_typed_redaction_writes_the_same_bytes(shared: ServerWorld) -> None:
    registry = shared.registry
    with registry.engine.connect() as conn:
        every_lot = list(conn.execute(select(t.lots.c.id)).scalars())
    hidden_seen = 0
    for who in ("cn", "jp", "us", "auditor"):
        caller = token_principal(registry, shared.tokens[who])
        for lot_id in every_lot:
            for answer in (
                trace_up(registry, lot_id),
                trace_up(registry, lot_id, by_element=True, max_paths=1),
                trace_down(registry, lot_id),
            ):
                plain = orjson.dumps(jsonable(answer))
                assert orjson.dumps(json_ready(answer)) == plain, (lot_id, answer.direction)
                with registry.engine.connect() as conn:
                    visible = visible_among(conn, caller, answer.lots)
                for facilities in (caller.facilities, None):
                    old = redact_trace(
                        as_object(answer), visible, facilities, HiddenNames(visible, "hidden-x-")
                    )
                    new = redact_typed_trace(answer, visible, facilities, HiddenNames(visible, "hidden-x-"))
                    assert orjson.dumps(new) == orjson.dumps(old), (who, lot_id, answer.direction)
                counted = old["hidden_lots"]
                assert isinstance(counted, int)
                hidden_seen += counted
    assert hidden_seen > 0  # the world has lots some callers may not see: the redaction was exercised


def test_a_traces_edges_and_summaries_are_dicts_in_the_typed_order_left_to_orjson(
    shared: ServerWorld,
) -> None:
    """A ``TraceEdge`` and a ``LotSummary`` are plain dicts with their ``TypedDict``'s keys in its order (the
    JSON members' order); ``json_ready`` leaves a trace's edges and lots as they are (nothing made per
    edge or lot), ``jsonable`` copies them (the web page annotates its copy)."""
    registry = shared.registry
    with registry.engine.connect() as conn:
        every_lot = list(conn.execute(select(t.lots.c.id)).scalars())
    traced: list[Trace] = [trace_up(registry, lot_id) for lot_id in every_lot]
    traced += [trace_down(registry, lot_id) for lot_id in every_lot]
    answers = [answer for answer in traced if answer.edges]
    assert {answer.direction for answer in answers} == {"up", "down"}
    for answer in answers:
        assert answer.edges
        for edge in answer.edges:
            assert type(edge) is dict and list(edge) == list(TraceEdge.__annotations__)
        for summary in answer.lots.values():
            assert type(summary) is dict and list(summary) == list(LotSummary.__annotations__)
        ready = json_ready(answer)
        assert isinstance(ready, dict) and ready["edges"] is answer.edges and ready["lots"] is answer.lots
        written = as_object(answer)
        assert written["edges"] == list(answer.edges) and written["lots"] == answer.lots
        edges, lots = written["edges"], written["lots"]
        assert isinstance(edges, list) and isinstance(lots, dict)
        assert all(a is not b for a, b in zip(edges, answer.edges, strict=True))
        assert all(lots[k] is not v for k, v in answer.lots.items())


class _Row(TypedDict):
    """Not all plain values: a tuple of these is converted, not left to orjson."""

    name: str
    tags: list[str]


@dataclasses.dataclass(frozen=True)
class _Rows:
    rows: tuple[_Row, ...]


def test_json_ready_converts_what_orjson_would_write_otherwise() -> None:
    """Floats outside a plain dataclass are checked as ``jsonable`` checks them; tuples holding a
    dataclass orjson cannot write as ``jsonable`` does are converted, and so are tuples of dicts but in
    a field typed as a tuple of ``TypedDict``s of plain values."""
    with pytest.raises(ValueError, match="no JSON form"):
        json_ready({"x": [math.nan, object()]})
    edge: TraceEdge = {"child": "a", "parent": "b", "mass_kg": 1.0, "event_index": 2}
    ready = json_ready({"pairs": (edge,), "when": 1})
    assert isinstance(ready, dict)
    assert ready["pairs"] == [edge]  # a dict in a plain tuple: looked at, as any dict
    assert (
        orjson.dumps(json_ready({"e": {1: edge}}))
        == b'{"e":{"1":{"child":"a","parent":"b","mass_kg":1.0,"event_index":2}}}'
    )
    rows = _Rows(({"name": "x", "tags": ["t"]},))
    converted = json_ready(rows)
    assert isinstance(converted, dict) and converted["rows"] is not rows.rows
    assert orjson.dumps(converted) == orjson.dumps(jsonable(rows)) == b'{"rows":[{"name":"x","tags":["t"]}]}'


json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner) | st.tuples(inner, inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@settings(deadline=None)
@given(json_like)
def test_json_ready_writes_what_jsonable_writes(value: object) -> None:
    assert orjson.dumps(json_ready(value)) == orjson.dumps(jsonable(value))
