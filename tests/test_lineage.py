"""Lineage: shares per source and path up to the mines, and the recall list down to end items.

Shares come from dynamic programming over the DAG; the tests hold them against the plain enumeration
of every path, on generated DAGs and on chains recorded through the registry. The chains use short
free-form lot ids, so their registries are made with ``init --open-ids``."""

from __future__ import annotations

import json
import math
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from raretrace.errors import NotFoundError, ValidationError
from raretrace.ledger.lineage import ancestry, best_paths, inputs_by_child
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store import schema as t
from tests.chain_fixtures import new_registry
from tests.trace_json import down_json, up_json

COMP = {"Nd": 0.01, "Pr": 0.003}


def _blend(db_url: str, kg_a: float = 300.0, kg_b: float = 100.0) -> ScriptedChain:
    """Ore A (AU) 300 kg and ore B (CN) 100 kg blended into a concentrate, split into two oxides."""
    chain = ScriptedChain(new_registry(db_url, open_ids=True))
    chain.add_facility("MINE-AU", country="AU", stages=["mining"])
    chain.add_facility("MINE-CN", country="CN", stages=["mining"])
    chain.add_facility("SEP-MY", country="MY", stages=["beneficiation", "separation", "metallization"])
    for mine, name, kg in (("MINE-AU", "ore-a", 1000.0), ("MINE-CN", "ore-b", 1000.0)):
        chain.record(
            mine, "extract", deposit=name, outputs=[lot(f"urn:raretrace:lot:{name}", "ore", kg, COMP)]
        )
        chain.ship(mine, "SEP-MY", [f"urn:raretrace:lot:{name}"])
    chain.record(
        "SEP-MY",
        "process",
        stage="beneficiation",
        inputs=[
            {"lot": "urn:raretrace:lot:ore-a", "mass_kg": kg_a},
            {"lot": "urn:raretrace:lot:ore-b", "mass_kg": kg_b},
        ],
        outputs=[lot("urn:raretrace:lot:conc", "concentrate", 40.0, {"Nd": 0.1, "Pr": 0.03})],
    )
    chain.record(
        "SEP-MY",
        "process",
        stage="separation",
        inputs=[{"lot": "urn:raretrace:lot:conc", "mass_kg": 40.0}],
        outputs=[
            lot("urn:raretrace:lot:ox-1", "separated_oxide", 3.0, {"Nd": 0.6, "Pr": 0.2}),
            lot("urn:raretrace:lot:ox-2", "separated_oxide", 1.0, {"Nd": 0.6, "Pr": 0.2}),
        ],
    )
    return chain


@pytest.mark.parametrize(
    ("kg_a", "kg_b", "order"),
    [(100.0, 300.0, ["ore-b", "ore-a"]), (200.0, 200.0, ["ore-a", "ore-b"])],  # by share; ties by id
)
def test_sources_rank_by_share_then_lot_id(db_url: str, kg_a: float, kg_b: float, order: list[str]) -> None:
    registry = _blend(db_url, kg_a, kg_b).registry
    for graph in (True, False):
        result = up_json(registry, "urn:raretrace:lot:ox-1", graph=graph)
        assert [s["lot"] for s in result["sources"]] == [f"urn:raretrace:lot:{x}" for x in order]


def test_trace_up_gives_shares_by_path(db_url: str) -> None:
    registry = _blend(db_url).registry
    result = up_json(registry, "urn:raretrace:lot:ox-1")
    shares = {s["lot"]: s["share"] for s in result["sources"]}
    assert math.isclose(shares["urn:raretrace:lot:ore-a"], 0.75)
    assert math.isclose(shares["urn:raretrace:lot:ore-b"], 0.25)
    source_a = next(s for s in result["sources"] if s["lot"] == "urn:raretrace:lot:ore-a")
    assert source_a["deposit"] == "ore-a" and source_a["producer"] == "MINE-AU"
    (path,) = source_a["paths"]
    assert path["lots"] == ["urn:raretrace:lot:ox-1", "urn:raretrace:lot:conc", "urn:raretrace:lot:ore-a"]
    assert path["input_kg"] == pytest.approx([30.0, 300.0])  # 3/4 of the 40 kg concentrate went to ox-1
    assert result["path_count"] == result["paths_listed"] == 2 and not result["paths_truncated"]
    json.dumps(result)  # the --json form is one JSON object
    mined = up_json(registry, "urn:raretrace:lot:ore-a")  # a source is its own only source
    assert [(s["lot"], s["share"], s["path_count"]) for s in mined["sources"]] == [
        ("urn:raretrace:lot:ore-a", 1.0, 1)
    ]
    assert mined["sources"][0]["paths"] == [
        {"lots": ["urn:raretrace:lot:ore-a"], "input_kg": [], "share": 1.0}
    ]
    assert mined["edges"] == [] and list(mined["lots"]) == ["urn:raretrace:lot:ore-a"]


