"""``build_world``: the real structure of the rare-earth industry, recorded into a registry.

A year of flows, stage by stage, every step a signed event of the plant that performs it:

    mines (USGS 2024 output by country, split among named deposits) --extract, beneficiation-->
    concentrate --routes--> separators (and Lynas's cracking plant) --separation--> NdPr, La-Ce, Sm, Dy,
    Tb oxides --routes--> metal makers --metallization--> metals --routes--> magnet makers --magnet-->
    NdFeB and SmCo magnets --routes--> component makers (EV motors, defense shipsets and actuators)
    --assemble--> components --routes--> system makers (EVs, F-35, DDG-51, Virginia class, JDAM,
    Tomahawk) --assemble--> systems

Masses at the mines are the published tonnages (one lot is a share of a mine's year), so the mining
stage by country is USGS's; the routes (``flows.json``) then decide the separation and magnet stages.
A lot stands for a campaign or a month of a plant line, not a single shipment. The four cases
(``cases.py``) are recorded along the way. Signing and appending are batched (``batching.py``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from raretrace.demoworld import cases
from raretrace.demoworld import chemistry as chem
from raretrace.demoworld.batching import BatchedAppender
from raretrace.demoworld.data import DemoData, Plant, load_demo_data
from raretrace.demoworld.flows import Flows, Held
from raretrace.demoworld.summary import (
    ChineseTechnology,
    DefenseMagnet,
    FalseOrigin,
    TamperedCertificate,
    WorldSummary,
)
from raretrace.errors import ValidationError
from raretrace.fingerprint import load_library
from raretrace.ledger.registry import Registry
from raretrace.world.data import WorldData

#: (stage name, lots recorded so far): called after every appended batch.
Progress = Callable[[str, int], None]

ORE_LOTS = 1500  # ore lots at scale 1.0 (each becomes one concentrate lot)
ASSAYS = 30  # honest ore assays at scale 1.0, on mines whose deposit the fingerprint knows fully
RECYCLE_EVENTS = 8  # recycled-feed campaigns at scale 1.0 (their mass is the plant's capacity)
RECYCLED = {"Nd": 0.22, "Pr": 0.07, "Dy": 0.01, "Fe": 0.65, "B": 0.01}  # illustrative scrap
MAGNET_USD_PER_KG = 50.0  # illustrative declared value of sintered magnets (no price in docs/reference)
MINING_YEAR = 2024  # the latest USGS year (data/world/mining.json)
TIMES = {
    "extract": "2026-01-12T08:00:00Z",
    "assay": "2026-01-26T08:00:00Z",
    "beneficiation": "2026-02-02T08:00:00Z",
    "ship_concentrate": "2026-02-16T08:00:00Z",
    "crack": "2026-03-02T08:00:00Z",
    "ship_mixed": "2026-03-16T08:00:00Z",
    "separation": "2026-04-06T08:00:00Z",
    "ship_oxide": "2026-04-20T08:00:00Z",
    "metallization": "2026-05-11T08:00:00Z",
    "ship_metal": "2026-05-25T08:00:00Z",
    "magnet": "2026-06-15T08:00:00Z",
    "ship_magnet": "2026-06-29T08:00:00Z",
    "component": "2026-08-03T08:00:00Z",
    "ship_component": "2026-08-17T08:00:00Z",
    "system": "2026-09-14T08:00:00Z",
}
HS_CODES = {  # Harmonized System headings for the shipment details (certificates carry them)
    "concentrate": "2530.90",
    "mixed": "2846.90",
    "NdPr oxide": "2846.90",
    "Dy oxide": "2846.90",
    "Tb oxide": "2846.90",
    "Sm oxide": "2846.90",
    "NdPr metal": "2805.30",
    "Dy metal": "2805.30",
    "Tb metal": "2805.30",
    "Sm metal": "2805.30",
    "NdFeB magnet": "8505.11",
    "SmCo magnet": "8505.11",
}


def declared_value(mass_kg: float) -> dict[str, Any]:
    return {"declared_value": {"amount": round(mass_kg * MAGNET_USD_PER_KG, 2), "currency": "USD"}}


def apportion(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """``total`` lots among the keys in proportion to ``weights`` (largest remainder), at least one each."""
    whole = sum(weights.values())
    exact = {k: total * w / whole for k, w in weights.items()}
    counts = {k: max(1, math.floor(v)) for k, v in exact.items()}
    left = total - sum(counts.values())
    for k in sorted(exact, key=lambda k: exact[k] - math.floor(exact[k]), reverse=True)[: max(0, left)]:
        counts[k] += 1
    return counts


class _Build:
    """One world being built: the stages in order, then the cases that need the finished graph."""

    def __init__(self, registry: Registry, seed: int, scale: float, progress: Progress | None) -> None:
        self.data: DemoData = load_demo_data()
        self.world = WorldData.load()
        self.scale = scale
        self.stage = "facilities"
        self.progress = progress
        self.appender = BatchedAppender(registry, on_append=self._report)
        self.flows = Flows(self.appender, self.data, random.Random(seed))  # noqa: S311 (a reproducible world, not a secret)
        self.rng = self.flows.rng
        self.np_rng = np.random.default_rng(seed)
        self.assayed: list[str] = []
        self.system_of: dict[str, str] = {}  # component lot -> system lot
        self.military: list[str] = []

    def _report(self, appender: BatchedAppender) -> None:
        if self.progress is not None:
            self.progress(self.stage, appender.lots)

    def _at(self, stage: str) -> None:
        self.stage = stage
        self._report(self.appender)

    def n(self, at_full_scale: float) -> int:
        return max(1, round(at_full_scale * self.scale))

    # --- mining -----------------------------------------------------------------------------------
    def mine(self) -> FalseOrigin:
        self._at("mining")
        production = {p.country: p.t_reo for p in self.world.production if p.year == MINING_YEAR}
        mines = [m for m in self.data.by_role("mine") if m.country_share > 0]
        missing = sorted({m.country for m in mines} - set(production))
        if missing:
            raise ValidationError(f"no {MINING_YEAR} USGS output for {missing[0]}", field="facilities.json")
        reo_kg = {m.id: production[m.country] * m.country_share * 1000 for m in mines}
        counts = apportion(reo_kg, max(len(mines), self.n(ORE_LOTS)))
        library = load_library()
        ores: list[tuple[Plant, Held]] = []
        for m in mines:
            ore_comp = chem.reo_pattern_fractions(
                library.get(m.pattern).to_dict()["distribution"], m.ore_grade
            )
            parts = [self.rng.uniform(0.8, 1.2) for _ in range(counts[m.id])]
            made = [chem.Made(round(reo_kg[m.id] * p / sum(parts) / m.ore_grade, 1), ore_comp) for p in parts]
            for one in made:  # one extract event per lot: a month's or a campaign's output
                [ore] = self.flows.make(
                    m.id, "extract", TIMES["extract"], "ore", "ore", [one], to_outbox=False, deposit=m.deposit
                )
                ores.append((m, ore))
        eligible = [
            (m, ore) for m, ore in ores if m.deposit == m.pattern and library.get(m.pattern).complete_pattern
        ]
        for m, ore in self.rng.sample(eligible, min(len(eligible), self.n(ASSAYS))):
            self.flows.emit(
                cases.lab_for(m.country),
                "assay",
                TIMES["assay"],
                lot=ore.lot_id,
                method=cases.ASSAY_METHOD,
                results=cases.lab_assay(m.pattern, self.np_rng),
            )
            self.assayed.append(ore.lot_id)
        ore, concentrate, assay = cases.plant_false_origin(self.flows, self.np_rng, TIMES)
        self.assayed.append(ore.lot_id)
        self._at("beneficiation")
        for m, ore_lot in ores:
            self.flows.beneficiate(m, ore_lot, TIMES["beneficiation"])
        self.flows.ship(TIMES["ship_concentrate"], HS_CODES)
        return FalseOrigin(
            ore.lot_id,
            concentrate.lot_id,
            cases.FRAUD_TRADER,
            cases.FRAUD_DECLARED,
            cases.FRAUD_ACTUAL,
            assay,
        )

    # --- processing -----------------------------------------------------------------------------------
    def _batches(self, plant: str, stream: str, low: int, high: int) -> list[list[tuple[Held, float]]]:
        out = []
        while self.flows.stock[plant][stream]:
            out.append(self.flows.take_whole(plant, stream, self.rng.randint(low, high)))
        return out

    def _process(
        self,
        plant: str,
        time: str,
        stage: str,
        stream: str | list[str],
        form: str,
        made: list[chem.Made],
        taken: list[tuple[Held, float]],
        **extra: Any,
    ) -> list[Held]:
        """A ``process`` event at the time of ``TIMES[time]``; outputs go to the outbox."""
        return self.flows.make(
            plant, "process", TIMES[time], stream, form, made, inputs=taken, stage=stage, **extra
        )

    def crack(self) -> None:
        self._at("cracking")
        for plant in self.data.by_role("cracker"):
            for taken in self._batches(plant.id, "concentrate", 2, 3):
                made = chem.cracked(chem.element_kg((kg, h.composition) for h, kg in taken))
                self._process(plant.id, "crack", "beneficiation", "mixed", "mixed_oxide", [made], taken)
        self.flows.ship(TIMES["ship_mixed"], HS_CODES)

    def separate(self) -> None:
        self._at("separation")
        for plant in self.data.plants:
            if "separation" not in plant.stages:
                continue
            for stream in ("concentrate", "mixed"):
                for taken in self._batches(plant.id, stream, 2, 4):
                    made = chem.separated(
                        chem.element_kg((kg, h.composition) for h, kg in taken), plant.products
                    )
                    oxides = [f"{p} oxide" for p in made]
                    self._process(
                        plant.id,
                        "separation",
                        "separation",
                        oxides,
                        "separated_oxide",
                        list(made.values()),
                        taken,
                    )
        self.flows.ship(TIMES["ship_oxide"], HS_CODES)

    def metallize(self) -> None:
        self._at("metallization")
        for plant in self.data.plants:
            if "metallization" not in plant.stages:
                continue
            for product in ("NdPr", "Dy", "Tb", "Sm"):
                for taken in self._batches(plant.id, f"{product} oxide", 1, 3):
                    made = chem.metal(chem.element_kg((kg, h.composition) for h, kg in taken))
                    parts = [self.rng.uniform(0.5, 1.5) for _ in range(self.rng.randint(1, 2))]
                    lots = chem.split(made, parts)
                    self._process(
                        plant.id, "metallization", "metallization", f"{product} metal", "metal", lots, taken
                    )
        self.flows.ship(TIMES["ship_metal"], HS_CODES)

    def magnets(self) -> None:
        self._at("magnets")
        flows = self.flows
        for plant in self.data.plants:
            if plant.magnet == "NdFeB" and "recycling" in plant.stages:
                self._recycle(plant)
            for taken in self._batches(plant.id, "NdPr metal", 1, 2):
                charged = chem.element_kg((kg, h.composition) for h, kg in taken)
                high = self.rng.random() < plant.dy_share
                mass, dy, tb = chem.ndfeb_plan(charged.get("Nd", 0.0) + charged.get("Pr", 0.0), high)
                heavy = flows.take_mass(plant.id, "Dy metal", dy, by_ree=True) if dy else []
                heavy += flows.take_mass(plant.id, "Tb metal", tb, by_ree=True) if tb else []
                self._magnet_lots(plant, taken + heavy, mass)
            for taken in self._batches(plant.id, "Sm metal", 1, 2):
                additions, made = chem.smco(sum(kg * h.composition.get("Sm", 0.0) for h, kg in taken))
                parts = [self.rng.uniform(0.5, 1.5) for _ in range(self.rng.randint(1, 2))]
                self._magnets_made(plant.id, "SmCo magnet", chem.split(made, parts), taken, additions)
        flows.ship(TIMES["ship_magnet"], HS_CODES)

    def _magnet_lots(self, plant: Plant, taken: list[tuple[Held, float]], mass: float) -> None:
        charged = chem.element_kg((kg, h.composition) for h, kg in taken)
        additions, made = chem.ndfeb(charged, sum(kg for _, kg in taken), mass)
        lots = chem.split(made, [self.rng.uniform(0.5, 1.5) for _ in range(self.rng.randint(2, 4))])
        self._magnets_made(plant.id, "NdFeB magnet", lots, taken, additions)

    def _magnets_made(
        self,
        plant: str,
        stream: str,
        lots: list[chem.Made],
        taken: list[tuple[Held, float]],
        additions: list[dict[str, Any]] | None = None,
    ) -> None:
        """A magnet event; every lot carries its (illustrative) declared value."""
        values = [declared_value(m.mass_kg) for m in lots]
        self._process(
            plant,
            "magnet",
            "magnet",
            stream,
            "magnet",
            lots,
            taken,
            lot_extra=values,
            additions=additions or [],
        )

    def _recycle(self, plant: Plant) -> None:
        """Untraced end-of-life magnets and swarf become recycled alloy, then magnets (Noveon): a
        year at the plant's stated capacity, whatever the scale (scale changes lot counts, not tonnes)."""
        capacity_t = float((plant.capacity or {}).get("value") or 0.0)
        campaigns = self.n(RECYCLE_EVENTS)
        feed_kg = round(capacity_t * 1000 / chem.MAGNET_YIELD**2 / campaigns, 1)
        for _ in range(campaigns if feed_kg > 0 else 0):
            feed = {
                "material": "end-of-life magnets and swarf (untraced)",
                "mass_kg": feed_kg,
                "composition": RECYCLED,
            }
            alloy_made = chem.from_element_kg(
                {e: f * feed_kg * chem.MAGNET_YIELD for e, f in RECYCLED.items()}, feed_kg * chem.MAGNET_YIELD
            )
            [alloy] = self.flows.make(
                plant.id,
                "recycle",
                TIMES["metallization"],
                "recycled alloy",
                "alloy",
                [alloy_made],
                to_outbox=False,
                external_feed=[feed],
            )
            made = chem.from_element_kg(
                {e: f * alloy.mass * chem.MAGNET_YIELD for e, f in alloy.composition.items()},
                alloy.mass * chem.MAGNET_YIELD,
            )
            lots = chem.split(made, [self.rng.uniform(0.5, 1.5) for _ in range(self.rng.randint(2, 3))])
            self._magnets_made(plant.id, "NdFeB magnet", lots, [(alloy, alloy.mass)])
            alloy.remaining = 0.0

    # --- assembly ---------------------------------------------------------------------------------------
    def components(self, case_magnet: str) -> str:
        """Every component maker's lots; returns the first F-35 shipset made from the case (c) magnets."""
        self._at("components")
        platform_kg = {p.platform: p.kg for p in self.world.platforms}
        case_component = ""
        for plant in self.data.by_role("component"):
            for type_id, count in plant.makes.items():
                kind = self.data.component(type_id)
                stream = f"{kind.magnet} magnet"
                for _ in range(self.n(count)):
                    units = kind.units_per_lot
                    if kind.platform is not None:
                        if kind.platform not in platform_kg:
                            raise ValidationError(
                                f"no platform {kind.platform!r} in data/world/defense.json",
                                field=f"products.json: {type_id}",
                            )
                        taken = self.flows.take_mass(
                            plant.id, stream, units * platform_kg[kind.platform], by_ree=True
                        )
                    else:
                        taken = self.flows.take_mass(
                            plant.id, stream, units * (kind.magnet_kg_per_unit or 0.0)
                        )
                    if not taken:
                        break
                    component = self.flows.assemble(
                        plant.id,
                        TIMES["component"],
                        "component",
                        type_id,
                        taken,
                        units,
                        units * kind.unit_mass_kg,
                        ("steel, copper and housings", {"Fe": 0.7, "Cu": 0.3}),
                    )
                    if (
                        not case_component
                        and type_id == "f35_shipset"
                        and any(h.lot_id == case_magnet for h, _ in taken)
                    ):
                        case_component = component.lot_id
        self.flows.ship(TIMES["ship_component"], HS_CODES)
        return case_component

    def systems(self) -> None:
        self._at("systems")
        for plant in self.data.by_role("system"):
            for system_id in plant.makes:
                kind = next(s for s in self.data.systems if s.id == system_id)
                for taken in self._batches(plant.id, kind.component, 1, 1):
                    [(component, _)] = taken
                    units = component.units or 1
                    system = self.flows.assemble(
                        plant.id,
                        TIMES["system"],
                        "system",
                        system_id,
                        taken,
                        units,
                        units * kind.unit_mass_kg,
                        (f"rest of the {kind.name} (no rare earths traced)", {"other": 1.0}),
                        to_outbox=False,
                    )
                    self.system_of[component.lot_id] = system.lot_id
                    if kind.military:
                        self.military.append(system.lot_id)


