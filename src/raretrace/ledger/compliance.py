"""Checking lots against regimes: the service that turns registry records into verdicts.

It reads what a regime needs about each lot — its stored origin vector (computed at append time, so no
graph walk), masses, declared value, where it was made and is held, and, only when a regime asks for
fingerprints, the ore and concentrate upstream with their assays — and hands plain ``Subject`` values to
the pure rule evaluator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import Connection

from raretrace.elements import REE_SYMBOLS
from raretrace.errors import NotFoundError, ValidationError
from raretrace.ledger.lineage import walk_edges
from raretrace.ledger.registry import Registry
from raretrace.model import Lot
from raretrace.pricing import PriceTable
from raretrace.provenance import Contribution, pooled, with_marginals
from raretrace.rules import Context, RawMaterial, Regime, Subject, Verdict, load_regimes, select
from raretrace.rules.judging import parse_assertions, parse_end_use
from raretrace.rules.types import FingerprintRequired

RAW_FORMS = ("ore", "concentrate")


def _value(lot: Lot) -> tuple[float | None, str | None]:
    spec = lot.spec
    if spec.declared_value is None:
        return None, f"lot {lot.id} has no declared value"
    if spec.currency != "USD":
        return None, f"lot {lot.id}'s value is declared in {spec.currency}; regimes compare values in USD"
    return spec.declared_value, None


def _needs_fingerprints(regimes: Sequence[Regime]) -> bool:
    return any(isinstance(r, FingerprintRequired) and r.enabled for g in regimes for r in g.rules)


def _assay_ppm(results: Mapping[str, object]) -> tuple[dict[str, float], dict[str, float]] | None:
    """An assay event's results as element ppm (plus isotope keys) and the detection limits of the
    elements measured below them (``detection_limits``, same units), or None in units we cannot read."""
    units = str(results.get("units", "ppm")).strip().lower()
    scale = {"ppm": 1.0, "mg/kg": 1.0, "g/t": 1.0, "ppb": 1e-3, "wt%": 1e4, "%": 1e4}.get(units)
    if scale is None:
        return None
    values: dict[str, float] = {}
    for key, value in results.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        values[key] = float(value) * scale if key in REE_SYMBOLS else float(value)
    raw_limits = results.get("detection_limits")
    limits = {
        k: float(v) * scale
        for k, v in (raw_limits.items() if isinstance(raw_limits, dict) else ())
        if k in REE_SYMBOLS and isinstance(v, int | float) and not isinstance(v, bool)
    }
    return values, limits


def _fingerprint(lot: Lot, results: Mapping[str, object], country: str | None) -> str:
    """The declared-origin test on a raw-material lot's assay: its deposit if the library knows it,
    else its mine's country (issue 5)."""
    from raretrace.fingerprint import check_assay, load_library

    parsed = _assay_ppm(results)
    if parsed is None:
        return "indeterminate"
    assay, limits = parsed
    declared = None
    if lot.deposit:
        try:
            load_library().resolve(lot.deposit)
            declared = lot.deposit
        except ValidationError:
            declared = None
    declared = declared or country
    if declared is None:
        return "indeterminate"
    try:
        result = check_assay(
            assay, lot.spec.form.value, declared, detection_limits=limits or None, descriptors=False
        )
    except ValidationError:
        return "indeterminate"  # an assay the fingerprint cannot read says nothing either way
    return result.status or "indeterminate"


def _raw_materials(
    registry: Registry, lot_ids: Sequence[str], given: Connection | None = None
) -> dict[str, tuple[RawMaterial, ...]]:
    """For each lot, the ore and concentrate lots upstream of it (itself included) and what their
    assays' fingerprints say of their declared origin."""
    out: dict[str, tuple[RawMaterial, ...]] = {}
    with nullcontext(given) if given is not None else registry.engine.connect() as conn:
        for start in lot_ids:
            _, seen = walk_edges(registry.store, conn, start, up=True)
            lots = registry.store.lots(conn, sorted(seen))
            raw = sorted(lot_id for lot_id, lot in lots.items() if lot.spec.form.value in RAW_FORMS)
            assays: dict[str, Mapping[str, object]] = {}
            if raw:
                for assayed, measurement in registry.store.assay_results(conn, raw):
                    results = measurement.get("results", {})
                    assays[assayed] = results if isinstance(results, dict) else {}
            producers = registry.store.facilities(conn, sorted({lots[i].producer for i in raw}))
            out[start] = tuple(
                RawMaterial(
                    lot_id,
                    lots[lot_id].spec.form.value,
                    _fingerprint(
                        lots[lot_id],
                        assays[lot_id],
                        producers[lots[lot_id].producer].country
                        if lots[lot_id].producer in producers
                        else None,
                    )
                    if lot_id in assays
                    else "unassayed",
                )
                for lot_id in raw
            )
    return out


