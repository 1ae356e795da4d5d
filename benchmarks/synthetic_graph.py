"""A synthetic rare-earth supply chain recorded through the registry, for the lineage benchmark.

Every lot is created by a signed event (each facility signs with its own Ed25519 key, as in
``ScriptedChain``) and appended with ``Registry.append`` in batches: nothing is written to a table
directly, so each lot's origin vector is computed on the append path, exactly as in production.

The chain, in waves (each wave mines ``ores_per_wave`` ore lots and moves everything downstream):

    mine --extract--> ore --beneficiation (1-2 ores)--> 1-2 concentrates
      --ship--> separator --separation (3-5 concentrates or recycled feeds, mixed)--> 2-4 oxides
      --ship--> metal maker --metallization (1-3 oxides)--> 2-3 metal lots
      --ship--> magnet maker --magnet (2-4 metal lots + iron, boron)--> 4-8 magnet lots
      --ship--> component maker --assemble (3-5 magnets)--> 1-2 components
      --ship--> integrator --assemble (3-5 components)--> 1 system
    about 0.1% of magnet lots go to a recycler instead: --recycle (+ sometimes untraced swarf)-->
      recycled feed, shipped to a separator and mixed with concentrates (paths of unequal length).

Inputs are taken from the front of each facility's stock (first in, first out) and often only in
part, so lots feed several later events (fan-out) and every mixing step has fan-in 3-5: a system's
history holds a few hundred lots and paths (more where a recycled feed entered it). Lots left in
stock when the wanted size is reached stay there. Output masses follow the per-element mass
balance the registry enforces (see ``_out_mass``).
"""

from __future__ import annotations

import random
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from raretrace.custody.namespaces import namespaced
from raretrace.demoworld.batching import BatchedAppender
from raretrace.elements import TRADED
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot

REE = frozenset(e.value for e in TRADED)

ORE = {"La": 0.022, "Ce": 0.033, "Pr": 0.003, "Nd": 0.008, "other": 0.9}
CONCENTRATE = {"La": 0.2, "Ce": 0.3, "Pr": 0.027, "Nd": 0.072, "other": 0.4}
OXIDE = {"Nd": 0.6, "Pr": 0.2}
METAL = {"Nd": 0.74, "Pr": 0.25}
MAGNET = {"Nd": 0.23, "Pr": 0.077, "Fe": 0.68, "B": 0.01}
COMPONENT = {"Nd": 0.057, "Pr": 0.019, "Fe": 0.5, "Cu": 0.3, "other": 0.12}
SYSTEM = {"Nd": 0.0095, "Pr": 0.0032, "Fe": 0.3, "other": 0.68}
RECYCLED = {"Nd": 0.6, "Pr": 0.2}
SWARF = {"Nd": 0.2, "Pr": 0.06, "Fe": 0.7}

