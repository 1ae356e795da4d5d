"""The SQL of lot search (``ledger/search.py``): the filters a database can apply on its own
columns, and nothing else. Substring and key tests on JSON text are coarse pre-filters; the service
checks every row it keeps exactly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, func, or_, select

from raretrace.store import schema as t

#: what a search row carries (the origin vector only when a country filter needs it)
COLUMNS = ("id", "form", "mass_kg", "remaining_kg", "custodian", "producer", "stage", "created_time")


@dataclass(frozen=True)
class ColumnFilters:
    id_contains: str | None = None
    forms: Sequence[str] = ()
    stages: Sequence[str] = ()
    facility: str | None = None  # producer or custodian
    producer_countries: Sequence[str] = ()
    element: str | None = None  # a key of the composition JSON (checked exactly by the service)
    country: str | None = None  # a place in the stored origin text (checked exactly by the service)
    created_from: str | None = None  # RFC 3339 prefixes compare as text
    created_before: str | None = None


def _where(query: Select[Any], f: ColumnFilters) -> Select[Any]:
    lots = t.lots.c
    if f.id_contains:
        query = query.where(lots.id.contains(f.id_contains, autoescape=True))
    if f.forms:
        query = query.where(lots.form.in_(list(f.forms)))
    if f.stages:
        query = query.where(lots.stage.in_(list(f.stages)))
    if f.facility:
        query = query.where(or_(lots.producer == f.facility, lots.custodian == f.facility))
    if f.producer_countries:  # a semi-join: the lots are read without a lookup of their producer each
        producers = select(t.facilities.c.id).where(t.facilities.c.country.in_(list(f.producer_countries)))
        query = query.where(lots.producer.in_(producers))
    if f.element:
        query = query.where(lots.composition.contains(f'"{f.element}"', autoescape=True))
    if f.country:  # a place in a path key (``se=CN``, both stored forms) or a marginals key (``"CN"``, JSON)
        query = query.where(
            or_(
                lots.origin.contains(f"={f.country}", autoescape=True),
                lots.origin.contains(f'"{f.country}"', autoescape=True),
            )
        )
    if f.created_from:
        query = query.where(lots.created_time >= f.created_from)
    if f.created_before:
        query = query.where(lots.created_time < f.created_before)
    return query


def _joined(query: Select[Any]) -> Select[Any]:
    return query.select_from(t.lots.outerjoin(t.facilities, t.facilities.c.id == t.lots.c.producer))


def count_lots(conn: Connection, filters: ColumnFilters) -> int:
    return int(conn.execute(_where(_joined(select(func.count())), filters)).scalar_one())


def lot_rows(conn: Connection, filters: ColumnFilters, *, with_origin: bool) -> list[dict[str, Any]]:
    """Every lot passing ``filters``, by id, with its producer's country (and origin JSON if asked)."""
    lots = t.lots.c
    columns = [lots[c] for c in COLUMNS] + [t.facilities.c.country.label("producer_country")]
    columns += [lots.composition]
    if with_origin:
        columns.append(lots.origin)
    query = _where(_joined(select(*columns)), filters).order_by(lots.id)
    return [dict(row._mapping) for row in conn.execute(query)]


@dataclass(frozen=True)
class Group:
    """How many matching lots one producer made in one form at one stage."""

    producer: str
    form: str
    stage: str
    producer_country: str | None
    count: int


def group_counts(conn: Connection, filters: ColumnFilters) -> list[Group]:
    """The lots passing ``filters`` counted by producer, form and stage together: one GROUP BY over
    the lots alone, read in the order of ``ix_lots_facets`` (no sort), each producer's country joined
    to the groups afterwards. Every facet and the total are sums over these groups, so the lots are
    read once, and there are at most as many groups as producers times the forms and stages each makes."""
    lots = t.lots.c
    grouped = (
        _where(select(lots.producer, lots.form, lots.stage, func.count().label("n")), filters)
        .group_by(lots.producer, lots.form, lots.stage)  # the order of ix_lots_facets: no sort
        .subquery()
    )
    query = select(grouped, t.facilities.c.country.label("producer_country")).select_from(
        grouped.outerjoin(t.facilities, t.facilities.c.id == grouped.c.producer)
    )
    return [Group(r.producer, r.form, r.stage, r.producer_country, int(r.n)) for r in conn.execute(query)]


def page_rows(
    conn: Connection, filters: ColumnFilters, sort: str, limit: int | None, offset: int
) -> list[dict[str, Any]]:
    """One page of the lots passing ``filters``, sorted in the database by ``sort`` (a column name,
    ``-`` for descending) and then by id in the same direction."""
    lots = t.lots.c
    key, descending = sort.removeprefix("-"), sort.startswith("-")
    order = [lots[key], lots.id] if key != "id" else [lots.id]
    columns = [lots[c] for c in COLUMNS] + [t.facilities.c.country.label("producer_country")]
    query = _where(_joined(select(*columns)), filters)
    query = query.order_by(*(c.desc() if descending else c.asc() for c in order)).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]
