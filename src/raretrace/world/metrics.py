"""Concentration metrics: shares per stage and country, HHI, import reliance, the seed check.

Shares are fractions of world output (0.62 = 62%). Where a source publishes only some countries' shares,
the rest is ``unallocated`` — never spread over guessed countries — and HHI is given as bounds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from raretrace.errors import ValidationError
from raretrace.world.data import StageShare, WorldData

_EPS = 1e-9


@dataclass(frozen=True)
class StageDistribution:
    stage: str
    year: int
    shares: Mapping[str, float]  # country -> fraction of world output
    sources: tuple[str, ...]
    basis: str  # how the shares were obtained

    @property
    def unallocated(self) -> float:
        return max(0.0, 1.0 - sum(self.shares.values()))

    def hhi_bounds(self) -> tuple[float, float]:
        return hhi_bounds(self.shares)


@dataclass(frozen=True)
class SeedCheck:
    stage: str
    country: str
    computed: float
    seed: float
    tolerance_pp: float
    year: int
    basis: str
    sources: tuple[str, ...]

    @property
    def difference_pp(self) -> float:
        return 100.0 * (self.computed - self.seed)

    @property
    def within_tolerance(self) -> bool:
        return abs(self.difference_pp) <= self.tolerance_pp + _EPS


def hhi(shares: Mapping[str, float]) -> float:
    """Herfindahl-Hirschman index on the 0-10,000 scale of fractional shares that sum to 1."""
    total = _check_shares(shares)
    if abs(total - 1.0) > 1e-6:
        raise ValidationError(
            f"shares sum to {total:.4f}, not 1; use hhi_bounds for partial distributions", field="shares"
        )
    return 10_000.0 * sum(s * s for s in shares.values())


def hhi_bounds(shares: Mapping[str, float]) -> tuple[float, float]:
    """HHI bounds when shares sum to less than 1: the remainder spread infinitely thin (low) or held by one
    further country (high). Equal bounds when the distribution is complete."""
    total = _check_shares(shares)
    known = sum(s * s for s in shares.values())
    rest = max(0.0, 1.0 - total)
    return 10_000.0 * known, 10_000.0 * (known + rest * rest)


def _check_shares(shares: Mapping[str, float]) -> float:
    for country, share in shares.items():
        if not 0.0 <= share <= 1.0 + _EPS:
            raise ValidationError(
                f"share {share} is not a fraction between 0 and 1", field=f"shares.{country}"
            )
    total = sum(shares.values())
    if total > 1.0 + 1e-6:
        raise ValidationError(f"shares sum to {total:.4f}, more than 1", field="shares")
    return total


def import_reliance(production: float, imports: float, exports: float, stock_change: float = 0.0) -> float:
    """Net import reliance as USGS defines it: (imports - exports + stock drawdown) / apparent consumption,
    apparent consumption = production + imports - exports + stock drawdown. Negative means a net exporter.

    ``stock_change`` is the drawdown of government and industry stocks (positive when stocks fell).
    """
    for name, value in (("production", production), ("imports", imports), ("exports", exports)):
        if value < 0:
            raise ValidationError("must not be negative", field=name)
    consumption = production + imports - exports + stock_change
    if consumption <= 0:
        raise ValidationError(
            "apparent consumption is zero or negative; reliance is undefined", field="exports"
        )
    return (imports - exports + stock_change) / consumption


def mining_shares(data: WorldData, year: int) -> StageDistribution:
    """Each country's share of world mine production (USGS).

    The denominator is the sum of the rows, ``other`` included, because USGS rounds its world total
    (393,950 t of rows against a published 390,000 t in 2024). ``other`` aggregates unnamed countries, so
    it is left out of the shares and counts as unallocated.
    """
    rows = [p for p in data.production if p.year == year]
    if not rows:
        raise ValidationError(f"no mine production rows for {year}", field="mining.json: production")
    total = sum(p.t_reo for p in rows)
    if total <= 0:
        raise ValidationError(f"mine production of {year} sums to zero", field="mining.json: production")
    shares = {p.country: p.t_reo / total for p in rows if p.country != "other"}
    sources = tuple(sorted({p.source for p in rows}))
    return StageDistribution("mining", year, shares, sources, f"mine production {year}, t REO, / sum of rows")


def published_shares(
    data: WorldData, stage: str, year: int | None = None, kind: str = "observed"
) -> StageDistribution:
    """Published shares of one stage for ``year`` (default: the latest year of that kind)."""
    rows = [s for s in data.shares if s.stage == stage and s.kind == kind]
    if year is None and rows:
        year = max(s.year for s in rows)
    rows = [s for s in rows if s.year == year]
    if not rows or year is None:
        raise ValidationError(
            f"no {kind} share of {stage} for {year or 'any year'}", field="stage_shares.json"
        )
    chosen: dict[str, StageShare] = {}
    for row in rows:  # several sources for one country and year: the most recently published wins
        if row.country not in chosen or row.date > chosen[row.country].date:
            chosen[row.country] = row
    shares = {c: r.share for c, r in chosen.items()}
    measures = sorted({r.measure for r in chosen.values()})
    sources = tuple(sorted({r.source for r in chosen.values()}))
    return StageDistribution(stage, year, shares, sources, f"published share ({', '.join(measures)}) {year}")


def stage_shares(data: WorldData, stage: str, year: int | None = None) -> StageDistribution:
    """Shares of a stage: computed from production for mining, as published for the other stages."""
    if stage == "mining":
        return mining_shares(data, year if year is not None else max(p.year for p in data.production))
    return published_shares(data, stage, year)


def seed_check(data: WorldData) -> list[SeedCheck]:
    """Reproduce the seed figures (China ≈70% mining, ≈90% separation, ≈93% magnets) from the data.

    Mining is computed from USGS production of the latest year; separation and magnets take the latest
    observed published share. Each check carries both values, the tolerance (from stage_shares.json) and
    whether the computed value lies within it.
    """
    checks = []
    for figure in data.seed.figures:
        dist = stage_shares(data, figure.stage)
        checks.append(
            SeedCheck(
                figure.stage,
                figure.country,
                dist.shares.get(figure.country, 0.0),
                figure.share,
                data.seed.tolerance_pp,
                dist.year,
                dist.basis,
                dist.sources,
            )
        )
    return checks


def import_source_shares(data: WorldData, importer: str, period: str | None = None) -> StageDistribution:
    """An importer's published import sources (USGS); ``other`` is an aggregate and stays unallocated."""
    rows = [
        r for r in data.import_sources if r.importer == importer and (period is None or r.period == period)
    ]
    if not rows:
        raise ValidationError(f"no import sources for {importer}", field="imports.json: import_sources")
    periods = {r.period for r in rows}
    if len(periods) > 1:
        raise ValidationError(f"several periods {sorted(periods)}; name one", field="period")
    shares = {r.country: r.share for r in rows if r.country != "other"}
    sources = tuple(sorted({r.source for r in rows}))
    (only,) = periods
    return StageDistribution(
        "import", int(only[:4]), shares, sources, f"import sources of {importer}, {only}"
    )


