"""What a lineage trace answers (``ledger.lineage``): typed, so a caller reads fields the type checker knows.

The interfaces make JSON of them with ``render.jsonable`` (the API's ``/lots/{id}/trace``, ``trace --json``,
the traces export); the field order here is the order of the JSON members, and ``server.schemas.Trace``
describes the same answer for the OpenAPI document. A source is written as one flat object: its lot's
summary members in place (``inline``), then its share and paths.

A trace holds a ``LotSummary`` per lot and a ``TraceEdge`` per edge: thousands. Both are ``TypedDict``s
with read-only items: typed for the type checker, plain dicts at run time, built by dict displays in
``ledger.lineage`` and written by orjson as they are (``render.jsonable.json_ready``). An instance of a
class costs its ``__init__`` (about 5.9 k instructions an edge against 2.0 k for the dict display,
callgrind on 2,000 edges), which kept the secretariat's trace 12-16% above the dict version's cost
(#18, docs/architecture.md "Typed answers and their cost"). ``ReadOnly`` makes assigning an item a
type error; nothing stops it at run time, as for any dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from typing_extensions import ReadOnly, TypedDict

#: members absent from the JSON while None (``render.jsonable``)
OPTIONAL = {"omit_if_none": True}


class LotSummary(TypedDict):
    """What a trace shows of a lot: the columns ``store.lineage.summaries`` reads, in their order (a dict
    with these keys in this order; see the module's docstring)."""

    form: ReadOnly[str]
    mass_kg: ReadOnly[float]
    producer: ReadOnly[str]
    stage: ReadOnly[str]
    deposit: ReadOnly[str | None]
    custodian: ReadOnly[str]


class TraceEdge(TypedDict):
    """``mass_kg`` of ``parent`` went into ``child`` at the event at log index ``event_index``: a dict
    with these keys in this order (the order of the JSON members; see the module's docstring)."""

    child: ReadOnly[str]
    parent: ReadOnly[str]
    mass_kg: ReadOnly[float]
    event_index: ReadOnly[int]


@dataclass(frozen=True, slots=True)
class Path:
    """One path from the traced lot up to a source: its lots (traced lot first), edge masses, share."""

    lots: tuple[str, ...]
    input_kg: tuple[float, ...]
    share: float


@dataclass(frozen=True, slots=True)
class TraceSource:
    """A source lot (one made from no lot: a mine's output) of the traced lot, with its share of it.

    ``paths``: those of its ``path_count`` paths that are among the trace's highest-share ones.
    ``element_shares``: its share of each rare-earth element of the traced lot, when asked for."""

    lot: str
    summary: LotSummary = field(metadata={"inline": True})
    share: float
    path_count: int
    paths: tuple[Path, ...]
    element_shares: Mapping[str, float] | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True, kw_only=True, slots=True)
class UpTrace:
    """Every lot upstream of ``lot`` and each source with its share (``ledger.lineage.trace_up``).

    ``lots`` summarizes the traced lot first; with the graph, every lot above it and ``edges`` every
    edge, otherwise only its sources and no edges. ``share_basis`` and ``untraced_by_element`` come with
    the shares per element."""

    lot: str
    direction: Literal["up"] = "up"
    lots: Mapping[str, LotSummary]
    sources: tuple[TraceSource, ...]
    path_count: int
    paths_listed: int
    paths_truncated: bool
    max_paths: int
    share_basis: str | None = field(default=None, metadata=OPTIONAL)
    untraced_by_element: Mapping[str, float] | None = field(default=None, metadata=OPTIONAL)
    edges: tuple[TraceEdge, ...] | None = field(default=None, metadata=OPTIONAL)


@dataclass(frozen=True, kw_only=True, slots=True)
class DownTrace:
    """Every lot made from ``lot`` (a recall list) and the end items: lots nothing was made from
    (``ledger.lineage.trace_down``). ``lots`` summarizes the traced lot first, then every lot reached."""

    lot: str
    direction: Literal["down"] = "down"
    lots: Mapping[str, LotSummary]
    reached: tuple[str, ...]
    end_items: tuple[str, ...]
    edges: tuple[TraceEdge, ...]


Trace = UpTrace | DownTrace
