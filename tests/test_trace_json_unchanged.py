"""``trace --json`` and the web lot page write a trace from ``json_ready`` (orjson for the CLI's text,
``redact_typed_trace`` on the page) where they copied each edge and summary through ``as_object``: the
same bytes, for every lot of the demo world (a twentieth of ``raretrace demo``'s: its paths have shares
below 1e-4, which ``repr`` and orjson write differently), both directions, the secretariat and two
operators who see parts of it; and on traces made up with awkward floats and strings (hypothesis). The
old ways are ``tests/trace_reference.py``: the code as it was.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

import raretrace.cli.common as common
from raretrace.cli.common import answer_text
from raretrace.cli.main import app
from raretrace.demoworld import build_world
from raretrace.errors import RaretraceError
from raretrace.ledger.lineage import trace_down, trace_up
from raretrace.ledger.participants import Principal, add_participant, issue_token
from raretrace.ledger.registry import Registry
from raretrace.ledger.trace_answers import DownTrace, LotSummary, TraceEdge, TraceSource, UpTrace
from raretrace.ledger.trace_answers import Path as TracePath
from raretrace.render.jsonable import jsonable
from raretrace.server import charts, web
from raretrace.server.deps import token_principal
from raretrace.store import schema as t
from raretrace.store.db import make_engine
from tests import trace_reference as old

#: the operators: Japan's magnet, motor and vehicle makers; and two magnet makers, whose pages show
#: placeholders up (the mines and refiners) and down (the motor and vehicle makers) with one numbering
OPERATORS = {
    "japan": ["JP-SHIN-ETSU", "JP-PROTERIAL", "JP-TDK", "JP-EV-MOTORS", "JP-EV-ASSEMBLY"],
    "magnets": ["CN-NINGBO-YUNSHENG", "JP-TDK"],
}
#: a number ``repr`` writes with an exponent, ending its line of the indented text (not a lot id's "ore-0")
_EXPONENT = re.compile(r"[0-9]e[-+][0-9]+,?$", re.MULTILINE)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass
class DemoWorld:
    registry: Registry
    lots: list[str]
    callers: dict[str, Principal]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoWorld]:
    folder = tmp_path_factory.mktemp("demo")
    registry = Registry.init(make_engine(f"sqlite:///{folder / 'world.db'}"), "demo.raretrace.example/world")
    build_world(registry, seed=0, scale=0.05)
    engine = registry.engine
    add_participant(engine, "secretariat", "Secretariat", "secretariat")
    for who, facilities in OPERATORS.items():
        add_participant(engine, who, who.title(), "operator", facilities)
    callers = {
        who: token_principal(registry, issue_token(engine, who).token) for who in ("secretariat", *OPERATORS)
    }
    with engine.connect() as conn:
        lots = sorted(conn.execute(select(t.lots.c.id)).scalars())
    yield DemoWorld(registry, lots, callers)
    engine.dispose()


def _counting_slow_path(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """The values ``answer_text`` sets aside for ``json.dumps`` (``json_text``) from now on."""
    slow: list[object] = []
    json_text = common.json_text

    def counted(value: object) -> str:
        slow.append(value)
        return json_text(value)

    monkeypatch.setattr(common, "json_text", counted)
    return slow


def _traces(registry: Registry, lot_id: str) -> list[UpTrace | DownTrace]:
    """What ``trace --json`` answers for the lot: up (its options), up with one path, and down."""
    return [
        trace_up(registry, lot_id, graph=True, by_element=True),
        trace_up(registry, lot_id, max_paths=1, graph=True, by_element=True),
        trace_down(registry, lot_id),
    ]


def test_trace_json_is_the_old_text_for_every_lot(demo: DemoWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = _counting_slow_path(monkeypatch)
    tiny = 0
    for lot_id in demo.lots:
        for answer in _traces(demo.registry, lot_id):
            before = old.trace_text(answer)
            assert answer_text(answer) == before, (lot_id, answer.direction)
            tiny += bool(_EXPONENT.search(before))  # repr's exponent, orjson's 0.0000…: rewritten
    assert tiny > 10
    assert not slow  # every one written by orjson: nothing outside printable ASCII in the demo world


def test_the_trace_command_prints_the_old_text(demo: DemoWorld) -> None:
    """The command itself, on the first lots whose up-trace has a share below 1e-4."""
    url = str(demo.registry.engine.url)
    runner = CliRunner()
    tried = 0
    for lot_id in demo.lots:
        before = old.trace_text(trace_up(demo.registry, lot_id, graph=True, by_element=True))
        if not _EXPONENT.search(before):
            continue
        printed = runner.invoke(app, ["--db", url, "trace", lot_id, "--up", "--json"])
        assert printed.exit_code == 0 and printed.stdout == before, lot_id
        down = runner.invoke(app, ["--db", url, "trace", lot_id, "--down", "--json"])
        assert down.stdout == old.trace_text(trace_down(demo.registry, lot_id)), lot_id
        tried += 1
        if tried == 3:
            break
    assert tried == 3


def _sankey_inputs(root: str, up: Any, element: str) -> str:
    """What ``charts.origin_sankey`` reads, in place of its plotly figure (tens of ms each)."""
    return orjson.dumps([root, element, up["lots"], up["edges"]], default=jsonable).decode()


def _page(model: dict[str, Any], caller: Principal) -> str:
    html = web.templates().get_template("lot.html").render(caller=caller, charts_needed=True, **model)
    return _UUID.sub("<uuid>", html)  # plotly's random div ids


def _model(
    make: Callable[[Registry, Principal, str], dict[str, Any]], demo: DemoWorld, who: str, lot: str
) -> Any:
    try:
        return make(demo.registry, demo.callers[who], lot)
    except RaretraceError as e:  # a lot the caller may not see: refused alike
        return (type(e), str(e))


def test_the_lot_page_is_the_old_page_for_every_lot_and_caller(
    demo: DemoWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's traces (as orjson writes them, in their order), graph and HTML, for every lot; the
    Sankeys by what they are drawn from (their figures for a few lots below)."""
    monkeypatch.setattr(charts, "origin_sankey", _sankey_inputs)
    shown = hidden = both = 0
    for who, caller in demo.callers.items():
        for lot_id in demo.lots:
            new = _model(web.lot_model, demo, who, lot_id)
            before = _model(old.lot_model, demo, who, lot_id)
            if isinstance(before, tuple):
                assert new == before
                continue
            for key in ("up", "down"):
                assert orjson.dumps(new[key], default=jsonable) == orjson.dumps(before[key]), (
                    who,
                    lot_id,
                    key,
                )
            assert new["graph"] == before["graph"] and new["sankeys"] == before["sankeys"], (who, lot_id)
            assert _page(new, caller) == _page(before, caller), (who, lot_id)
            shown += 1
            hidden_up, hidden_down = (new[key].get("hidden_lots", 0) for key in ("up", "down"))
            hidden += bool(hidden_up or hidden_down)
            both += bool(hidden_up and hidden_down)
    assert shown > len(demo.lots) and hidden > 10 and both > 0  # the operators' pages show placeholders


