"""Invariants of the share figures every rule decides on."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from raretrace.provenance import STAGE_ORDER, UNKNOWN
from raretrace.rules.subject import share_at_stages
from tests.rules_helpers import element, hand_prices, subject

COUNTRIES = ["CN", "AU", "US", UNKNOWN]


@st.composite
def stage_shares(draw: st.DrawFn) -> dict[str, float]:
    weights = draw(st.lists(st.floats(0.0, 1.0), min_size=len(COUNTRIES), max_size=len(COUNTRIES)))
    total = sum(weights) or 1.0
    return {c: w / total for c, w in zip(COUNTRIES, weights, strict=True) if w > 0} or {"AU": 1.0}


histories = st.dictionaries(st.sampled_from(STAGE_ORDER[:5]), stage_shares(), min_size=1)


@given(
    st.dictionaries(
        st.sampled_from(["Nd", "Dy", "Tb"]), st.tuples(histories, st.floats(0.001, 1e4)), min_size=1
    ),
    st.lists(st.sampled_from(STAGE_ORDER[:5]), min_size=1, unique=True),
    st.sampled_from(["mass", "value"]),
)
def test_bounds_are_ordered_and_within_zero_and_one(
    elements: dict[str, tuple[dict[str, dict[str, float]], float]], stages: list[str], basis: str
) -> None:
    item = subject(
        {e: element(h) for e, (h, _) in elements.items()}, {e: kg for e, (_, kg) in elements.items()}
    )
    figure = share_at_stages(
        item, elements=["*"], stages=stages, countries=["CN"], basis=basis, prices=hand_prices()
    )
    assert 0.0 <= figure.lower <= figure.upper + 1e-12 <= 1.0 + 2e-12
    # Adding the unknown share's countries to the question can only raise the lower bound.
    wider = share_at_stages(
        item, elements=["*"], stages=stages, countries=["CN", UNKNOWN], basis=basis, prices=hand_prices()
    )
    assert wider.lower >= figure.lower - 1e-12