def _check_request(registry: Registry, scale: float) -> None:
    """Refuse, before any write, a scale out of range or a registry that already holds events."""
    if not 0 < scale <= 10:
        raise ValidationError("must be more than 0 and at most 10", field="scale")
    if registry.tree_size():
        raise ValidationError(
            f"the demo world is built into an empty registry; this one already holds {registry.tree_size()} "
            "events (its plants would clash with facilities on record)",
            field="registry",
        )


def _seconds(appender: BatchedAppender, start: float) -> dict[str, float]:
    """Where the build's time went: signing, appending, and in all (from ``start``)."""
    return {
        "sign": round(appender.sign_seconds, 3),
        "append": round(appender.append_seconds, 3),
        "total": round(time.perf_counter() - start, 3),
    }


def build_world(
    registry: Registry,
    *,
    seed: int = 0,
    scale: float = 1.0,
    progress: Progress | None = None,
    folder: Path | None = None,
) -> WorldSummary:
    """Build the demo world into an empty ``registry`` (anything else is refused before a write).

    ``scale`` multiplies the lot counts (1.0 gives about 8,700 lots; tonnages do not change), ``seed``
    fixes every choice. With ``folder``, the case (d) certificate, its altered copies and the
    trusted-keys file are written there. Returns where everything is; ``findings`` says what it shows."""
    _check_request(registry, scale)
    start = time.perf_counter()
    build = _Build(registry, seed, scale, progress)
    flows = build.flows
    flows.register(build.data.plants)
    false_origin = build.mine()
    build.crack()
    vn_oxide = cases.separate_for_vietnam(flows, TIMES)
    cn_oxide, cn_oxides = cases.separate_for_defense(flows, TIMES)
    build.separate()
    build.metallize()
    vn_magnet = cases.magnets_in_vietnam(flows, vn_oxide, TIMES, declared_value)
    defense_magnet, transfer = cases.defense_magnets(flows, cn_oxides, TIMES, declared_value)
    build.magnets()
    component = build.components(defense_magnet.lot_id)
    build.systems()
    build.appender.flush()
    build._at("certificates")
    presentation, keys, tampered, what = cases.certify_and_tamper(registry, transfer)
    files = cases.write_certificates(folder, presentation, keys, tampered) if folder is not None else {}
    appender = build.appender
    return WorldSummary(
        seed=seed,
        scale=scale,
        facilities=len(build.data.plants),
        events=appender.events,
        lots=appender.lots,
        lots_by_form=dict(sorted(flows.by_form.items())),
        seconds=_seconds(appender, start),
        false_origin=false_origin,
        chinese_technology=ChineseTechnology(vn_magnet.lot_id, cases.CASE_B_PLANT, vn_oxide.lot_id),
        defense_magnet=DefenseMagnet(
            defense_magnet.lot_id, cn_oxide.lot_id, component, build.system_of.get(component, ""), transfer
        ),
        certificate=TamperedCertificate(
            transfer, presentation, keys, tampered, dict(cases.EXPECTED_STEP), what, files
        ),
        assayed=build.assayed,
        military_systems=build.military,
        folder=folder,
    )