def test_the_lot_page_with_its_sankeys_is_the_old_page(demo: DemoWorld) -> None:
    """Whole pages, plotly figures and all, for the drawn lineages with the most edges, both callers."""
    drawn = [trace_up(demo.registry, lot_id) for lot_id in demo.lots]
    drawn = [up for up in drawn if up.edges and len(up.lots) <= web.MAX_DRAWN]
    compared = 0
    for up in sorted(drawn, key=lambda up: -len(up.edges or ()))[:6]:
        for who, caller in demo.callers.items():
            new, before = (_model(make, demo, who, up.lot) for make in (web.lot_model, old.lot_model))
            if isinstance(before, tuple):
                assert new == before
                continue
            assert new["sankeys"] and _page(new, caller) == _page(before, caller), (who, up.lot)
            compared += 1
    assert compared >= 6


# --- made-up traces -------------------------------------------------------------------------------------

#: floats that ``repr`` and orjson write differently (exponents, below 1e-4) and the edges of those ranges
AWKWARD = [1e-7, -1e-7, 1e-5, 9.999999999999999e-05, 1e-4, 4.6739816583774e-05, 1.676440458146813e-06, 5e-324]
AWKWARD += [1e15, 9999999999999998.0, 1e16, 1.5e16, 1.2345678901234568e17, 1e22, 1.7976931348623157e308]
AWKWARD += [0.0, -0.0, 0.1 + 0.2, 2_500_000.0, 123.456]
floats = st.sampled_from(AWKWARD) | st.floats(allow_nan=False, allow_infinity=False)
#: strings that look like what is rewritten, or are written otherwise (non-ASCII, DEL, control characters)
TRICKY = ['": 1e-7', "0.00001", "x\n  1e16,", "1e-07", "1E5", "Société", "\x7f", "\x00\x1f", '"\\', "\u2028"]
texts = st.sampled_from(TRICKY) | st.text(max_size=12)
summaries = st.fixed_dictionaries(
    {
        "form": texts,
        "mass_kg": floats,
        "producer": texts,
        "stage": texts,
        "deposit": st.none() | texts,
        "custodian": texts,
    }
).map(lambda d: cast("LotSummary", d))
edges = st.builds(
    lambda child, parent, mass, index: TraceEdge(child=child, parent=parent, mass_kg=mass, event_index=index),
    texts,
    texts,
    floats,
    st.integers(min_value=0, max_value=2**64 + 5) | st.integers(min_value=0, max_value=100),
)
paths = st.builds(
    TracePath, st.lists(texts, max_size=3).map(tuple), st.lists(floats, max_size=3).map(tuple), floats
)
shares = st.dictionaries(texts, floats, max_size=3)
sources = st.builds(
    TraceSource,
    lot=texts,
    summary=summaries,
    share=floats,
    path_count=st.integers(0, 10),
    paths=st.lists(paths, max_size=2).map(tuple),
    element_shares=st.none() | shares,
)
ups = st.builds(
    UpTrace,
    lot=texts,
    lots=st.dictionaries(texts, summaries, max_size=3),
    sources=st.lists(sources, max_size=3).map(tuple),
    path_count=st.integers(0, 10),
    paths_listed=st.integers(0, 10),
    paths_truncated=st.booleans(),
    max_paths=st.integers(0, 10),
    share_basis=st.none() | texts,
    untraced_by_element=st.none() | shares,
    edges=st.none() | st.lists(edges, max_size=4).map(tuple),
)
downs = st.builds(
    DownTrace,
    lot=texts,
    lots=st.dictionaries(texts, summaries, max_size=3),
    reached=st.lists(texts, max_size=3).map(tuple),
    end_items=st.lists(texts, max_size=3).map(tuple),
    edges=st.lists(edges, max_size=4).map(tuple),
)
EDGE: TraceEdge = {"child": "a", "parent": "b", "mass_kg": 1e-7, "event_index": 3}
SUMMARY: LotSummary = {
    "form": "ore",
    "mass_kg": 1.5e16,
    "producer": "x",
    "stage": "mining",
    "deposit": None,
    "custodian": "y",
}


@settings(deadline=None, max_examples=300)
@given(ups | downs)
@example(DownTrace(lot="a", lots={"a": SUMMARY}, reached=("b",), end_items=("b",), edges=(EDGE,)))
@example(
    DownTrace(lot="a", lots={"a": SUMMARY | {"producer": "Société"}}, reached=(), end_items=(), edges=())
)
def test_a_made_up_trace_is_written_as_before(answer: UpTrace | DownTrace) -> None:
    assert answer_text(answer) == old.trace_text(answer)


def test_the_awkward_floats_are_rewritten_not_set_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiny and huge masses go orjson's way, rewritten by ``repr``; what ``json.dumps`` escapes its way."""
    slow = _counting_slow_path(monkeypatch)
    for mass in AWKWARD:
        answer = DownTrace(
            lot="a", lots={"a": SUMMARY | {"mass_kg": mass}}, reached=(), end_items=(), edges=()
        )
        text = answer_text(answer)
        assert text == old.trace_text(answer) and f'"mass_kg": {mass!r}' in text
        assert json.loads(text)["lots"]["a"]["mass_kg"] == mass
    assert not slow
    answer_text(DownTrace(lot="é", lots={}, reached=(), end_items=(), edges=()))
    assert len(slow) == 1
