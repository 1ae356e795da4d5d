"""Each producer country's share of a stage, from the lots recorded: what the registry itself shows
about concentration (the dashboard), beside the published shares the world data holds."""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from raretrace.elements import REE_SYMBOLS
from raretrace.ledger.registry import Registry
from raretrace.store.stage_mass import stage_masses

#: Stages whose share by country is measured, and by what: rare-earth element mass of the lots made at
#: that stage (mining, separation), magnet mass (magnets).
SHARE_STAGES: Final = {"mining": "ree", "separation": "ree", "magnet": "mass"}


def stage_shares(registry: Registry) -> dict[str, dict[str, float]]:
    """For each stage of ``SHARE_STAGES``, each producer country's share, largest first."""
    totals: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    with registry.engine.connect() as conn:
        for row in stage_masses(conn, SHARE_STAGES):
            if SHARE_STAGES[row.stage] == "mass":
                weight = row.mass_kg
            else:
                weight = row.mass_kg * sum(f for e, f in row.composition.items() if e in REE_SYMBOLS)
            totals[row.stage][row.country] += weight
    return {
        stage: {c: kg / sum(by.values()) for c, kg in sorted(by.items(), key=lambda kv: -kv[1])}
        for stage, by in totals.items()
    }