# (facility id, country, relative weight of the flow it takes, technology per stage if not its own)
MINES = [
    ("CN-BAYAN-OBO", "CN", 30, {}),
    ("CN-SICHUAN-MIANNING", "CN", 10, {}),
    ("CN-JIANGXI-IONIC", "CN", 8, {}),
    ("MM-KACHIN", "MM", 10, {"beneficiation": "CN"}),
    ("AU-MOUNT-WELD", "AU", 8, {}),
    ("US-MOUNTAIN-PASS", "US", 12, {}),
    ("BR-SERRA-VERDE", "BR", 4, {}),
    ("VN-DONG-PAO", "VN", 3, {}),
    ("IN-IREL-CHAVARA", "IN", 3, {}),
    ("RU-LOVOZERO", "RU", 3, {}),
    ("ZA-STEENKAMPSKRAAL", "ZA", 2, {}),
    ("TZ-NGUALLA", "TZ", 2, {}),
]
SEPARATORS = [
    ("CN-BAOTOU-SEP", "CN", 30, {}),
    ("CN-GANZHOU-SEP", "CN", 20, {}),
    ("CN-LESHAN-SEP", "CN", 12, {}),
    ("CN-CHINALCO-SEP", "CN", 10, {}),
    ("MY-KUANTAN-SEP", "MY", 10, {"separation": "AU"}),
    ("US-MOUNTAIN-PASS-SEP", "US", 8, {}),
    ("EE-SILLAMAE-SEP", "EE", 5, {}),
    ("FR-LA-ROCHELLE-SEP", "FR", 5, {}),
]
METAL_MAKERS = [
    ("CN-BAOTOU-METAL", "CN", 40, {}),
    ("CN-GANZHOU-METAL", "CN", 30, {}),
    ("VN-HAIPHONG-METAL", "VN", 10, {"metallization": "JP"}),
    ("US-FORT-WORTH-METAL", "US", 8, {}),
    ("UK-CRADLEY-METAL", "GB", 5, {}),
    ("JP-KITAKYUSHU-METAL", "JP", 7, {}),
]
MAGNET_MAKERS = [
    ("CN-NINGBO-MAGNET", "CN", 30, {}),
    ("CN-BAOTOU-MAGNET", "CN", 20, {}),
    ("CN-TIANJIN-MAGNET", "CN", 15, {}),
    ("JP-TAKEFU-MAGNET", "JP", 12, {}),
    ("DE-HANAU-MAGNET", "DE", 8, {}),
    ("US-FORT-WORTH-MAGNET", "US", 8, {}),
    ("KR-CHANGWON-MAGNET", "KR", 4, {"magnet": "JP"}),
    ("VN-BACNINH-MAGNET", "VN", 3, {"magnet": "CN"}),
]
COMPONENT_MAKERS = [
    ("CN-SHENZHEN-MOTORS", "CN", 25, {}),
    ("CN-CHANGZHOU-MOTORS", "CN", 15, {}),
    ("JP-KYOTO-MOTORS", "JP", 15, {}),
    ("DE-STUTTGART-MOTORS", "DE", 12, {}),
    ("US-INDIANA-MOTORS", "US", 10, {}),
    ("KR-ULSAN-MOTORS", "KR", 8, {}),
    ("MX-MONTERREY-MOTORS", "MX", 8, {}),
    ("HU-GYOR-MOTORS", "HU", 7, {}),
]
INTEGRATORS = [
    ("US-FORT-WORTH-AIRFRAMES", "US", 15, {}),
    ("US-DETROIT-VEHICLES", "US", 15, {}),
    ("DE-WOLFSBURG-VEHICLES", "DE", 15, {}),
    ("CN-XIAN-VEHICLES", "CN", 20, {}),
    ("JP-TOYOTA-VEHICLES", "JP", 15, {}),
    ("DK-BRANDE-TURBINES", "DK", 10, {}),
    ("FR-TOULOUSE-AIRFRAMES", "FR", 10, {}),
]
RECYCLERS = [
    ("US-NOVEON-RECYCLING", "US", 1, {}),
    ("GB-HYPROMAG-RECYCLING", "GB", 1, {}),
]


@dataclass(frozen=True)
class Step:
    """One kind of event of the chain: where it happens, what it takes and makes, where outputs go."""

    name: str
    kind: str  # process | assemble | recycle
    stage: str
    facilities: list[tuple[str, str, int, dict[str, str]]]
    inputs: tuple[int, int]  # how many stock lots one event takes (min, max)
    take: tuple[float, float]  # share of each input's remaining mass taken (1.0: the whole lot)
    outputs: tuple[int, int]
    form: str
    composition: Mapping[str, float]
    additions: tuple[tuple[str, float, Mapping[str, float]], ...] = ()  # (material, kg per kg in, comp)
    to: str | None = None  # the step whose facilities receive the outputs


STEPS = [
    Step("beneficiation", "process", "beneficiation", MINES, (1, 2), (1.0, 1.0), (1, 2), "concentrate",
         CONCENTRATE, to="separation"),
    Step("separation", "process", "separation", SEPARATORS, (3, 5), (0.4, 1.0), (2, 4), "separated_oxide",
         OXIDE, to="metallization"),
    Step("metallization", "process", "metallization", METAL_MAKERS, (1, 3), (0.5, 1.0), (2, 3), "metal",
         METAL, to="magnet"),
    Step("magnet", "process", "magnet", MAGNET_MAKERS, (2, 4), (0.3, 1.0), (4, 8), "magnet", MAGNET,
         (("iron", 2.2, {"Fe": 1.0}), ("boron", 0.04, {"B": 1.0})), to="component"),
    Step("recycle", "recycle", "recycling", RECYCLERS, (1, 3), (1.0, 1.0), (1, 1), "mixed_oxide", RECYCLED,
         to="separation"),
    Step("component", "assemble", "component", COMPONENT_MAKERS, (3, 5), (1.0, 1.0), (1, 2), "component",
         COMPONENT, (("steel and copper", 3.0, {"Fe": 0.6, "Cu": 0.4}),), to="system"),
    Step("system", "assemble", "system", INTEGRATORS, (3, 5), (1.0, 1.0), (1, 1), "product", SYSTEM,
         (("structure", 5.0, {"other": 1.0}),)),
]  # fmt: skip
#: Of magnet lots, the share sent to a recycler instead of a component maker. Each recycled feed
#: carries its magnets' whole history into a separation batch, and every lot made from that batch
#: inherits it; at 1% a lot's history would hold ever more recycled feeds (each bringing more), so
#: histories grow with the registry's age. At 0.1% a history holds on average well under one.
RECYCLE_SHARE = 0.001
SWARF_SHARE = 0.5  # of recycle events that also take untraced swarf
KEEP = 0.3  # a lot with less than this share of its mass left after a step is used up in that step


