"""The machinery the world is built with: stocks per plant, routing by published shares, signed events.

Each plant holds its lots by stream ("concentrate", "NdPr oxide", "NdFeB magnet", ...). What a plant
makes goes to its outbox; ``ship`` sends each lot to the destination of its route that is furthest
behind its share by mass (a deterministic smooth weighted round robin), so the mass each destination
receives tracks the route's weights exactly rather than on average. A plant that routes a stream to
itself keeps it without a transfer; a stream without a route stays where it is.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from raretrace.custody.namespaces import namespaced
from raretrace.demoworld import chemistry as chem
from raretrace.demoworld.batching import BatchedAppender
from raretrace.demoworld.chemistry import Made
from raretrace.demoworld.data import DemoData, Plant
from raretrace.elements import REE_SYMBOLS
from raretrace.ledger.scripted import ScriptedChain, lot

#: Lots per transfer: a shipment document lists a bounded number of lots.
LOTS_PER_TRANSFER = 200


@dataclass
class Held:
    """A lot a plant holds: its id, stream, mass, composition and the mass not yet used."""

    lot_id: str
    stream: str
    mass: float
    composition: Mapping[str, float]
    remaining: float = -1.0
    units: int | None = None

    def __post_init__(self) -> None:
        if self.remaining < 0:
            self.remaining = self.mass

    @property
    def ree_fraction(self) -> float:
        return sum(f for e, f in self.composition.items() if e in REE_SYMBOLS)


class Flows:
    """Stocks, routes and signed events of one world being built."""

    def __init__(self, appender: BatchedAppender, data: DemoData, rng: random.Random) -> None:
        self.appender = appender
        self.data = data
        self.rng = rng
        self.chain = ScriptedChain(appender.registry)
        self.stock: dict[str, dict[str, deque[Held]]] = defaultdict(lambda: defaultdict(deque))
        self.outbox: list[tuple[str, Held]] = []
        self.by_form: dict[str, int] = defaultdict(int)
        self._sent: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._lot_serial = 0
        self._event_serial = 0

    # --- identities and events ---------------------------------------------------------------------
    def register(self, plants: Sequence[Plant]) -> None:
        """Every plant's register_facility event (signed by the secretariat), then appended at once."""
        envelopes = [self.chain.facility_event(p.id, **p.facility_spec()) for p in plants]
        self.appender.add(lambda: envelopes)
        self.appender.flush()

    def event_id(self, plant: str, kind: str) -> str:
        """A new event id of ``plant``, in its namespace (``custody/namespaces.py``)."""
        self._event_serial += 1
        return namespaced("event", plant, f"{kind}-{self._event_serial:07d}")

    def lot_id(self, plant: str, stream: str) -> str:
        """A new lot id of ``plant``, in its namespace."""
        self._lot_serial += 1
        slug = stream.lower().replace(" ", "-")
        return namespaced("lot", plant, f"{slug}-{self._lot_serial:06d}")

    def emit(self, plant: str, kind: str, time: str, new_lots: int = 0, **fields: Any) -> str:
        """Sign an event of ``plant`` and queue it; returns its event id."""
        event_id = self.event_id(plant, kind)
        self.appender.add(
            lambda: [self.chain.envelope(plant, kind, event_id=event_id, time=time, **fields)], new_lots
        )
        return event_id

    def make(
        self,
        plant: str,
        kind: str,
        time: str,
        stream: str | Sequence[str],
        form: str,
        made: Sequence[Made],
        *,
        inputs: Sequence[tuple[Held, float]] = (),
        extra: Mapping[str, Any] | None = None,
        lot_extra: Sequence[Mapping[str, Any]] | None = None,
        to_outbox: bool = True,
        **fields: Any,
    ) -> list[Held]:
        """Record one event making ``made`` lots of ``stream`` (one stream, or one per lot) from
        ``inputs`` (lot, kg taken)."""
        streams = [stream] * len(made) if isinstance(stream, str) else list(stream)
        outputs = [
            Held(self.lot_id(plant, s), s, m.mass_kg, m.composition)
            for s, m in zip(streams, made, strict=True)
        ]
        for held, more in zip(outputs, lot_extra or (), strict=False):
            held.units = more.get("units")
        specs = [
            lot(h.lot_id, form, h.mass, h.composition, **(dict(lot_extra[i]) if lot_extra else {}))
            for i, h in enumerate(outputs)
        ]
        if inputs:
            fields["inputs"] = [{"lot": h.lot_id, "mass_kg": kg} for h, kg in inputs]
        self.emit(plant, kind, time, len(outputs), outputs=specs, **fields, **(extra or {}))
        self.by_form[form] += len(outputs)
        if to_outbox:
            self.outbox.extend((plant, h) for h in outputs)
        return outputs

    def transfer(self, sender: str, receiver: str, items: Sequence[Held], time: str, **details: Any) -> str:
        """A transfer and its receipt, each signed by its own side; returns the transfer's event id."""
        ids = [h.lot_id for h in items]
        transfer_id = self.event_id(sender, "transfer")
        receive_id = self.event_id(receiver, "receive")

        def envelopes() -> list[bytes]:
            return [
                self.chain.envelope(
                    sender,
                    "transfer",
                    event_id=transfer_id,
                    time=time,
                    to=receiver,
                    lots=ids,
                    details=details,
                ),
                self.chain.envelope(
                    receiver, "receive", event_id=receive_id, time=time, transfer_event=transfer_id, lots=ids
                ),
            ]

        self.appender.add(envelopes)
        for h in items:
            self.stock[receiver][h.stream].append(h)
        return transfer_id

    def beneficiate(self, plant: Plant, ore: Held, time: str) -> Held:
        """A mine's whole ore lot into one concentrate lot (to the outbox)."""
        made = chem.concentrate(ore.mass, ore.composition, plant.concentrate_grade)
        [concentrate] = self.make(
            plant.id,
            "process",
            time,
            "concentrate",
            "concentrate",
            [made],
            inputs=[(ore, ore.mass)],
            stage="beneficiation",
        )
        ore.remaining = 0.0
        return concentrate

    def assemble(
        self,
        plant: str,
        time: str,
        stage: str,
        stream: str,
        taken: Sequence[tuple[Held, float]],
        units: int,
        mass_kg: float,
        filler: tuple[str, Mapping[str, float]],
        *,
        to_outbox: bool = True,
    ) -> Held:
        """``units`` components or systems of ``mass_kg`` in all from what was taken (its rare earths
        carried over whole) and a filler (material, composition) without rare earths for the rest."""
        charged = sum(kg for _, kg in taken)
        mass = max(mass_kg, charged)
        made = chem.assembled(chem.element_kg((kg, h.composition) for h, kg in taken), mass)
        rest = round(mass * 1.01 - charged, 1)
        material, composition = filler
        additions = (
            [{"material": material, "mass_kg": rest, "composition": dict(composition)}] if rest > 0 else []
        )
        form = "component" if stage == "component" else "product"
        [held] = self.make(
            plant,
            "assemble",
            time,
            stream,
            form,
            [made],
            inputs=taken,
            lot_extra=[{"units": units}],
            to_outbox=to_outbox,
            stage=stage,
            additions=additions,
        )
        return held

    # --- stock ------------------------------------------------------------------------------------------
    def take_whole(self, plant: str, stream: str, n: int) -> list[tuple[Held, float]]:
        """Up to ``n`` lots from the front of a stock, whole (whatever remains of each)."""
        queue = self.stock[plant][stream]
        out: list[tuple[Held, float]] = []
        while queue and len(out) < n:
            item = queue.popleft()
            out.append((item, item.remaining))
            item.remaining = 0.0
        return out

    def take_mass(
        self, plant: str, stream: str, kg: float, *, by_ree: bool = False
    ) -> list[tuple[Held, float]]:
        """``kg`` of a stream (of its rare earths with ``by_ree``) from the front of the stock, in part
        where a lot holds more; less if the stock runs out."""
        queue = self.stock[plant][stream]
        out: list[tuple[Held, float]] = []
        wanted = kg
        while queue and wanted > 1e-9:
            item = queue[0]
            per_kg = item.ree_fraction if by_ree else 1.0
            if per_kg <= 0:
                queue.popleft()
                continue
            need = wanted / per_kg
            if need >= item.remaining * 0.999 or item.remaining - need < 1.0:  # all (no crumb left)
                taken = item.remaining
                queue.popleft()
            else:
                taken = math.ceil(need * 1000) / 1000  # rounded up: ``wanted`` reaches zero
            item.remaining -= taken
            out.append((item, taken))
            wanted -= taken * per_kg
        return out

    # --- shipping ---------------------------------------------------------------------------------------
    def ship(self, time: str, hs_codes: Mapping[str, str] | None = None) -> None:
        """Send everything in the outbox along its routes (see the module docstring)."""
        routes: dict[tuple[str, str], list[Held]] = defaultdict(list)
        for plant, item in self.outbox:
            route = self.data.route(plant, item.stream)
            if route is None:
                self.stock[plant][item.stream].append(item)
                continue
            destination = self._next_destination(plant, item, route.to)
            if destination == plant:
                self.stock[plant][item.stream].append(item)
            else:
                routes[(plant, destination)].append(item)
        self.outbox.clear()
        for (sender, receiver), items in routes.items():
            for start in range(0, len(items), LOTS_PER_TRANSFER):
                part = items[start : start + LOTS_PER_TRANSFER]
                code = (hs_codes or {}).get(part[0].stream, "")
                self.transfer(sender, receiver, part, time, **({"hs_code": code} if code else {}))

    def _next_destination(self, plant: str, item: Held, weights: Mapping[str, float]) -> str:
        sent = self._sent[(plant, item.stream)]
        total = sum(weights.values())
        after = sum(sent.values()) + item.mass
        best = max(weights, key=lambda d: (weights[d] / total * after - sent[d], d))
        sent[best] += item.mass
        return best
