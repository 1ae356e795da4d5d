"""A realistic demo world: the rare-earth industry's real structure, recorded into a registry.

``build_world(registry, seed=0, scale=1.0)`` records named deposits and plants with their published
capacities and countries, flows in proportion to the published stage shares (China about 70% of mining,
90% of separation, 93% of magnets), thousands of lots from mines to magnets, EV motors and defense
platforms, and four cases a user must be able to catch. ``findings(registry, summary)`` runs the real
checks and says what they show. Data: ``raretrace/data/demoworld/*.json``; see docs/demo-world.md.
"""

from raretrace.demoworld.builder import Progress, build_world
from raretrace.demoworld.data import DemoData, load_demo_data
from raretrace.demoworld.findings import CaseFinding, ShareCheck, WorldFindings, findings
from raretrace.demoworld.summary import WorldSummary

__all__ = [
    "CaseFinding",
    "DemoData",
    "Progress",
    "ShareCheck",
    "WorldFindings",
    "WorldSummary",
    "build_world",
    "findings",
    "load_demo_data",
]