def _magnet_kg(registry: Registry, lot_id: str) -> float:
    """Mass of finished magnets inside a lot: a magnet is its own mass; an assembly holds its inputs'
    magnets in proportion to the share of each input it consumed. Walked only for DFARS's COTS test."""
    with registry.engine.connect() as conn:
        edges, seen = walk_edges(registry.store, conn, lot_id, up=True)
        lots = registry.store.lots(conn, sorted(seen))
    inputs: dict[str, list[tuple[str, float]]] = {}
    for child, parent, mass, _ in edges:
        inputs.setdefault(child, []).append((parent, mass))
    memo: dict[str, float] = {}

    def inside(lot: str) -> float:
        if lot not in memo:
            found = lots.get(lot)
            if found is None:
                memo[lot] = 0.0
            elif found.spec.form.value == "magnet":
                memo[lot] = found.spec.mass_kg
            else:
                memo[lot] = sum(
                    inside(parent) * mass / lots[parent].spec.mass_kg
                    for parent, mass in inputs.get(lot, ())
                    if parent in lots and lots[parent].spec.mass_kg > 0
                )
        return memo[lot]

    return inside(lot_id)


def subjects(
    registry: Registry,
    lot_ids: Sequence[str],
    *,
    with_raw_materials: bool = False,
    with_magnet_mass: bool = False,
    conn: Connection | None = None,
) -> list[Subject]:
    """One subject per lot, in the order given; unknown lots are an error naming the first. Read on
    ``conn`` when given (a caller reading more on one connection), else on a connection of its own."""
    with nullcontext(conn) if conn is not None else registry.engine.connect() as db:
        lots = registry.store.lots(db, list(dict.fromkeys(lot_ids)))
        missing = [i for i in lot_ids if i not in lots]
        if missing:
            raise NotFoundError(f"lot {missing[0]} does not exist", field="lot")
        facility_ids = sorted({x for lot in lots.values() for x in (lot.producer, lot.custodian)})
        facilities = registry.store.facilities(db, facility_ids)
        raw = _raw_materials(registry, lot_ids, db) if with_raw_materials else {}
    out = []
    for lot_id in lot_ids:
        lot = lots[lot_id]
        value, note = _value(lot)
        producer, custodian = facilities.get(lot.producer), facilities.get(lot.custodian)
        out.append(
            Subject(
                lots=(lot_id,),
                forms=frozenset({lot.spec.form.value}),
                mass_kg=lot.spec.mass_kg,
                element_kg={
                    e: lot.spec.element_mass(e) for e in lot.spec.composition.fractions if e in REE_SYMBOLS
                },
                origin=lot.origin(),
                declared_value_usd=value,
                value_note=note,
                made_in=frozenset({producer.country} if producer else ()),
                held_in=frozenset({custodian.country} if custodian else ()),
                raw_materials=raw.get(lot_id, ()),
                magnet_kg=_magnet_kg(registry, lot_id) if with_magnet_mass else None,
            )
        )
    return out


def combined(parts: Sequence[Subject]) -> Subject:
    """Several lots judged as one item (a shipment, a product's bill of material): masses add up,
    origins pool by element mass, the value is known only if every part's is."""
    if len(parts) == 1:
        return parts[0]
    element_kg: dict[str, float] = {}
    for part in parts:
        for element, kg in part.element_kg.items():
            element_kg[element] = element_kg.get(element, 0.0) + kg
    values = [p.declared_value_usd for p in parts]
    notes = [p.value_note for p in parts if p.value_note]
    return Subject(
        lots=tuple(lot for p in parts for lot in p.lots),
        forms=frozenset().union(*(p.forms for p in parts)),
        mass_kg=sum(p.mass_kg for p in parts),
        element_kg=element_kg,
        origin=with_marginals(pooled(Contribution(p.origin, p.element_kg) for p in parts)),
        declared_value_usd=None if None in values else sum(v for v in values if v is not None),
        value_note="; ".join(notes) or None,
        made_in=frozenset().union(*(p.made_in for p in parts)),
        held_in=frozenset().union(*(p.held_in for p in parts)),
        raw_materials=tuple(r for p in parts for r in p.raw_materials),
        magnet_kg=None if any(p.magnet_kg is None for p in parts) else sum(p.magnet_kg or 0.0 for p in parts),
    )


def today() -> date:
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Judging:
    """Everything a verdict depends on but the day: the regimes, the subjects read from the registry,
    the end use, the prices and the asserted facts. Built once, judged on as many days as asked
    (``on``), so re-judging on the days a regime's rules change (ledger/upcoming.py) reads the
    registry once."""

    regimes: tuple[Regime, ...]
    items: tuple[Subject, ...]  # one per lot: what portfolio regimes judge together
    judged: tuple[Subject, ...]  # what lot regimes judge: each lot, or all of them as one item
    end_use: str | None
    prices: PriceTable
    assertions: frozenset[str]

    def on(self, day: date) -> list[Verdict]:
        """The verdicts on ``day``: each regime in order, for a lot regime one per judged item."""
        return [v for regime in self.regimes for v in self.under(regime, day)]

    def under(self, regime: Regime, day: date) -> list[Verdict]:
        """One regime's verdicts on ``day``: the portfolio's, or one per judged item."""
        ctx = Context(day, self.end_use, self.prices, self.assertions)
        if regime.portfolio:
            return [regime.evaluate(self.items, ctx)]
        return [regime.evaluate([item], ctx) for item in self.judged]