def _out_mass(inputs: list[tuple[float, Mapping[str, float]]], composition: Mapping[str, float]) -> float:
    """95% of the most the registry would accept: no rare earth and no total mass may grow."""
    total = sum(kg for kg, _ in inputs)
    limit = total
    for element, fraction in composition.items():
        if element in REE and fraction > 0:
            limit = min(limit, sum(kg * comp.get(element, 0.0) for kg, comp in inputs) / fraction)
    return 0.95 * limit


@dataclass
class Stock:
    """A lot held by a facility: id, mass, composition (shared dicts, not copies), mass left."""

    lot_id: str
    mass: float
    composition: Mapping[str, float]
    remaining: float = -1.0

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.mass


@dataclass
class SyntheticChain:
    """Builds the chain wave by wave, signing events and appending them in batches."""

    registry: Registry
    rng: random.Random
    batch: int = 2000
    ores_per_wave: int = 200
    recycle_share: float = RECYCLE_SHARE
    wall_seconds: float = 0.0  # building so far, all included (kept by the benchmark)
    by_form: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _chain: ScriptedChain = field(init=False)
    _appender: BatchedAppender = field(init=False)
    _stock: dict[str, deque[Stock]] = field(default_factory=lambda: defaultdict(deque))
    _incoming: dict[str, list[tuple[str, Stock]]] = field(default_factory=lambda: defaultdict(list))
    _serial: int = 0

    def __post_init__(self) -> None:
        self._chain = ScriptedChain(self.registry)
        self._appender = BatchedAppender(self.registry, self.batch)
        self._steps = {s.name: s for s in STEPS}

    # --- set-up ---------------------------------------------------------------------------------
    def register_facilities(self) -> None:
        groups = [
            (MINES, ["mining", "beneficiation"]),
            (SEPARATORS, ["separation"]),
            (METAL_MAKERS, ["metallization"]),
            (MAGNET_MAKERS, ["magnet"]),
            (COMPONENT_MAKERS, ["component"]),
            (INTEGRATORS, ["system"]),
            (RECYCLERS, ["recycling"]),
        ]
        envelopes = [
            self._chain.facility_event(fid, country=country, stages=stages, technology=tech)
            for group, stages in groups
            for fid, country, _, tech in group
        ]
        self.registry.append(envelopes)

    # --- building ---------------------------------------------------------------------------------
    def build(self, target_lots: int, progress: Callable[[SyntheticChain], None] | None = None) -> None:
        """Waves until at least ``target_lots`` lots are recorded."""
        while self.lots + self.queued_lots < target_lots:
            self._wave(min(self.ores_per_wave, max(1, (target_lots - self.lots - self.queued_lots) // 9)))
            if progress is not None:
                progress(self)
        self.flush()

    def _wave(self, ores: int) -> None:
        mines = self._weighted(MINES, ores)
        for mine in mines:
            kg = round(self.rng.uniform(50_000, 200_000), 1)
            ore = Stock(self._lot_id(mine, "ore"), kg, ORE)
            self._emit(
                mine,
                "extract",
                1,
                "ore",
                deposit=f"{mine.lower()}-deposit",
                outputs=[lot(ore.lot_id, "ore", kg, ORE)],
            )
            self._stock[mine].append(ore)
        for step in STEPS:
            for facility, *_ in step.facilities:
                self._run(step, facility)
            self._ship()

    def _run(self, step: Step, facility: str) -> None:
        stock = self._stock[facility]
        while True:
            wanted = self.rng.randint(*step.inputs)
            if len(stock) < wanted:
                return
            front = [stock.popleft() for _ in range(min(len(stock), 2 * wanted))]
            chosen = set(self.rng.sample(range(len(front)), wanted))
            consumed: list[tuple[float, Mapping[str, float]]] = []
            inputs = []
            for i in sorted(chosen):
                item = front[i]
                share = self.rng.uniform(*step.take)
                kg = item.remaining * share
                if item.remaining - kg < KEEP * item.mass:  # what is left would be a remnant: take all
                    kg = item.remaining
                inputs.append({"lot": item.lot_id, "mass_kg": kg})
                consumed.append((kg, item.composition))
                item.remaining = max(0.0, item.remaining - kg)
            kept = [item for item in front if item.remaining > 0.0]
            stock.extendleft(reversed(kept))
            mass_in = sum(kg for kg, _ in consumed)
            additions = [
                {"material": material, "mass_kg": per_kg * mass_in, "composition": dict(comp)}
                for material, per_kg, comp in step.additions
            ]
            fields: dict[str, Any] = {"inputs": inputs}
            if step.kind == "recycle" and self.rng.random() < SWARF_SHARE:
                additions.append(
                    {"material": "untraced swarf", "mass_kg": 0.5 * mass_in, "composition": SWARF}
                )
            consumed.extend((a["mass_kg"], a["composition"]) for a in additions)
            if additions:
                fields["external_feed" if step.kind == "recycle" else "additions"] = additions
            if step.kind != "recycle":
                fields["stage"] = step.stage
            total = _out_mass(consumed, step.composition)
            parts = [self.rng.uniform(0.5, 1.5) for _ in range(self.rng.randint(*step.outputs))]
            outputs = [
                Stock(self._lot_id(facility, step.name), total * p / sum(parts), step.composition)
                for p in parts
            ]
            self._emit(
                facility,
                step.kind,
                len(outputs),
                step.form,
                outputs=[lot(o.lot_id, step.form, o.mass, step.composition) for o in outputs],
                **fields,
            )
            for out in outputs:
                target = step.to
                if step.name == "magnet" and self.rng.random() < self.recycle_share:
                    target = "recycle"
                if target is not None:
                    receiver = self._weighted(self._steps[target].facilities, 1)[0]
                    self._incoming[facility].append((receiver, out))

    def _ship(self) -> None:
        """Every lot made in this step goes to its receiver: one transfer (and receipt) per route."""
        for sender, items in self._incoming.items():
            routes: dict[str, list[Stock]] = defaultdict(list)
            for receiver, item in items:
                routes[receiver].append(item)
            for receiver, lots in routes.items():
                for start in range(0, len(lots), 200):
                    part = lots[start : start + 200]
                    ids = [s.lot_id for s in part]
                    tid = self._chain.next_id(sender, "transfer")
                    self._sign(
                        lambda sender=sender, receiver=receiver, ids=ids, tid=tid: [
                            self._chain.envelope(sender, "transfer", event_id=tid, to=receiver, lots=ids),
                            self._chain.envelope(receiver, "receive", transfer_event=tid, lots=ids),
                        ]
                    )
                    self._stock[receiver].extend(part)
        self._incoming.clear()

    # --- signing and appending -------------------------------------------------------------------
    def _emit(self, facility: str, kind: str, new_lots: int, form: str, **fields: Any) -> None:
        self.by_form[form] += new_lots
        self._sign(lambda: [self._chain.envelope(facility, kind, **fields)], new_lots)

    def _sign(self, make: Callable[[], list[bytes]], new_lots: int = 0) -> None:
        self._appender.add(make, new_lots)

    def flush(self) -> None:
        self._appender.flush()

    # Counters and timings, kept by the demo world's batched appender (signing and appending).
    @property
    def lots(self) -> int:
        return self._appender.lots

    @property
    def events(self) -> int:
        return self._appender.events

    @property
    def sign_seconds(self) -> float:
        return self._appender.sign_seconds

    @property
    def append_seconds(self) -> float:
        return self._appender.append_seconds

    @property
    def queued_lots(self) -> int:
        """Lots in signed events not yet appended."""
        return self._appender.queued_lots

    # --- helpers ---------------------------------------------------------------------------------
    def _lot_id(self, facility: str, prefix: str) -> str:
        """A new lot id in ``facility``'s namespace (what a registry requires by default)."""
        self._serial += 1
        return namespaced("lot", facility, f"{prefix}-{self._serial:08d}")

    def _weighted(self, group: list[tuple[str, str, int, dict[str, str]]], n: int) -> list[str]:
        return self.rng.choices([g[0] for g in group], weights=[g[2] for g in group], k=n)
