"""Find lots: by id, facility, form, stage, element, producer country, a country at any stage of the
lot's history, a verdict, and a creation date range; with total counts and facet counts of the whole
result, sorted and paged, in the spirit of datasette's faceted browsing.

The database applies what its columns can (``store/search.py``); the rest is checked here exactly on
the rows it kept (an element present in the composition, a country in the origin vector's location
at some stage, a verdict under a regime). A search that would have to read more than ``MAX_SCAN`` rows,
or judge more than ``MAX_JUDGED`` lots for a verdict, is refused with advice to narrow it first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

import pycountry

from raretrace.errors import ValidationError
from raretrace.ledger.registry import Registry
from raretrace.model import Form, Stage
from raretrace.origin_text import decode_origin
from raretrace.provenance import with_marginals
from raretrace.rules.verdict import Outcome
from raretrace.store.search import ColumnFilters, count_lots, group_counts, lot_rows, page_rows
from raretrace.times import parse_date

MAX_SCAN = 200_000
MAX_JUDGED = 5_000
SORTS = ("id", "-id", "mass_kg", "-mass_kg", "created_time", "-created_time", "form", "producer")
FACETS = ("form", "stage", "producer_country", "producer")
FACET_SIZE = 30

Visible = Callable[[Sequence[str]], set[str]]
#: a facet's values with their counts, the largest first
Ranked = tuple["FacetCount", ...]


@dataclass(frozen=True)
class LotQuery:
    text: str | None = None  # a part of the lot id
    forms: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    facility: str | None = None  # produced or held by
    producer_countries: tuple[str, ...] = ()
    element: str | None = None
    country: str | None = None  # where some stage of the lot's history was done
    regime: str | None = None  # with outcome: lots with that verdict under that regime
    outcome: str | None = None
    created_from: date | None = None  # inclusive
    created_to: date | None = None  # inclusive
    sort: str = "id"
    limit: int | None = 50  # None: every match (downloads)
    offset: int = 0

    def __post_init__(self) -> None:
        _one_of("form", self.forms, [f.value for f in Form])
        _one_of("stage", self.stages, [s.value for s in Stage])
        for code in (*self.producer_countries, *([self.country] if self.country else [])):
            if pycountry.countries.get(alpha_2=code) is None:
                raise ValidationError(f"{code!r} is not an ISO 3166-1 alpha-2 country code", field="country")
        if (self.regime is None) != (self.outcome is None):
            raise ValidationError("give a regime and an outcome together, e.g. dfars=fail", field="verdict")
        if self.outcome is not None:
            _one_of("verdict", (self.outcome,), [o.value for o in Outcome])
        if self.sort not in SORTS:
            raise ValidationError(f"{self.sort!r} is not one of {', '.join(SORTS)}", field="sort")
        if self.created_from and self.created_to and self.created_from > self.created_to:
            raise ValidationError("the date range ends before it starts", field="created_to")
        if (self.limit is not None and self.limit < 0) or self.offset < 0:
            raise ValidationError("limit and offset are whole numbers", field="limit")

    def filters(self) -> SearchFilters:
        """The filters as given (for answers and links), empty ones as None (left out of the JSON)."""
        return SearchFilters(
            self.text or None,
            self.forms or None,
            self.stages or None,
            self.facility or None,
            self.producer_countries or None,
            self.element or None,
            self.country or None,
            f"{self.regime}={self.outcome}" if self.regime else None,
            self.created_from,
            self.created_to,
        )


#: a filter not given is left out of the JSON (``render.jsonable``)
_GIVEN = {"omit_if_none": True}


@dataclass(frozen=True)
class SearchFilters:
    """A search's filters as given, by the names of the API's parameters (the fields in the order of the
    JSON ``render.jsonable`` makes of it); None: not given, and left out."""

    q: str | None = field(default=None, metadata=_GIVEN)
    form: tuple[str, ...] | None = field(default=None, metadata=_GIVEN)
    stage: tuple[str, ...] | None = field(default=None, metadata=_GIVEN)
    facility: str | None = field(default=None, metadata=_GIVEN)
    producer_country: tuple[str, ...] | None = field(default=None, metadata=_GIVEN)
    element: str | None = field(default=None, metadata=_GIVEN)
    country: str | None = field(default=None, metadata=_GIVEN)
    verdict: str | None = field(default=None, metadata=_GIVEN)  # REGIME=OUTCOME
    created_from: date | None = field(default=None, metadata={"json": "from", **_GIVEN})
    created_to: date | None = field(default=None, metadata={"json": "to", **_GIVEN})


def _one_of(name: str, values: Iterable[str], known: Sequence[str]) -> None:
    for value in values:
        if value not in known:
            raise ValidationError(f"{value!r} is not one of {', '.join(known)}", field=name)


@dataclass(frozen=True)
class LotHit:
    id: str
    form: str
    mass_kg: float
    remaining_kg: float | None  # None: hidden from a caller who no longer holds the lot
    custodian: str
    producer: str
    producer_country: str | None
    stage: str
    created_time: str
    #: the lot's outcome under the regime searched by (absent from the JSON without one)
    verdict: str | None = field(default=None, metadata={"omit_if_none": True})


HIT_FIELDS = tuple(LotHit.__dataclass_fields__)


@dataclass(frozen=True)
class FacetCount:
    """One value of a facet and how many of the matching lots have it."""

    value: str
    count: int


@dataclass(frozen=True)
class SearchResult:
    """A page of the matching lots, how many match in all, and the facets of all of them.

    The fields are in the order of the JSON the interfaces make of it (``render.jsonable``): the query as
    given (``LotQuery.filters``, its sort and page), then the answer."""

    filters: SearchFilters
    sort: str
    total: int
    limit: int | None
    offset: int
    lots: tuple[LotHit, ...]
    facets: Mapping[str, tuple[FacetCount, ...]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, query: LotQuery, total: int, lots: tuple[LotHit, ...], facets: Mapping[str, Ranked]
    ) -> SearchResult:
        """The answer to ``query``: ``total`` matches, this page of ``lots``, the ``facets`` of all."""
        return cls(query.filters(), query.sort, total, query.limit, query.offset, lots, dict(facets))


def _element_present(row: Mapping[str, object], element: str) -> bool:
    return float(json.loads(str(row["composition"])).get(element, 0.0)) > 0


def _country_at_some_stage(row: Mapping[str, object], country: str) -> bool:
    origin = with_marginals(decode_origin(str(row["origin"])) if row["origin"] else {})
    return any(
        shares.get(country, 0.0) > 0
        for history in origin.values()
        for shares in history.get("location", {}).values()
    )


def _day_after(day: date) -> str:
    return (day + timedelta(days=1)).isoformat()


def _columns(query: LotQuery) -> ColumnFilters:
    """The filters the database applies (the element and country ones only coarsely)."""
    return ColumnFilters(
        id_contains=query.text,
        forms=query.forms,
        stages=query.stages,
        facility=query.facility,
        producer_countries=query.producer_countries,
        element=query.element,
        country=query.country,
        created_from=query.created_from.isoformat() if query.created_from else None,
        created_before=_day_after(query.created_to) if query.created_to else None,
    )


def _ranked(counts: Iterable[tuple[object, int]]) -> Ranked:
    """A facet as shown: the largest counts first, ties by value, the first ``FACET_SIZE``."""
    merged: Counter[str] = Counter()
    for value, count in counts:
        merged[str(value)] += count
    ranked = sorted(merged.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_SIZE]
    return tuple(FacetCount(value, count) for value, count in ranked)


def search_lots(registry: Registry, query: LotQuery, *, visible: Visible | None = None) -> SearchResult:
    """The lots matching ``query`` that the caller may see (``visible``: which of these ids; None: all).

    When the database's filters are the whole answer (no element, country or verdict test, a caller who
    sees every lot) the count, the facets (GROUP BY) and the page are read in the database, whatever the
    number of matches; otherwise the rows kept are checked exactly here (``search_checked``)."""
    if query.element is None and query.country is None and query.regime is None and visible is None:
        return search_in_database(registry, query)
    return search_checked(registry, query, visible=visible)


def search_in_database(registry: Registry, query: LotQuery) -> SearchResult:
    """A search the database answers whole: the lots counted by facet values in one GROUP BY (the
    total and each facet are sums of those counts) and one page; never a row a match."""
    columns = _columns(query)
    with registry.engine.connect() as conn:
        groups = group_counts(conn, columns)
        rows = page_rows(conn, columns, query.sort, query.limit, query.offset)
    total = sum(g.count for g in groups)
    facets = {name: _ranked((getattr(g, name), g.count) for g in groups) for name in FACETS}
    hits = tuple(LotHit(**{k: r[k] for k in HIT_FIELDS if k != "verdict"}) for r in rows)
    return SearchResult.of(query, total, hits, facets)


def search_checked(registry: Registry, query: LotQuery, *, visible: Visible | None = None) -> SearchResult:
    """A search checked here, lot by lot, on the rows the database's coarse filters keep (at most
    ``MAX_SCAN``): the element, country, visibility and verdict tests, then facets and the page."""
    columns = _columns(query)
    with registry.engine.connect() as conn:
        scanned = count_lots(conn, columns)
        if scanned > MAX_SCAN:
            raise ValidationError(
                f"{scanned:,} lots match before the exact checks, more than {MAX_SCAN:,} searched at once: "
                "narrow by form, stage, facility, producer country or dates first",
                field="query",
            )
        rows = lot_rows(conn, columns, with_origin=query.country is not None)
    if query.element:
        rows = [r for r in rows if _element_present(r, query.element)]
    if query.country:
        rows = [r for r in rows if _country_at_some_stage(r, query.country)]
    if visible is not None:
        seen = visible([r["id"] for r in rows])
        rows = [r for r in rows if r["id"] in seen]
    verdicts: dict[str, str] = {}
    if query.regime is not None:
        verdicts = _verdicts(registry, [r["id"] for r in rows], query.regime)
        rows = [r for r in rows if verdicts.get(r["id"]) == query.outcome]
    hits = [
        LotHit(**{k: r[k] for k in HIT_FIELDS if k != "verdict"}, verdict=verdicts.get(r["id"])) for r in rows
    ]
    facets = {name: _ranked(Counter(str(getattr(h, name)) for h in hits).items()) for name in FACETS}
    key, reverse = query.sort.removeprefix("-"), query.sort.startswith("-")
    hits.sort(key=lambda h: (getattr(h, key), h.id), reverse=reverse)
    end = None if query.limit is None else query.offset + query.limit
    return SearchResult.of(query, len(hits), tuple(hits[query.offset : end]), facets)


def _verdicts(registry: Registry, lot_ids: list[str], regime: str) -> dict[str, str]:
    from raretrace.ledger.compliance import check_lots

    if len(lot_ids) > MAX_JUDGED:
        raise ValidationError(
            f"{len(lot_ids):,} lots to judge for a verdict, more than {MAX_JUDGED:,} at once: narrow the "
            "search by form, facility, country or dates first",
            field="verdict",
        )
    if not lot_ids:
        return {}
    judged = check_lots(registry, lot_ids, regimes=[regime])
    return {v.subject[0]: v.outcome.value for v in judged if len(v.subject) == 1}


def parse_verdict(text: str | None) -> tuple[str | None, str | None]:
    """``REGIME=OUTCOME`` (e.g. ``us-dfars-252.225-7052=fail``) as (regime, outcome); None: (None, None)."""
    if text is None:
        return None, None
    regime, sep, outcome = text.partition("=")
    if not sep or not regime or not outcome:
        raise ValidationError(
            f"{text!r} is not REGIME=OUTCOME, e.g. us-dfars-252.225-7052=fail", field="verdict"
        )
    return regime.strip(), outcome.strip()


def parse_day(value: str | None, field: str) -> date | None:
    """A date filter as typed (YYYY-MM-DD); empty: none."""
    if not value:
        return None
    return parse_date(value, field)