def test_a_trace_is_a_typed_answer_and_its_json_the_api_schema(db_url: str) -> None:
    """``trace_up``/``trace_down`` answer frozen dataclasses (issue #18); the JSON the interfaces make of
    them (``render.jsonable``) is what the API's response model describes, a source as one flat object."""
    from dataclasses import FrozenInstanceError

    from raretrace.ledger.lineage import trace_down, trace_up
    from raretrace.ledger.trace_answers import DownTrace, LotSummary, UpTrace
    from raretrace.render.jsonable import as_object
    from raretrace.server.schemas import Trace
    from raretrace.store.lineage import SUMMARY_KEYS

    assert tuple(LotSummary.__annotations__) == SUMMARY_KEYS  # a summary row is read by position
    registry = _blend(db_url).registry
    up = trace_up(registry, "urn:raretrace:lot:ox-1")
    assert isinstance(up, UpTrace) and up.direction == "up" and up.edges
    source = up.sources[0]
    assert (source.lot, source.summary["producer"], source.summary["deposit"]) == (
        "urn:raretrace:lot:ore-a",
        "MINE-AU",
        "ore-a",
    )
    assert source.summary == up.lots[source.lot] and source.element_shares is None
    with pytest.raises(FrozenInstanceError):
        source.share = 1.0  # type: ignore[misc]  # the point: a frozen answer refuses
    assert list(as_object(source)) == ["lot", *SUMMARY_KEYS, "share", "path_count", "paths"]
    down = trace_down(registry, "urn:raretrace:lot:ore-b")
    assert isinstance(down, DownTrace) and down.end_items == (
        "urn:raretrace:lot:ox-1",
        "urn:raretrace:lot:ox-2",
    )
    for answer in (up, down, trace_up(registry, "urn:raretrace:lot:ox-1", graph=False, by_element=True)):
        written = as_object(answer)
        assert Trace.model_validate(written).model_dump(exclude_unset=True) == written


def test_trace_down_is_a_recall_list(db_url: str) -> None:
    registry = _blend(db_url).registry
    result = down_json(registry, "urn:raretrace:lot:ore-b")
    assert result["reached"] == ["urn:raretrace:lot:conc", "urn:raretrace:lot:ox-1", "urn:raretrace:lot:ox-2"]
    assert result["end_items"] == ["urn:raretrace:lot:ox-1", "urn:raretrace:lot:ox-2"]
    assert down_json(registry, "urn:raretrace:lot:ox-2")["reached"] == []
    with pytest.raises(NotFoundError):
        up_json(registry, "urn:raretrace:lot:nothing")
    with pytest.raises(NotFoundError):
        down_json(registry, "urn:raretrace:lot:nothing")
    # without the graph: the lot and its sources are summarized, the paths still listed in full
    brief = up_json(registry, "urn:raretrace:lot:ox-1", graph=False)
    sources = {s["lot"] for s in brief["sources"]}
    assert set(brief["lots"]) == {"urn:raretrace:lot:ox-1", *sources} and "edges" not in brief
    full = up_json(registry, "urn:raretrace:lot:ox-1")
    assert brief["sources"] == full["sources"] and set(full["lots"]) > set(brief["lots"])
    assert brief["sources"] == sorted(brief["sources"], key=lambda s: (-s["share"], s["lot"]))
    assert any(
        len(p["lots"]) > 2 for s in brief["sources"] for p in s["paths"]
    )  # through lots not summarized
    # the traced lot is summarized with the others, in one query, and still listed first
    for result in (
        down_json(registry, "urn:raretrace:lot:ore-b"),
        up_json(registry, "urn:raretrace:lot:ox-1"),
    ):
        assert next(iter(result["lots"])) == result["lot"]
        assert result["lots"][result["lot"]]["stage"]


# --- shares by dynamic programming, against enumerating every path -----------------------------------