def portion(subject: Subject, kg: float, field: str = "quantity_kg") -> Subject:
    """``kg`` of a one-lot subject, as a bill of material takes part of a lot: masses, value and
    magnet weight scale with the mass taken; origin shares, places and raw materials do not."""
    if not kg > 0:
        raise ValidationError(f"{kg:g} kg of {subject.lots[0]}: a quantity is a positive mass", field=field)
    if kg > subject.mass_kg * (1 + 1e-9):
        raise ValidationError(
            f"{kg:g} kg of {subject.lots[0]} is more than the lot's {subject.mass_kg:g} kg", field=field
        )
    scale = kg / subject.mass_kg
    value = subject.declared_value_usd
    return replace(
        subject,
        mass_kg=kg,
        element_kg={e: m * scale for e, m in subject.element_kg.items()},
        declared_value_usd=None if value is None else value * scale,
        magnet_kg=None if subject.magnet_kg is None else subject.magnet_kg * scale,
    )


def prepare(
    registry: Registry,
    lot_ids: Sequence[str],
    *,
    regimes: Sequence[Regime] | Sequence[str] | None = None,
    end_use: str | None = None,
    prices: PriceTable | None = None,
    as_one: bool = False,
    regime_folders: Sequence[Path] = (),
    assertions: Sequence[str] = (),
    quantities: Mapping[str, float] | None = None,
) -> Judging:
    """Read what the regimes need about the lots (see ``check_lots``). ``quantities`` (kg by lot id)
    judge the part of each lot a bill of material takes instead of the whole lot."""
    if not lot_ids:
        raise NotFoundError("give at least one lot to check", field="lot")
    chosen = _chosen(regimes, regime_folders)
    asserted = parse_assertions(assertions, field="assertions")
    use = parse_end_use(end_use)
    items = subjects(
        registry,
        lot_ids,
        with_raw_materials=_needs_fingerprints(chosen),
        with_magnet_mass="cots" in asserted,
    )
    if quantities is not None:
        items = [portion(s, quantities[s.lots[0]]) if s.lots[0] in quantities else s for s in items]
    return _judging(chosen, items, use, prices, asserted, as_one)


def _chosen(regimes: Sequence[Regime] | Sequence[str] | None, folders: Sequence[Path]) -> list[Regime]:
    if regimes is None or all(isinstance(r, str) for r in regimes):
        return select(load_regimes(folders), [str(r) for r in regimes or ()])
    return [r for r in regimes if isinstance(r, Regime)]


def _judging(
    chosen: Sequence[Regime],
    items: Sequence[Subject],
    use: str | None,
    prices: PriceTable | None,
    asserted: frozenset[str],
    as_one: bool,
) -> Judging:
    return Judging(
        regimes=tuple(chosen),
        items=tuple(items),
        judged=(combined(items),) if as_one else tuple(items),
        end_use=use,
        prices=prices or PriceTable.load(),
        assertions=asserted,
    )


def judging_of(
    items: Sequence[Subject],
    *,
    regimes: Sequence[Regime] | None = None,
    end_use: str | None = None,
    prices: PriceTable | None = None,
    as_one: bool = False,
) -> Judging:
    """``prepare`` for subjects already read with their raw materials (``subjects(…,
    with_raw_materials=True)``, no asserted facts): a certificate reads its lots once for both its
    fingerprints and its verdicts. Each regime sees exactly what ``prepare`` would give it (the raw
    materials only when one of them judges fingerprints)."""
    chosen = _chosen(regimes, ())
    if not _needs_fingerprints(chosen):
        items = [replace(s, raw_materials=()) for s in items]
    return _judging(chosen, items, parse_end_use(end_use), prices, frozenset(), as_one)


def check_lots(
    registry: Registry,
    lot_ids: Sequence[str],
    *,
    regimes: Sequence[Regime] | Sequence[str] | None = None,
    as_of: date | None = None,
    end_use: str | None = None,
    prices: PriceTable | None = None,
    as_one: bool = False,
    regime_folders: Sequence[Path] = (),
    assertions: Sequence[str] = (),
) -> list[Verdict]:
    """Verdicts for each lot (or for all of them as one item with ``as_one``) under each regime.

    Portfolio regimes (EU CRMA) judge all the lots together, once. ``regimes`` are loaded regimes or
    ids; None means every regime known. ``as_of`` defaults to today (UTC). ``end_use`` and
    ``assertions`` are checked against their closed sets (rules/judging.py) and recorded in each verdict.
    """
    judging = prepare(
        registry,
        lot_ids,
        regimes=regimes,
        end_use=end_use,
        prices=prices,
        as_one=as_one,
        regime_folders=regime_folders,
        assertions=assertions,
    )
    return judging.on(as_of or today())
