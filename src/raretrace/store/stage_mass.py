"""Recorded lot masses by the stage that made them and the producer's country: what the recorded stage
shares are computed from."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select

from raretrace.store import schema as t


@dataclass(frozen=True)
class StageMass:
    stage: str
    country: str
    mass_kg: float
    composition: dict[str, float]


def stage_masses(conn: Connection, stages: Iterable[str]) -> Iterator[StageMass]:
    query = (
        select(t.lots.c.stage, t.lots.c.mass_kg, t.lots.c.composition, t.facilities.c.country)
        .join(t.facilities, t.facilities.c.id == t.lots.c.producer)
        .where(t.lots.c.stage.in_(sorted(stages)))
    )
    for row in conn.execute(query):
        yield StageMass(row.stage, row.country, row.mass_kg, json.loads(row.composition))