class _Edge(NamedTuple):
    child: str
    parent: str
    mass_kg: float
    seq: int


def _enumerate_paths(root: str, edges: list[Any]) -> list[tuple[list[str], float]]:
    """The reference: every path from ``root`` up to a lot with no inputs, and its share (product)."""
    parents: dict[str, list[Any]] = {}
    for edge in edges:
        parents.setdefault(edge.child, []).append(edge)
    out: list[tuple[list[str], float]] = []

    def walk(node: str, path: list[str], share: float) -> None:
        incoming = parents.get(node)
        if not incoming:
            out.append((path, share))
            return
        total = sum(e.mass_kg for e in incoming)
        for e in incoming:
            walk(e.parent, [*path, e.parent], share * e.mass_kg / total)

    walk(root, [root], 1.0)
    return out


def _reference(root: str, edges: list[Any]) -> tuple[dict[str, float], dict[str, int], list[float]]:
    shares: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    paths = _enumerate_paths(root, edges)
    for path, share in paths:
        shares[path[-1]] += share
        counts[path[-1]] += 1
    return dict(shares), dict(counts), sorted((s for _, s in paths), reverse=True)


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 8) -> dict[int, list[tuple[int, float]]]:
    """Node -> [(input node, weight)]; inputs always have higher numbers (so: acyclic); 0 is traced."""
    n = draw(st.integers(2, max_nodes))
    dag: dict[int, list[tuple[int, float]]] = {}
    for child in range(n - 1):
        chosen = draw(st.lists(st.integers(child + 1, n - 1), unique=True, max_size=4))
        dag[child] = [(p, draw(st.floats(0.1, 1.0))) for p in sorted(chosen)]
    return dag


def _reachable_edges(root: str, edges: list[_Edge]) -> list[_Edge]:
    """The edges ``trace_up`` would fetch: those above ``root``."""
    by_child = inputs_by_child(edges)
    seen, stack, out = {root}, [root], []
    while stack:
        for edge in by_child.get(stack.pop(), []):
            out.append(edge)
            if edge.parent not in seen:
                seen.add(edge.parent)
                stack.append(edge.parent)
    return out


@settings(max_examples=300, deadline=None)
@given(dag=dags(), doubled=st.booleans(), limit=st.integers(0, 12))
def test_dp_shares_equal_path_enumeration(
    dag: dict[int, list[tuple[int, float]]], doubled: bool, limit: int
) -> None:
    edges = [_Edge(f"n{c}", f"n{p}", w, c) for c, parents in dag.items() for p, w in parents]
    if doubled and edges:  # the same input twice (two events' worth): two edges, two paths
        edges.append(edges[0]._replace(seq=99, mass_kg=edges[0].mass_kg / 3))
    edges = _reachable_edges("n0", edges)
    shares, counts, path_shares = _reference("n0", edges)
    parents = inputs_by_child(edges)
    found = ancestry("n0", parents)
    assert found.shares.keys() == shares.keys()
    for source, share in shares.items():
        assert math.isclose(found.shares[source], share, rel_tol=1e-9)
    assert found.path_counts == counts
    assert math.isclose(sum(found.shares.values()), 1.0, rel_tol=1e-9)
    listed = best_paths("n0", parents, found.best, limit)
    assert [p.share for p in listed] == pytest.approx(path_shares[:limit], rel=1e-9)
    everything: dict[tuple[str, ...], list[float]] = defaultdict(list)
    for lots, share in _enumerate_paths("n0", edges):
        everything[tuple(lots)].append(share)
    for path in listed:  # each listed path is a real one, with its own share
        assert any(math.isclose(path.share, s, rel_tol=1e-9) for s in everything[path.lots])
        assert path.lots[0] == "n0" and len(path.input_kg) == len(path.lots) - 1
    if not doubled:  # without parallel edges a path is identified by its lots: none listed twice
        assert len({p.lots for p in listed}) == len(listed)


def test_a_cycle_is_refused_not_looped() -> None:
    edges = [_Edge("a", "b", 1.0, 1), _Edge("b", "c", 1.0, 2), _Edge("c", "b", 1.0, 3)]
    with pytest.raises(ValidationError, match="cycle"):
        ancestry("a", inputs_by_child(edges))


