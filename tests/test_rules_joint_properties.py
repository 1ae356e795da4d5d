"""Invariants of the compliance figures over random histories (hypothesis).

- Bounds hold the truth: for fully traced material the share "any of these stages in these countries"
  computed from joint paths is exact, and the marginal-only fallback's bounds contain it.
- Monotone: moving material from a Chinese history to the same history done in Japan never makes a
  verdict worse, under every lot regime.
"""

from __future__ import annotations

from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from raretrace.rules import Context, load_regimes
from raretrace.rules.subject import share_at_stages
from raretrace.rules.verdict import Outcome
from tests.rules_helpers import hand_prices, joint, subject

STAGES = ("mining", "separation", "metallization", "magnet")
PLACES = ("CN", "JP", "AU", "US", "MY")
SEVERITY = {
    Outcome.NOT_APPLICABLE: 0,
    Outcome.PASS: 1,
    Outcome.INSUFFICIENT_DATA: 2,
    Outcome.LICENCE_REQUIRED: 3,
    Outcome.FAIL: 4,
}

history = st.fixed_dictionaries({s: st.sampled_from(PLACES) for s in STAGES})
portions = st.lists(st.tuples(st.integers(1, 20), history), min_size=1, max_size=5)


def normalised(parts: list[tuple[int, dict[str, str]]]) -> list[tuple[float, dict[str, str]]]:
    total = sum(w for w, _ in parts)
    return [(w / total, h) for w, h in parts]


@settings(max_examples=200, deadline=None)
@given(parts=portions, stages=st.sets(st.sampled_from(STAGES), min_size=1))
def test_joint_share_is_exact_and_marginal_bounds_contain_it(
    parts: list[tuple[int, dict[str, str]]], stages: set[str]
) -> None:
    shares = normalised(parts)
    exact = sum(share for share, h in shares if any(h[s] == "CN" for s in stages))
    origin = joint(*shares)
    item = subject({"Dy": origin}, {"Dy": 1.0})
    args = {"elements": ("Dy",), "stages": tuple(sorted(stages)), "countries": ("CN",)}
    figure = share_at_stages(item, **args)  # type: ignore[arg-type]
    assert abs(figure.lower - exact) < 1e-9 and abs(figure.upper - exact) < 1e-9
    marginal = {"location": origin["location"], "technology": origin["technology"]}
    bounds = share_at_stages(subject({"Dy": marginal}, {"Dy": 1.0}), **args)  # type: ignore[arg-type]
    assert bounds.lower - 1e-9 <= exact <= bounds.upper + 1e-9


@settings(max_examples=150, deadline=None)
@given(
    parts=portions,
    moved=st.floats(0.0, 1.0),
    value=st.sampled_from([10.0, 100.0, 1000.0, 1e5]),
    day=st.sampled_from(["2026-06-01", "2026-12-06", "2027-06-01"]),
    end_use=st.sampled_from([None, "civil", "military"]),
)
def test_less_chinese_content_never_makes_a_verdict_worse(
    parts: list[tuple[int, dict[str, str]]], moved: float, value: float, day: str, end_use: str | None
) -> None:
    shares = normalised(parts)
    less: list[tuple[float, dict[str, str]]] = []
    for share, h in shares:
        if "CN" in h.values():
            japanese = {s: ("JP" if c == "CN" else c) for s, c in h.items()}
            less += [(share * (1 - moved), h), (share * moved, japanese)]
        else:
            less.append((share, h))
    ctx = Context(date.fromisoformat(day), end_use, hand_prices())
    for regime in load_regimes().values():
        if regime.portfolio:
            continue
        before = regime.evaluate([subject({"Dy": joint(*shares)}, {"Dy": 0.01}, value=value)], ctx)
        after = regime.evaluate(
            [subject({"Dy": joint(*[p for p in less if p[0] > 0])}, {"Dy": 0.01}, value=value)], ctx
        )
        assert SEVERITY[after.outcome] <= SEVERITY[before.outcome], (regime.id, before.explanation)