@dataclass(frozen=True)
class Concentration:
    """One stage's concentration: China's share, the HHI bounds (a range when part is unallocated)."""

    stage: str
    year: int
    china_share: float
    unallocated: float
    hhi_low: float
    hhi_high: float
    basis: str
    sources: tuple[str, ...]


def concentration_table(data: WorldData) -> list[Concentration]:
    """Per stage with data: China's share, HHI bounds, year, basis and sources (for reports)."""
    table = []
    for stage in ("mining", "separation", "magnet"):
        dist = stage_shares(data, stage)
        low, high = dist.hhi_bounds()
        table.append(
            Concentration(
                stage,
                dist.year,
                dist.shares.get("CN", 0.0),
                dist.unallocated,
                low,
                high,
                dist.basis,
                dist.sources,
            )
        )
    return table


def platform_content_t(data: WorldData, platform: str, units: float = 1.0) -> float:
    """Tonnes of rare earths in ``units`` of a defense platform (matched by name prefix, e.g. "F-35")."""
    matches = [p for p in data.platforms if p.platform.startswith(platform)]
    if len(matches) != 1:
        known = ", ".join(p.platform for p in data.platforms)
        raise ValidationError(f"no single platform named {platform!r} (known: {known})", field="platform")
    return matches[0].kg * units / 1000.0
