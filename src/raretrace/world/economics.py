"""The cost of security: premiums of allied supply, their cost per platform, the fee that funds a price floor.

Every figure here is arithmetic on published numbers, so each can be checked by hand:

- **premium** of one row of ``premiums.json``: with both sides priced, the ratio runs from
  ``allied_low / china_high`` to ``allied_high / china_low`` and the amount per kg from
  ``allied_low - china_high`` to ``allied_high - china_low`` (the widest honest range); rows published
  as a ratio or as an amount keep only what was published.
- **cost per platform** = rare-earth content of the platform (kg, ``defense.json``) x premium per kg. The
  content is published as "rare earth materials", not as oxide or magnet mass, so the figure prices every
  kg of content at the row's product; it is an order of magnitude, not a bill of materials.
- **fee per consortium member** = (floor - market price) x covered volume / number of members, a year.
- **sensitivity**: if allied costs were ``m`` times the Chinese price, the premium per kg would be
  ``(m - 1) x price``; the same per-platform and fee arithmetic then runs for the published gaps
  (about 1.2-1.8x), thin spot markets (3-4x) and the seed's claim (100-500x) side by side.

Pure functions over ``WorldData``; nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

from raretrace.errors import ValidationError
from raretrace.world.data import Claim, Platform, Premium, WorldData

#: What the defaults price: the NdPr floor row (FOB China against the DoD floor) and the volume the floor
#: covers (MP Materials' 2024 NdPr oxide output, the plant the floor was agreed for).
DEFAULT_FLOOR_ROW = "ndpr-floor-vs-fob"
DEFAULT_VOLUME_PROJECT = "mp-mountain-pass-sep"
#: Multipliers shown by default: the published range, a panic spot market, the seed's claim.
DEFAULT_MULTIPLIERS = (1.2, 1.5, 1.8, 3.0, 4.0, 100.0, 200.0, 500.0)


@dataclass(frozen=True)
class PremiumFigure:
    id: str
    stage: str
    product: str
    comparison: str
    ratio_low: float | None
    ratio_high: float | None
    usd_per_kg_low: float | None
    usd_per_kg_high: float | None
    thin_market: bool
    source: str


@dataclass(frozen=True)
class PlatformCost:
    platform: str
    content_kg: float
    premium_id: str
    usd_low: float
    usd_high: float


@dataclass(frozen=True)
class FloorFee:
    floor_usd_per_kg: float
    market_usd_per_kg_low: float
    market_usd_per_kg_high: float
    volume_t: float
    members: int
    annual_cost_usd_low: float
    annual_cost_usd_high: float
    per_member_usd_low: float
    per_member_usd_high: float


@dataclass(frozen=True)
class SensitivityRow:
    multiplier: float
    label: str  # which evidence the multiplier stands for: published, panic spot, seed claim, or ""
    premium_usd_per_kg_low: float
    premium_usd_per_kg_high: float
    per_member_usd_low: float
    per_member_usd_high: float
    platform_usd: dict[str, tuple[float, float]]


def premium_figure(row: Premium) -> PremiumFigure:
    """The ratio and amount per kg a premium row supports (None where the row gives no base to compute)."""
    ratio: tuple[float, float] | None = row.ratio
    usd: tuple[float, float] | None = row.usd_per_kg
    if row.china is not None and row.allied is not None:
        ratio = (
            row.allied.usd_per_kg_low / row.china.usd_per_kg_high,
            row.allied.usd_per_kg_high / row.china.usd_per_kg_low,
        )
        usd = (
            row.allied.usd_per_kg_low - row.china.usd_per_kg_high,
            row.allied.usd_per_kg_high - row.china.usd_per_kg_low,
        )
    return PremiumFigure(
        row.id,
        row.stage,
        row.product,
        row.comparison,
        ratio[0] if ratio else None,
        ratio[1] if ratio else None,
        usd[0] if usd else None,
        usd[1] if usd else None,
        row.thin_market,
        row.source,
    )


def premiums(data: WorldData) -> list[PremiumFigure]:
    return [premium_figure(row) for row in data.premiums]


def stage_ranges(
    figures: Sequence[PremiumFigure], *, thin_market: bool = False
) -> dict[str, tuple[float, float]]:
    """Per stage, the lowest and highest published ratio (thin spot markets left out unless asked for)."""
    out: dict[str, tuple[float, float]] = {}
    for f in figures:
        if f.ratio_low is None or f.ratio_high is None or (f.thin_market and not thin_market):
            continue
        low, high = out.get(f.stage, (f.ratio_low, f.ratio_high))
        out[f.stage] = (min(low, f.ratio_low), max(high, f.ratio_high))
    return out


def platform_costs(data: WorldData, figures: Sequence[PremiumFigure] | None = None) -> list[PlatformCost]:
    """Every platform's content priced at every premium that has an amount per kg."""
    out = []
    for platform in data.platforms:
        for f in figures if figures is not None else premiums(data):
            if f.usd_per_kg_low is None or f.usd_per_kg_high is None:
                continue
            out.append(
                PlatformCost(
                    platform.platform,
                    platform.kg,
                    f.id,
                    platform.kg * f.usd_per_kg_low,
                    platform.kg * f.usd_per_kg_high,
                )
            )
    return out


