"""Lineage queries: up a lot's history to the mines and deposits, and down to everything it reached.

The graph is the ``lot_inputs`` table: one edge per (output lot, input lot) of a process, assemble or
recycle event, weighted by the input mass allotted to that output. Walking is breadth-first with one
query per generation (the generation's lots as one parameter, ``store/lineage.py``), so a trace costs
a query per generation, not one per lot, and each lot's edges are fetched once however many paths
lead to it; the lots' summaries come in one more query at the end.

Shares up: an edge's share is its mass over all input mass of the child; a path's share is the
product of its edges' shares, and a source's share the sum over its paths. Shares are of the traced
input mass (additions such as iron have no lot and no share); per-element origin is the job of the
origin vectors. A dense history (fan-in 3-5 at each of 8 stages) has hundreds of thousands of paths,
so nothing here enumerates them: source shares and path counts are sums over the DAG in topological
order (each edge used once), and only the ``max_paths`` highest-share paths are listed, found
best-first with the share of each partial path's best completion known exactly.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from operator import itemgetter
from typing import TypeVar

import orjson
from sqlalchemy import Connection

from raretrace.errors import NotFoundError, ValidationError
from raretrace.ledger.registry import Registry
from raretrace.ledger.trace_answers import DownTrace, LotSummary, Path, TraceEdge, TraceSource, UpTrace
from raretrace.origin_text import decode_origin
from raretrace.provenance import untraced_share
from raretrace.store.lineage import Edge
from raretrace.store.protocol import LineageReads
from raretrace.store.reading import snapshot

MAX_DEPTH = 64  # a real chain is ~8 deep; this only guards against a corrupted graph
DEFAULT_MAX_PATHS = 100
SHARE_BASIS = "share: of the gross traced input mass; element_shares: of each rare-earth element"

_PARENT = itemgetter(1)
_MASS = itemgetter(2)
_FIRST = itemgetter(0)
_SHARE = itemgetter(1)  # of a (lot, share) pair
C = TypeVar("C")  # the connection type of the store the lineage is read from


@dataclass(frozen=True)
class Ancestry:
    """What the DAG above a lot gives without enumerating its paths."""

    shares: dict[str, float]  # source lot (one with no inputs) -> its share of the root
    order: list[str]  # every lot above the root (root first), each after every lot made from it
    path_counts: dict[str, int]  # source lot -> how many paths lead to it from the root
    best: dict[str, float]  # lot -> share of its best single path to any source (1 for a source)


# --- pure graph work (no I/O) ------------------------------------------------------------------------


def inputs_by_child(edges: Iterable[Edge]) -> dict[str, list[Edge]]:
    """child -> its edges, in a fixed order (parent, mass, event), so results do not depend on the DB.

    Sorting the plain tuples orders them by (child, parent, mass, event); the rows of one IN query
    come in that order from the covering index already, so the sort mostly merges sorted runs."""
    ordered = sorted(edges)
    return {child: list(group) for child, group in itertools.groupby(ordered, key=_FIRST)}


def ancestry(root: str, parents: Mapping[str, Sequence[Edge]]) -> Ancestry:
    """Source shares and path counts by dynamic programming over the DAG above ``root``.

    ``parents`` holds exactly the edges above ``root`` (what walking up from it finds). Kahn's
    algorithm on them gives an order in which a lot comes after every lot made from it (BFS levels do
    not: a recycled feed reaches an ore by paths of different lengths), so a lot's share is complete
    before it is passed on: share(parent) += share(child) x mass(edge) / mass(all edges of child).
    """
    # lot -> edges from lots made from it not yet processed (counted in C: this runs per trace)
    pending = Counter(map(_PARENT, itertools.chain.from_iterable(parents.values())))
    if root in pending:
        raise ValidationError(f"the lineage of {root} has a cycle through the lot itself", field="lot")
    share = {root: 1.0}
    count = {root: 1}
    totals: dict[str, float] = {}  # lot -> mass of all its inputs
    ready = deque([root])
    share_get, count_get = share.get, count.get
    seen: list[str] = []  # in the order the lots became ready
    while ready:
        node = ready.popleft()
        seen.append(node)
        incoming = parents.get(node)
        if not incoming:
            continue
        total = totals[node] = sum(map(_MASS, incoming))
        if total <= 0:
            raise ValidationError(f"the inputs of lot {node} have no mass", field="lot")
        weight = share[node] / total
        paths = count[node]
        for _, parent, mass, _ in incoming:
            share[parent] = share_get(parent, 0.0) + weight * mass
            count[parent] = count_get(parent, 0) + paths
            left = pending[parent] - 1
            pending[parent] = left
            if not left:
                ready.append(parent)
    if len(seen) != len(pending) + 1:  # some lots never became ready: they are on a cycle
        raise ValidationError(f"the lineage of {root} has a cycle", field="lot")
    best: dict[str, float] = {}
    sources: list[str] = []
    for node in reversed(seen):  # every lot after the lots it was made from
        incoming = parents.get(node)
        if not incoming:
            best[node] = 1.0
            sources.append(node)
            continue
        top = 0.0
        for _, parent, mass, _ in incoming:
            top = max(top, mass * best[parent])
        best[node] = top / totals[node]
    return Ancestry(
        shares={s: share[s] for s in sources},
        order=seen,
        path_counts={s: count[s] for s in sources},
        best=best,
    )


# a partial path as a linked list from its tip back to the root: (previous, lot, mass of the edge)
_Link = tuple["_Link | None", str, float]
# a lot's inputs ranked by the share of the best path through each: (that share, edge share, edge)
_Ranked = list[tuple[float, float, Edge]]


def best_paths(
    root: str, parents: Mapping[str, Sequence[Edge]], best: Mapping[str, float], limit: int
) -> list[Path]:
    """The ``limit`` highest-share paths from ``root`` to its sources, highest first.

    Best-first over candidate edges: a heap entry is "extend this partial path by the i-th best
    input of its tip", keyed on the exact share of the best complete path that makes (share so far x
    edge share x ``best`` of the input). Taking an entry pushes at most two: the same partial path
    with its next-best input, and the extended path with the best input of the new tip. Keys never
    rise, so paths come out in falling share, each once, after about ``limit`` x depth steps however
    many paths the graph has. Ties go to the longer partial path, so a path is finished first.
    """
    out: list[Path] = []
    if limit <= 0:
        return out
    root_link: _Link = (None, root, 0.0)
    if not parents.get(root):
        return [Path((root,), (), 1.0)]
    ranked: dict[str, _Ranked] = {}

    def ranking(node: str) -> _Ranked:
        found = ranked.get(node)
        if found is None:
            incoming = parents[node]
            scale = 1.0 / sum(map(_MASS, incoming))
            found = [(m * scale * best[p], m * scale, e) for e in incoming for _, p, m, _ in (e,)]
            found.sort(key=_FIRST, reverse=True)
            ranked[node] = found
        return found

    tie = itertools.count()
    # (-key, -depth, tie, share of the partial path, its tip, which input of the tip to add)
    heap: list[tuple[float, int, int, float, _Link, int]] = [
        (-ranking(root)[0][0], 0, next(tie), 1.0, root_link, 0)
    ]
    push, pop = heapq.heappush, heapq.heappop
    while heap and len(out) < limit:
        _, depth, _, share, link, i = pop(heap)
        options = ranked[link[1]]
        if i + 1 < len(options):
            push(heap, (-share * options[i + 1][0], depth, next(tie), share, link, i + 1))
        _, edge_share, edge = options[i]
        step = share * edge_share
        parent = edge[1]
        extended: _Link = (link, parent, edge[2])
        if not parents.get(parent):
            out.append(_unlink(extended, step))
        else:
            push(heap, (-step * ranking(parent)[0][0], depth - 1, next(tie), step, extended, 0))
    return out


def _unlink(link: _Link, share: float) -> Path:
    lots: list[str] = []
    masses: list[float] = []
    current: _Link | None = link
    while current is not None:
        previous, lot, mass = current
        lots.append(lot)
        if previous is not None:
            masses.append(mass)
        current = previous
    lots.reverse()
    masses.reverse()
    return Path(tuple(lots), tuple(masses), share)


# --- queries (through ``store.protocol.LineageReads``: the SQL store or ``MemoryStore``) -------------


def _summaries(reads: LineageReads[C], conn: C, lot_ids: Sequence[str]) -> dict[str, LotSummary]:
    """What a trace shows of each lot, by lot id (lots that do not exist are left out). The row's
    columns after the id are ``LotSummary``'s keys in order (``store.lineage.SUMMARY_KEYS``); one dict
    display per lot (``trace_answers``' docstring)."""
    return {
        i: {"form": f, "mass_kg": m, "producer": p, "stage": s, "deposit": d, "custodian": c}
        for i, f, m, p, s, d, c in reads.summaries(conn, lot_ids)
    }


def walk_edges(reads: LineageReads[C], conn: C, start: str, *, up: bool) -> tuple[list[Edge], set[str]]:
    """All edges reachable from ``start`` (towards inputs if ``up``, else towards outputs) and every
    lot reached, ``start`` included; the lot itself is not looked up.

    The store gives the whole walk at once (``edges_reachable``: on PostgreSQL one statement, where one
    a generation cost a round trip each); the edges are then listed generation by
    generation, each lot's edges once and by the lot at their other end, so the answer's order does
    not depend on the store's (it is the order SQLite's table gave when each generation was a query)."""
    near, far = (_FIRST, _PARENT) if up else (_PARENT, _FIRST)
    by_near: dict[str, list[Edge]] = {}
    for edge in sorted(reads.edges_reachable(conn, start, up=up), key=far):
        by_near.setdefault(near(edge), []).append(edge)
    edges: list[Edge] = []
    seen = {start}
    frontier = [start]
    for _ in range(MAX_DEPTH):
        if not frontier:
            return edges, seen
        rows = [edge for lot in frontier for edge in by_near.get(lot, ())]
        edges.extend(rows)
        frontier = sorted(set(map(far, rows)) - seen)
        seen.update(frontier)
    raise ValidationError(f"lineage of {start} is deeper than {MAX_DEPTH} generations", field="lot")


def _with_root(reads: LineageReads[C], conn: C, root: str, shown: set[str]) -> dict[str, LotSummary]:
    """The summaries of ``shown`` and of ``root``, ``root`` first; a ``NotFoundError`` if ``root`` does
    not exist. One query for all: a lot that does not exist has no edges either, so walking it first
    costs one empty query, and an existing lot is not looked up twice."""
    lots = _summaries(reads, conn, sorted(shown | {root}))
    summary = lots.pop(root, None)
    if summary is None:
        raise NotFoundError(f"lot {root} does not exist", field="lot")
    return {root: summary, **lots}


@contextmanager
def _snapshot(registry: Registry, given: Connection | None = None) -> Iterator[Connection]:
    """A connection in one read transaction: every statement of a trace sees the same state of the
    registry, and SQLite takes its read lock once, not once per statement (the statements run on the
    DB-API cursor, which SQLAlchemy's automatic begin does not see).

    A ``given`` connection (a server's, already in the transaction its caller wants the trace to
    share) is used as it is: the caller owns its transaction, and no pool checkout is paid."""
    if given is not None:
        yield given
        return
    with registry.engine.connect() as conn, snapshot(conn):
        yield conn


def _trace_edges(edges: Iterable[Edge]) -> tuple[TraceEdge, ...]:
    """One dict display per edge: no call per edge (``trace_answers``' docstring)."""
    typed: list[TraceEdge] = [
        {"child": c, "parent": p, "mass_kg": m, "event_index": s} for c, p, m, s in edges
    ]
    return tuple(typed)


def element_shares(
    root: str,
    parents: Mapping[str, Sequence[Edge]],
    order: Sequence[str],
    lots: Mapping[str, tuple[Mapping[str, float], Mapping[str, float]]],
) -> dict[str, tuple[dict[str, float], float]]:
    """Per rare-earth element of ``root``: each source's share of that element, and the untraced share.

    Gross input mass says how much of a lot came from each input; an element's share follows the
    element's own mass instead (a 30/70 blend by mass can be 52/48 by Nd and 63/37 by Dy). At each lot
    its traced inputs weigh by ``edge mass x the input's fraction of the element`` (the pooling the
    origin vectors use), and untraced feed added at that lot — known exactly from the stored origin
    vectors: ``u(lot) = a + (1 - a) x mean u(inputs)`` — takes its part before the rest passes up.
    ``lots``: lot -> (composition, untraced share by element).
    """
    empty: tuple[Mapping[str, float], Mapping[str, float]] = ({}, {})
    composition, untraced_root = lots.get(root, empty)
    out: dict[str, tuple[dict[str, float], float]] = {}
    for element in sorted(e for e in untraced_root if composition.get(e, 0.0) > 0):
        share = {root: 1.0}
        sources: dict[str, float] = {}
        for node in order:
            mine = share.get(node, 0.0)
            if mine <= 0:
                continue
            incoming = parents.get(node)
            if not incoming:
                if node != root:
                    sources[node] = sources.get(node, 0.0) + mine
                continue
            weights = []
            total = mean = 0.0
            for _, parent, mass, _ in incoming:
                found = lots.get(parent, empty)
                weight = mass * found[0].get(element, 0.0)
                if weight > 0:
                    weights.append((parent, weight))
                    total += weight
                    mean += weight * found[1].get(element, 0.0)
            if total <= 0:
                continue
            mean /= total
            added = 0.0 if mean >= 1 else (lots.get(node, empty)[1].get(element, 0.0) - mean) / (1 - mean)
            passed = mine * (1 - min(1.0, max(0.0, added))) / total
            for parent, weight in weights:
                share[parent] = share.get(parent, 0.0) + passed * weight
        out[element] = (sources, untraced_root[element])
    return out


_Histories = dict[str, tuple[dict[str, float], dict[str, float]]]


def _element_histories(reads: LineageReads[C], conn: C, lot_ids: Sequence[str]) -> _Histories:
    """Each lot's composition and, per element, the share of untraced history (origin vectors)."""
    out: _Histories = {}
    for lot_id, composition, origin in reads.origins(conn, lot_ids):
        vector = decode_origin(origin) if origin else {}
        out[lot_id] = (orjson.loads(composition), {e: untraced_share(o) for e, o in vector.items()})
    return out


def trace_up_on(
    reads: LineageReads[C],
    conn: C,
    lot_id: str,
    *,
    max_paths: int = DEFAULT_MAX_PATHS,
    graph: bool = True,
    by_element: bool = False,
) -> UpTrace:
    """Every lot upstream of ``lot_id``, the edges, and each source lot (a mine's output) with its share.

    ``by_element``: also each source's share of every rare-earth element of the lot
    (``element_shares``) and the untraced share of each (``untraced_by_element``); it reads every
    upstream lot's origin vector, so it is asked for, not paid on every trace.

    Each source has ``path_count``, how many paths reach it, and ``paths``: those of its paths that
    are among the ``max_paths`` highest-share paths overall, highest first. At the top,
    ``path_count`` is the number of paths in all, ``paths_listed`` how many are listed and
    ``paths_truncated`` whether that is fewer. Shares are exact whatever ``max_paths`` is.

    With ``graph`` (the default) the result holds the whole upstream graph: ``lots`` summarizes every
    lot above ``lot_id`` and ``edges`` lists every edge, for drawing it. Without, ``lots`` covers only
    the lot and its sources (each source carries its summary too), and ``edges`` is None:
    what ``trace --up`` prints — shares, the sources' form, producer and deposit, and the listed paths as
    lot ids with masses — at a fraction of the cost for a lot with a long history (summarizing the
    lots on the listed paths as well cost a third more time at the 99th percentile, measured at 1M lots).

    Every read goes through ``reads`` on ``conn``, in the caller's transaction: the registry's SQL
    store (``trace_up``) or a ``store.memory.MemoryStore`` (tests of the trace without a database).
    """
    if max_paths < 0:
        raise ValidationError("must be 0 or more", field="max_paths")
    edges, seen = walk_edges(reads, conn, lot_id, up=True)
    parents = inputs_by_child(edges)
    found = ancestry(lot_id, parents)
    listed = best_paths(lot_id, parents, found.best, max_paths)
    shown = seen if graph else set(found.shares)
    lots = _with_root(reads, conn, lot_id, shown)
    histories = _element_histories(reads, conn, sorted(seen)) if by_element else None
    per_element = element_shares(lot_id, parents, found.order, histories) if histories is not None else None
    by_source: dict[str, list[Path]] = {}
    for path in listed:
        by_source.setdefault(path.lots[-1], []).append(path)
    counts = found.path_counts
    total_paths = sum(counts.values())
    # highest share first, ties by lot id: two sorts in C (a sort with reverse=True is still stable)
    ranked = sorted(found.shares.items())
    ranked.sort(key=_SHARE, reverse=True)
    sources = tuple(
        TraceSource(
            s,
            lots[s],
            share,
            counts[s],
            tuple(by_source.get(s, ())),
            None
            if per_element is None
            else {e: shares.get(s, 0.0) for e, (shares, _) in per_element.items()},
        )
        for s, share in ranked
    )
    return UpTrace(
        lot=lot_id,
        lots=lots,
        sources=sources,
        path_count=total_paths,
        paths_listed=len(listed),
        paths_truncated=len(listed) < total_paths,
        max_paths=max_paths,
        share_basis=None if per_element is None else SHARE_BASIS,
        untraced_by_element=None if per_element is None else {e: u for e, (_, u) in per_element.items()},
        edges=_trace_edges(edges) if graph else None,
    )


def trace_up(
    registry: Registry,
    lot_id: str,
    *,
    max_paths: int = DEFAULT_MAX_PATHS,
    graph: bool = True,
    conn: Connection | None = None,
    by_element: bool = False,
) -> UpTrace:
    """``trace_up_on`` the registry's store, in one read snapshot (``conn``: read on this connection,
    in the caller's transaction; see ``_snapshot``)."""
    with _snapshot(registry, conn) as db:
        return trace_up_on(
            registry.store, db, lot_id, max_paths=max_paths, graph=graph, by_element=by_element
        )


def trace_down(registry: Registry, lot_id: str, *, conn: Connection | None = None) -> DownTrace:
    """``trace_down_on`` the registry's store, in one read snapshot (``conn`` as for ``trace_up``)."""
    with _snapshot(registry, conn) as db:
        return trace_down_on(registry.store, db, lot_id)


def trace_down_on(reads: LineageReads[C], conn: C, lot_id: str) -> DownTrace:
    """Every lot made from ``lot_id`` (a recall list), and the end items: lots nothing was made from.
    Read through ``reads`` on ``conn``, as ``trace_up_on``."""
    edges, seen = walk_edges(reads, conn, lot_id, up=False)
    lots = _with_root(reads, conn, lot_id, seen)
    reached = sorted({e[0] for e in edges})
    made_from = {e[1] for e in edges}
    return DownTrace(
        lot=lot_id,
        lots=lots,
        reached=tuple(reached),
        end_items=tuple(lot for lot in reached if lot not in made_from),
        edges=_trace_edges(edges),
    )
