"""Property tests of the append pipeline: whatever is thrown at it, mass never grows, lots never go
negative, and a rejected batch changes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from raretrace.custody.namespaces import namespaced
from raretrace.elements import TRADED
from raretrace.errors import RaretraceError
from raretrace.ledger.scripted import ScriptedChain, lot
from tests.chain_fixtures import new_registry, snapshot

ELEMENTS = ["La", "Ce", "Pr", "Nd", "Dy"]
compositions = st.fixed_dictionaries({e: st.floats(0, 0.19) for e in ELEMENTS})
steps = st.lists(
    st.tuples(
        st.integers(0, 5),  # which earlier lot to consume
        st.floats(0.1, 1500),  # how much of it
        st.floats(0.1, 400),  # output mass
        compositions | st.none(),  # output composition; None: the input's, enriched (often acceptable)
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ores=st.lists(compositions, min_size=1, max_size=4), plan=steps)
def test_mass_never_grows_and_rejections_change_nothing(
    ores: list[dict[str, float]], plan: list[tuple[int, float, float, dict[str, float] | None]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        chain = ScriptedChain(new_registry(f"sqlite:///{Path(tmp) / 'p.db'}"))
        chain.add_facility("MINE", country="AU", stages=["mining", "beneficiation"])
        lots = []
        for i, comp in enumerate(ores):
            lot_id = namespaced("lot", "MINE", f"ore-{i}")
            chain.record("MINE", "extract", deposit="Mount Weld", outputs=[lot(lot_id, "ore", 1000.0, comp)])
            lots.append(lot_id)
        registry = chain.registry
        accepted: list[str] = []
        for n, (pick, take, out_mass, drawn) in enumerate(plan):
            source = lots[pick % len(lots)]
            before_lot = registry.lot(source)
            before = snapshot(registry)
            out_id = namespaced("lot", "MINE", f"c-{n}")
            comp = drawn
            if comp is None:  # concentrate the input's pattern by the mass ratio, capped to stay valid
                ratio = min(
                    take / out_mass, 1.0 / max(sum(before_lot.spec.composition.fractions.values()), 1e-9)
                )
                comp = {k: v * ratio for k, v in before_lot.spec.composition.fractions.items()}
            try:
                chain.record(
                    "MINE",
                    "process",
                    stage="beneficiation",
                    inputs=[{"lot": source, "mass_kg": take}],
                    outputs=[lot(out_id, "concentrate", out_mass, comp)],
                )
            except RaretraceError:
                assert snapshot(registry) == before
                continue
            lots.append(out_id)
            accepted.append(out_id)
            assert take <= before_lot.remaining_kg * (1 + 1e-9) + 1e-9
            after = registry.lot(source)
            assert 0 <= after.remaining_kg <= after.spec.mass_kg
            made = registry.lot(out_id)
            for element in (e.value for e in TRADED):
                produced = made.spec.element_mass(element)
                consumed = before_lot.spec.composition.fraction(element) * take
                assert produced <= consumed * (1 + registry.tolerance) + 1e-9
        event(f"events accepted: {'some' if accepted else 'none'}")
        registry.engine.dispose()