def floor_fee(
    floor_usd_per_kg: float,
    market_usd_per_kg: tuple[float, float],
    volume_t: float,
    members: int,
) -> FloorFee:
    """What a price floor costs a year, and each member's equal share of it.

    The floor pays the difference between the floor and the market price on every covered kg; at the
    high market price the difference is smallest, so ``low`` uses the high market price."""
    market_low, market_high = market_usd_per_kg
    if members < 1:
        raise ValidationError("must be at least 1", field="members")
    if volume_t < 0:
        raise ValidationError("must not be negative", field="volume_t")
    if not 0 < market_low <= market_high:
        raise ValidationError("must be positive, low <= high", field="market_usd_per_kg")
    if floor_usd_per_kg <= 0:
        raise ValidationError("must be positive", field="floor_usd_per_kg")
    kg = volume_t * 1000.0
    cost_low = max(0.0, floor_usd_per_kg - market_high) * kg
    cost_high = max(0.0, floor_usd_per_kg - market_low) * kg
    return FloorFee(
        floor_usd_per_kg,
        market_low,
        market_high,
        volume_t,
        members,
        cost_low,
        cost_high,
        cost_low / members,
        cost_high / members,
    )


def sensitivity(
    claims: Sequence[Claim],
    platforms: Sequence[Platform],
    china_usd_per_kg: tuple[float, float],
    volume_t: float,
    members: int,
    multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
) -> list[SensitivityRow]:
    """If allied costs were ``m`` x the Chinese price: the premium per kg, per platform, per member."""
    low_price, high_price = china_usd_per_kg
    rows = []
    for m in multipliers:
        if m < 1:
            raise ValidationError(
                f"multiplier {m} is below 1 (allied cheaper than Chinese)", field="multipliers"
            )
        label = ", ".join(c.claim for c in claims if c.ratio_low - 1e-9 <= m <= c.ratio_high + 1e-9)
        usd = ((m - 1) * low_price, (m - 1) * high_price)
        kg = volume_t * 1000.0
        rows.append(
            SensitivityRow(
                m,
                label,
                usd[0],
                usd[1],
                usd[0] * kg / members,
                usd[1] * kg / members,
                {p.platform: (p.kg * usd[0], p.kg * usd[1]) for p in platforms},
            )
        )
    return rows


@dataclass(frozen=True)
class Economics:
    premiums: list[PremiumFigure]
    stage_ranges: dict[str, tuple[float, float]]
    platform_costs: list[PlatformCost]
    floor: FloorFee
    floor_row: str
    sensitivity: list[SensitivityRow]

    def to_dict(self) -> dict[str, object]:
        return {
            "premiums": [asdict(p) for p in self.premiums],
            "stage_ranges": {k: list(v) for k, v in self.stage_ranges.items()},
            "platform_costs": [asdict(p) for p in self.platform_costs],
            "floor": asdict(self.floor),
            "floor_row": self.floor_row,
            "sensitivity": [
                {**asdict(r), "platform_usd": {k: list(v) for k, v in r.platform_usd.items()}}
                for r in self.sensitivity
            ],
        }


def economics(
    data: WorldData,
    members: int,
    *,
    floor_row: str = DEFAULT_FLOOR_ROW,
    volume_t: float | None = None,
    multipliers: Sequence[float] = DEFAULT_MULTIPLIERS,
) -> Economics:
    """The whole economics section: premiums, platform costs, the floor fee and the sensitivity.

    ``floor_row`` names the premium row whose allied side is the floor and whose Chinese side is the market
    price; ``volume_t`` defaults to the published output of the plant the default floor covers."""
    by_id = {p.id: p for p in data.premiums}
    row = by_id.get(floor_row)
    if row is None or row.china is None or row.allied is None:
        known = ", ".join(p.id for p in data.premiums if p.china is not None and p.allied is not None)
        raise ValidationError(
            f"no priced premium row {floor_row!r} (priced rows: {known})", field="floor_row"
        )
    if volume_t is None:
        project = next((p for p in data.projects if p.id == DEFAULT_VOLUME_PROJECT), None)
        if project is None or project.capacity_t_per_year is None:
            raise ValidationError(f"capacity.json has no {DEFAULT_VOLUME_PROJECT} row", field="volume_t")
        volume_t = project.capacity_t_per_year
    market = (row.china.usd_per_kg_low, row.china.usd_per_kg_high)
    figures = premiums(data)
    return Economics(
        figures,
        stage_ranges(figures),
        platform_costs(data, figures),
        floor_fee(row.allied.usd_per_kg_low, market, volume_t, members),
        floor_row,
        sensitivity(data.claims, data.platforms, market, volume_t, members, multipliers),
    )
