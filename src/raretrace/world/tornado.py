"""Which replaceable input moves the forecast most? A tornado over the production assumptions.

For one forecast line (commodity x demand segment) the metric is the share of Monte Carlo paths covered
by a month (default: the end of 2030). Each assumption is set to its low and its high end while every
other input stays central: the offtake share to the receiving country of every producer whose offtake
row is uncertain (an assumption, or derived from published figures with bounds), the utilisation a
project runs at once ramped, and the ramp length (12 months, the brownfield lead time, against the
calibrated greenfield ramp for every project). The same seed is used for every run, so a bar is the
assumption's effect, not sampling noise.
"""

from __future__ import annotations

from dataclasses import dataclass

from raretrace.world.data import WorldData
from raretrace.world.forecast import simulate
from raretrace.world.independence import Plan, p_covered_by
from raretrace.world.production import ProductionData, Settings, calibrated_ramp

#: The brownfield ramp of docs/reference/world.md (Lynas HREE circuit, Solvay: 1-2.5 years), low end.
FAST_RAMP_MONTHS = 12.0


@dataclass(frozen=True)
class Bar:
    input: str
    low_label: str
    high_label: str
    metric_low: float
    metric_high: float


@dataclass(frozen=True)
class Tornado:
    commodity: str
    segment: str
    by_month: str
    central: float
    bars: tuple[Bar, ...]  # widest first


def tornado(
    plan: Plan,
    data: WorldData,
    production: ProductionData,
    commodity: str,
    segment: str,
    *,
    by_month: str = "2030-12",
    paths: int = 2_000,
    seed: int = 0,
) -> Tornado:
    """The share of paths covered by ``by_month`` at each assumption's low and high end."""
    line = next(c for c in plan.commodities if c.commodity == commodity)
    target = next(t for t in plan.targets if t.segment == segment)

    def metric(settings: Settings) -> float:
        model = plan.model(data, line, target, production, settings)
        return p_covered_by(simulate(model, paths=paths, seed=seed), by_month)

    central = metric(Settings())
    bars = []
    for p in production.producers:
        off = p.share_to("US")
        if p.commodity != commodity or not off.uncertain:
            continue
        lo = metric(Settings(offtake_pick=((p.id, "low"),)))
        hi = metric(Settings(offtake_pick=((p.id, "high"),)))
        bars.append(Bar(f"offtake to US: {p.id}", f"{off.low:.0%}", f"{off.high:.0%}", lo, hi))
    u_lo, u_hi = production.utilization_low, production.utilization_high
    bars.append(
        Bar(
            "utilisation once ramped",
            f"{u_lo:.0%}",
            f"{u_hi:.0%}",
            metric(Settings(utilization=u_lo)),
            metric(Settings(utilization=u_hi)),
        )
    )
    slow = calibrated_ramp(production)
    bars.append(
        Bar(
            "ramp-up length",
            f"{slow:.0f} months",
            f"{FAST_RAMP_MONTHS:.0f} months",
            metric(Settings(ramp_months=slow)),
            metric(Settings(ramp_months=FAST_RAMP_MONTHS)),
        )
    )
    bars.sort(key=lambda b: -abs(b.metric_high - b.metric_low))
    return Tornado(commodity, segment, by_month, central, tuple(bars))