def _registry_chain(dag: dict[int, list[tuple[int, float]]], url: str) -> ScriptedChain:
    """The DAG as signed events: lots without inputs are mined, the others processed from their inputs."""
    chain = ScriptedChain(new_registry(url, open_ids=True))
    chain.add_facility("PLANT", country="AU", stages=["mining", "separation"])
    n = max(dag) + 2
    uses = defaultdict(int)
    for parents in dag.values():
        for p, _ in parents:
            uses[p] += 1
    mass = {}
    for node in range(n - 1, -1, -1):  # inputs (higher numbers) first
        lot_id = f"urn:raretrace:lot:n{node}"
        parents = dag.get(node, [])
        if not parents:
            mass[node] = 1000.0
            chain.record(
                "PLANT", "extract", deposit=f"d{node}", outputs=[lot(lot_id, "ore", 1000.0, {"Nd": 0.01})]
            )
            continue
        inputs = [{"lot": f"urn:raretrace:lot:n{p}", "mass_kg": mass[p] * w / uses[p]} for p, w in parents]
        mass[node] = 0.5 * sum(i["mass_kg"] for i in inputs)
        chain.record(
            "PLANT",
            "process",
            stage="separation",
            inputs=inputs,
            outputs=[lot(lot_id, "concentrate", mass[node], {"Nd": 0.01})],
        )
    return chain


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dag=dags(max_nodes=7))
def test_trace_up_through_the_registry_matches_enumeration(dag: dict[int, list[tuple[int, float]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        registry = _registry_chain(dag, f"sqlite:///{Path(tmp) / 'dag.db'}").registry
        root = "urn:raretrace:lot:n0"
        with registry.engine.connect() as conn:
            stored = conn.execute(select(t.lot_inputs)).all()
        shares, counts, path_shares = _reference(root, list(stored))
        result = up_json(registry, root, max_paths=3)
        assert {s["lot"]: s["share"] for s in result["sources"]} == pytest.approx(shares)
        assert {s["lot"]: s["path_count"] for s in result["sources"]} == counts
        assert result["path_count"] == len(path_shares)
        listed = sorted((p["share"] for s in result["sources"] for p in s["paths"]), reverse=True)
        assert listed == pytest.approx(path_shares[:3])
        assert result["paths_truncated"] == (len(path_shares) > 3)
        registry.engine.dispose()


def _layered(db_url: str, width: int = 3, depth: int = 3) -> tuple[ScriptedChain, str]:
    """``width`` ores, then ``depth`` layers of ``width`` lots each made from every lot of the layer
    below (in unequal parts), and one final lot made from the top layer: width ** (depth + 1) paths."""
    chain = ScriptedChain(new_registry(db_url, open_ids=True))
    chain.add_facility("PLANT", country="AU", stages=["mining", "separation"])
    below = []
    for i in range(width):
        ore = f"urn:raretrace:lot:ore-{i}"
        chain.record("PLANT", "extract", deposit=f"d{i}", outputs=[lot(ore, "ore", 1000.0, COMP)])
        below.append(ore)
    mass = 1000.0
    for level in range(depth + 1):
        layer = [f"urn:raretrace:lot:l{level}-{j}" for j in range(width if level < depth else 1)]
        take = [mass / (width + 1) * (k + 1) / width for k in range(width)]
        for lot_id in layer:
            chain.record(
                "PLANT",
                "process",
                stage="separation",
                inputs=[{"lot": b, "mass_kg": m} for b, m in zip(below, take, strict=True)],
                outputs=[lot(lot_id, "concentrate", sum(take) / 2, COMP)],
            )
        below, mass = layer, sum(take) / 2
    return chain, below[0]


def test_paths_are_capped_highest_share_first_and_truncation_is_reported(db_url: str) -> None:
    chain, top = _layered(db_url)
    registry = chain.registry
    full = up_json(registry, top, max_paths=1000)
    assert full["path_count"] == full["paths_listed"] == 81 and not full["paths_truncated"]
    every = sorted((p["share"] for s in full["sources"] for p in s["paths"]), reverse=True)
    assert math.isclose(sum(every), 1.0)
    capped = up_json(registry, top, max_paths=5)
    assert capped["path_count"] == 81 and capped["paths_listed"] == 5 and capped["paths_truncated"]
    assert capped["max_paths"] == 5
    assert sum(s["path_count"] for s in capped["sources"]) == 81
    listed = [p["share"] for s in capped["sources"] for p in s["paths"]]
    assert sorted(listed, reverse=True) == pytest.approx(every[:5])
    for source in capped["sources"]:
        shares = [p["share"] for p in source["paths"]]
        assert shares == sorted(shares, reverse=True)
    # the shares do not depend on how many paths are listed
    assert [(s["lot"], s["share"]) for s in capped["sources"]] == [
        (s["lot"], s["share"]) for s in full["sources"]
    ]
    none = up_json(registry, top, max_paths=0)
    assert none["paths_listed"] == 0 and all(s["paths"] == [] for s in none["sources"])
    with pytest.raises(ValidationError):
        up_json(registry, top, max_paths=-1)
    json.dumps(capped)


def _diamond(db_url: str) -> ScriptedChain:
    """The blend's two oxides (3 kg and 1 kg, both from one concentrate) made into one metal."""
    chain = _blend(db_url)
    chain.record(
        "SEP-MY",
        "process",
        stage="metallization",
        inputs=[
            {"lot": "urn:raretrace:lot:ox-1", "mass_kg": 2.0},
            {"lot": "urn:raretrace:lot:ox-2", "mass_kg": 1.0},
        ],
        outputs=[lot("urn:raretrace:lot:metal", "metal", 2.0, {"Nd": 0.6, "Pr": 0.2})],
    )
    return chain


def test_a_diamond_counts_each_path_once(db_url: str) -> None:
    registry = _diamond(db_url).registry
    result = up_json(registry, "urn:raretrace:lot:metal")
    shares = {s["lot"]: s["share"] for s in result["sources"]}
    assert shares == pytest.approx({"urn:raretrace:lot:ore-a": 0.75, "urn:raretrace:lot:ore-b": 0.25})
    source_a = result["sources"][0]
    assert source_a["lot"] == "urn:raretrace:lot:ore-a" and source_a["path_count"] == 2
    assert [p["lots"][1] for p in source_a["paths"]] == ["urn:raretrace:lot:ox-1", "urn:raretrace:lot:ox-2"]
    assert [p["share"] for p in source_a["paths"]] == pytest.approx([0.5, 0.25])
    assert result["path_count"] == 4 and not result["paths_truncated"]
    # the concentrate is reached twice but its inputs are fetched, listed and summarized once
    pairs = [(e["child"], e["parent"]) for e in result["edges"]]
    assert len(pairs) == len(set(pairs)) == 6
    assert sorted(result["lots"]) == sorted(
        f"urn:raretrace:lot:{n}" for n in ("metal", "ox-1", "ox-2", "conc", "ore-a", "ore-b")
    )
    down = down_json(registry, "urn:raretrace:lot:ore-a")
    assert down["reached"] == [f"urn:raretrace:lot:{n}" for n in ("conc", "metal", "ox-1", "ox-2")]
    assert down["end_items"] == ["urn:raretrace:lot:metal"]
    assert len(down["edges"]) == len({(e["child"], e["parent"]) for e in down["edges"]}) == 5


def test_cli_trace_lists_the_highest_share_paths_and_says_how_many_are_left_out(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from raretrace.cli.main import app

    db = tmp_path / "blend.db"
    _blend(f"sqlite:///{db}")

    runner = CliRunner()
    one = runner.invoke(app, ["--db", str(db), "trace", "urn:raretrace:lot:ox-1", "--up", "--max-paths", "1"])
    assert one.exit_code == 0, one.output
    assert "by 2 path(s); the 1 highest-share path(s) are shown (--max-paths to see more)" in one.output
    assert "75.00%: urn:raretrace:lot:ox-1" in one.output and "25.00%: urn" not in one.output
    both = runner.invoke(app, ["--db", str(db), "trace", "urn:raretrace:lot:ox-1", "--up"])
    assert "the 2 highest-share path(s) are shown:" in both.output and "25.00%: urn" in both.output
    as_json = json.loads(
        runner.invoke(
            app, ["--db", str(db), "trace", "urn:raretrace:lot:ox-1", "--up", "--max-paths", "0", "--json"]
        ).output
    )
    assert as_json["paths_listed"] == 0 and as_json["path_count"] == 2 and as_json["paths_truncated"]
    bad = runner.invoke(
        app, ["--db", str(db), "trace", "urn:raretrace:lot:ox-1", "--up", "--max-paths", "-1"]
    )
    assert bad.exit_code == 2
