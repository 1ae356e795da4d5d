"""Hand-computed verdicts for every shipped regime: thresholds exactly, and one part in a million either
side; dates either side of every boundary; unknown origin, recycled feed, the two reference chains.

Prices are the test table (Dy $100/kg, Nd and Pr $10/kg, Tb $1000/kg of element) so every figure below can
be worked out on paper; the comment above each case shows the arithmetic.
"""

from __future__ import annotations

import math

import pytest

from raretrace.rules import Outcome, RawMaterial
from tests.rules_helpers import element, history, judge, subject

T = 0.001  # MOFCOM 61 de-minimis: 0.1% of the item's value
PPM = 1e-6

# Dy mined in Australia, half separated in China (with French technology), half in Malaysia, then made
# into metal and magnets in Japan. Nd: the same path, all separated in Malaysia.
DY_HALF_CN = element(
    history(
        mining={"AU": 1.0}, separation={"CN": 0.5, "MY": 0.5}, metallization={"JP": 1.0}, magnet={"JP": 1.0}
    ),
    history(mining={"AU": 1.0}, separation={"FR": 1.0}, metallization={"JP": 1.0}, magnet={"JP": 1.0}),
)
ND_MY = element(
    history(mining={"AU": 1.0}, separation={"MY": 1.0}, metallization={"JP": 1.0}, magnet={"JP": 1.0})
)


def magnet_worth(value: float | None, **kw: object) -> object:
    # 2 kg Dy x $100 = $200 of Dy, half of it separated in China: $100 of Chinese-origin controlled content.
    return subject({"Dy": DY_HALF_CN, "Nd": ND_MY}, {"Dy": 2.0, "Nd": 60.0}, value=value, **kw)  # type: ignore[arg-type]


# --- cn-mofcom-61-2025 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "expected"),
    [(T, Outcome.LICENCE_REQUIRED), (T - PPM, Outcome.PASS), (T + PPM, Outcome.LICENCE_REQUIRED)],
)
def test_mofcom61_de_minimis_by_value_at_and_either_side_of_threshold(
    share: float, expected: Outcome
) -> None:
    value = 100.0 / share  # $100 of Chinese-origin Dy is `share` of the item's value
    verdict = judge("cn-mofcom-61-2025", magnet_worth(value), "2026-11-11")  # type: ignore[arg-type]
    assert verdict.outcome == expected
    content = next(f for f in verdict.findings if f.rule == "chinese-content-by-value")
    assert math.isclose(content.figures["share_lower"], share, rel_tol=1e-9)
    assert content.figures["numerator_lower"] == pytest.approx(100.0)
    if expected == Outcome.LICENCE_REQUIRED:
        assert [(e.element, e.stage, e.country, e.share) for e in content.evidence] == [
            ("Dy", "separation", "CN", 0.5)
        ]
    assert verdict.regime == "cn-mofcom-61-2025" and verdict.version == "2025-11-07"


def test_mofcom61_is_by_value_not_mass() -> None:
    # By mass, Chinese-origin Dy is 1 kg of 186 kg = 0.54% of the item; by value $100 of $1,000,000 = 0.01%.
    verdict = judge("cn-mofcom-61-2025", magnet_worth(1_000_000.0, mass_kg=186.0), "2026-11-11")  # type: ignore[arg-type]
    assert verdict.outcome == Outcome.PASS


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        ("2025-11-06", Outcome.NOT_APPLICABLE),  # before the suspension, but content rule only from 12-01
        ("2025-11-07", Outcome.NOT_APPLICABLE),  # first day of the suspension (No. 70)
        ("2025-12-01", Outcome.NOT_APPLICABLE),  # in force on paper, suspended
        ("2026-11-10", Outcome.NOT_APPLICABLE),  # last day of the suspension
        ("2026-11-11", Outcome.LICENCE_REQUIRED),  # suspension over
    ],
)
def test_mofcom61_dates_and_suspension_window(day: str, expected: Outcome) -> None:
    verdict = judge("cn-mofcom-61-2025", magnet_worth(10_000.0), day)  # type: ignore[arg-type]
    assert verdict.outcome == expected, verdict.explanation
    if day in ("2025-11-07", "2026-11-10"):
        assert "suspended" in verdict.explanation and "No. 70" in verdict.explanation


@pytest.mark.parametrize(
    ("end_use", "day", "expected"),
    [
        ("military", "2026-11-11", Outcome.FAIL),
        ("civil", "2026-11-11", Outcome.LICENCE_REQUIRED),
        (None, "2026-11-11", Outcome.LICENCE_REQUIRED),
        ("military", "2026-11-10", Outcome.NOT_APPLICABLE),
    ],
)
def test_mofcom61_military_end_users_denied(end_use: str | None, day: str, expected: Outcome) -> None:
    verdict = judge("cn-mofcom-61-2025", magnet_worth(10_000.0), day, end_use=end_use)  # type: ignore[arg-type]
    assert verdict.outcome == expected
    if expected == Outcome.FAIL:
        assert "refused" in verdict.explanation


def test_mofcom61_unknown_origin_is_insufficient_data() -> None:
    # All the Dy has untraced history: it may be 0% or 100% Chinese.
    dy = element(history(magnet={"JP": 1.0}))
    verdict = judge("cn-mofcom-61-2025", subject({"Dy": dy}, {"Dy": 2.0}, value=10_000.0), "2026-11-11")
    assert verdict.outcome == Outcome.INSUFFICIENT_DATA
    content = next(f for f in verdict.findings if f.rule == "chinese-content-by-value")
    assert content.figures["share_lower"] == 0.0 and content.figures["share_upper"] == pytest.approx(0.02)
    assert any(e.country == "unknown" for e in content.evidence)


def test_mofcom61_needs_a_declared_value_only_when_there_is_chinese_content() -> None:
    assert judge("cn-mofcom-61-2025", magnet_worth(None), "2026-11-11").outcome == Outcome.INSUFFICIENT_DATA  # type: ignore[arg-type]
    no_cn = subject({"Nd": ND_MY}, {"Nd": 60.0})
    assert judge("cn-mofcom-61-2025", no_cn, "2026-11-11").outcome == Outcome.PASS


def test_mofcom61_unpriced_chinese_element_cannot_be_bounded() -> None:
    sm = element(
        history(mining={"CN": 1.0}, separation={"CN": 1.0}, magnet={"JP": 1.0}), history(magnet={"JP": 1.0})
    )
    verdict = judge("cn-mofcom-61-2025", subject({"Sm": sm}, {"Sm": 1.0}, value=1e9), "2026-11-11")
    assert verdict.outcome == Outcome.INSUFFICIENT_DATA
    assert "no price" in verdict.explanation


def test_mofcom61_chinese_technology_abroad() -> None:
    # Separated in Malaysia with Chinese technology; no Chinese-origin material at all.
    nd = element(
        history(mining={"AU": 1.0}, separation={"MY": 1.0}, magnet={"US": 1.0}),
        history(mining={"AU": 1.0}, separation={"CN": 1.0}, magnet={"US": 1.0}),
    )
    verdict = judge("cn-mofcom-61-2025", subject({"Nd": nd}, {"Nd": 30.0}, made_in="US"), "2026-12-01")
    assert verdict.outcome == Outcome.LICENCE_REQUIRED
    tech = next(f for f in verdict.findings if f.rule == "chinese-technology")
    assert tech.outcome == Outcome.LICENCE_REQUIRED
    assert [(e.stage, e.country) for e in tech.evidence] == [("separation", "CN")]


def test_japanese_magnet_from_chinese_separated_oxide() -> None:
    # The reference case: CN mine, CN separation, metal and magnet in Japan with Japanese technology.
    cn = {"mining": {"CN": 1.0}, "separation": {"CN": 1.0}}
    dy = element(history(**cn, metallization={"JP": 1.0}, magnet={"JP": 1.0}))
    nd = element(history(**cn, metallization={"JP": 1.0}, magnet={"JP": 1.0}))
    magnet = subject({"Dy": dy, "Nd": nd}, {"Dy": 1.0, "Nd": 29.0}, value=2_000.0)
    # $100 of Chinese Dy in a $2,000 magnet: 5% >= 0.1%.
    assert judge("cn-mofcom-61-2025", magnet, "2026-11-11").outcome == Outcome.LICENCE_REQUIRED
    assert judge("us-dfars-252.225-7052", magnet, "2026-12-31").outcome == Outcome.PASS  # melted/made in JP
    assert judge("us-dfars-252.225-7052", magnet, "2027-01-01").outcome == Outcome.FAIL  # separated in CN
    assert judge("consortium", magnet, "2026-11-29").outcome == Outcome.FAIL
    assert judge("cn-mofcom-18-2025", magnet, "2026-11-29").outcome == Outcome.NOT_APPLICABLE  # held in JP


def test_us_magnet_from_australian_ore_separated_in_malaysia() -> None:
    nd = element(
        history(mining={"AU": 1.0}, separation={"MY": 1.0}, metallization={"US": 1.0}, magnet={"US": 1.0})
    )
    magnet = subject({"Nd": nd, "Pr": nd}, {"Nd": 24.0, "Pr": 6.0}, value=3_000.0, made_in="US")
    assert judge("cn-mofcom-61-2025", magnet, "2026-11-29").outcome == Outcome.PASS
    assert judge("us-dfars-252.225-7052", magnet, "2027-01-01").outcome == Outcome.PASS
    consortium = judge("consortium", magnet, "2026-11-29")
    assert (
        consortium.outcome == Outcome.FAIL
    )  # Malaysia is not a member (until approved: see test_regime_files)
    assert {(e.stage, e.country) for e in consortium.findings[0].evidence} == {("separation", "MY")}


# --- us-dfars-252.225-7052 --------------------------------------------------------------------------------


def _magnet_with_covered_share(share: float, stage: str) -> object:
    stages = {
        "mining": {"AU": 1.0},
        "separation": {"AU": 1.0},
        "metallization": {"US": 1.0},
        "magnet": {"US": 1.0},
    }
    stages[stage] = {"US": 1.0 - share, "CN": share} if share else {"US": 1.0}
    return subject({"Nd": element(history(**stages))}, {"Nd": 30.0}, made_in="US")


@pytest.mark.parametrize(
    ("share", "stage", "day", "expected"),
    [
        (0.0, "metallization", "2026-12-31", Outcome.PASS),
        (PPM, "metallization", "2026-12-31", Outcome.FAIL),  # one part in a million melted in China
        (PPM, "mining", "2026-12-31", Outcome.PASS),  # mining counts only from 2027
        (PPM, "mining", "2027-01-01", Outcome.FAIL),
        (0.0, "mining", "2027-01-01", Outcome.PASS),
        (PPM, "magnet", "2027-01-01", Outcome.FAIL),
    ],
)
def test_dfars_covered_countries_before_and_from_2027(
    share: float, stage: str, day: str, expected: Outcome
) -> None:
    verdict = judge("us-dfars-252.225-7052", _magnet_with_covered_share(share, stage), day)  # type: ignore[arg-type]
    assert verdict.outcome == expected, verdict.explanation
    if expected == Outcome.FAIL:
        decisive = next(f for f in verdict.findings if f.outcome == Outcome.FAIL)
        assert decisive.figures["share_lower"] == pytest.approx(share)


def test_dfars_unknown_origin_and_scope() -> None:
    nd = element(
        history(separation={"unknown": 0.2, "AU": 0.8}, metallization={"US": 1.0}, magnet={"US": 1.0})
    )
    magnet = subject({"Nd": nd}, {"Nd": 30.0}, made_in="US")
    assert judge("us-dfars-252.225-7052", magnet, "2026-12-31").outcome == Outcome.PASS
    assert judge("us-dfars-252.225-7052", magnet, "2027-01-01").outcome == Outcome.INSUFFICIENT_DATA
    oxide = subject({"Nd": element(history(mining={"CN": 1.0}))}, {"Nd": 30.0}, form="separated_oxide")
    assert judge("us-dfars-252.225-7052", oxide, "2027-01-01").outcome == Outcome.NOT_APPLICABLE


def test_recycled_feed() -> None:
    # A recycler mixes 1 kg of traced scrap (Chinese-made magnets) with 3 kg of untraced scrap.
    dy = element(
        history(
            mining={"CN": 0.25, "unknown": 0.75}, magnet={"CN": 0.25, "unknown": 0.75}, recycling={"US": 1.0}
        )
    )
    recycled = subject({"Dy": dy}, {"Dy": 4.0}, value=40_000.0, made_in="US", form="metal")
    # MOFCOM 61: at least 25% of $400 = $100 of $40,000 = 0.25% >= 0.1%.
    assert judge("cn-mofcom-61-2025", recycled, "2026-11-29").outcome == Outcome.LICENCE_REQUIRED
    consortium = judge("consortium", recycled, "2026-11-29")
    assert consortium.outcome == Outcome.FAIL
    # Untraced scrap only: nothing Chinese is known, and nothing is known to be free of China.
    unknown = element(history(recycling={"US": 1.0}))
    only_untraced = subject({"Dy": unknown}, {"Dy": 4.0}, value=40_000.0, made_in="US", form="metal")
    assert judge("cn-mofcom-61-2025", only_untraced, "2026-11-29").outcome == Outcome.INSUFFICIENT_DATA
    assert "untraced" in judge("consortium", only_untraced, "2026-11-29").explanation


# --- consortium -------------------------------------------------------------------------------------------


def test_consortium_members_and_unknown() -> None:
    traced = element(history(mining={"AU": 1.0}, separation={"JP": 1.0}, magnet={"US": 1.0}))
    assert judge("consortium", subject({"Nd": traced}, {"Nd": 1.0}), "2026-11-29").outcome == Outcome.PASS
    partly = element(
        history(mining={"AU": 1 - PPM, "unknown": PPM}, separation={"JP": 1.0}, magnet={"US": 1.0})
    )
    verdict = judge("consortium", subject({"Nd": partly}, {"Nd": 1.0}), "2026-11-29")
    assert verdict.outcome == Outcome.FAIL and "untraced" in verdict.explanation
    # Not yet in force before the consortium's start date.
    assert (
        judge("consortium", subject({"Nd": traced}, {"Nd": 1.0}), "2025-12-31").outcome
        == Outcome.NOT_APPLICABLE
    )


# --- eu-crma-2030 (portfolio) -----------------------------------------------------------------------------


def _lot(country: str, kg: float, lot: str) -> object:
    nd = element(history(mining={country: 1.0}, separation={"FR": 1.0}, magnet={"DE": 1.0}))
    return subject({"Nd": nd}, {"Nd": kg}, lot=lot, made_in="DE")


@pytest.mark.parametrize(
    ("cn_share", "expected"),
    [(0.65, Outcome.PASS), (0.65 + PPM, Outcome.FAIL), (0.65 - PPM, Outcome.PASS)],
)
def test_eu_crma_65_percent_from_one_third_country(cn_share: float, expected: Outcome) -> None:
    # An importer's intake: cn_share of the Nd mined in China, the rest in Australia; separation in France.
    lots = [_lot("CN", cn_share * 1000, "urn:test:a"), _lot("AU", (1 - cn_share) * 1000, "urn:test:b")]
    verdict = judge("eu-crma-2030", lots, "2026-11-29")  # type: ignore[arg-type]
    assert verdict.outcome == expected
    assert verdict.findings[0].figures["largest_third_country_share"] == pytest.approx(cn_share, abs=1e-12)
    assert verdict.subject == ("urn:test:a", "urn:test:b")


def test_eu_crma_member_states_are_not_third_countries_and_unknown_may_tip_it() -> None:
    eu_only = [_lot("SE", 1000.0, "urn:test:se"), _lot("FI", 500.0, "urn:test:fi")]
    assert judge("eu-crma-2030", eu_only, "2026-11-29").outcome == Outcome.PASS  # type: ignore[arg-type]
    nd = element(history(mining={"CN": 0.6, "unknown": 0.1, "AU": 0.3}))
    doubtful = [
        subject({"Nd": nd}, {"Nd": 10.0}, lot="urn:test:x"),
        subject({"Nd": nd}, {"Nd": 5.0}, lot="urn:test:y"),
    ]
    assert judge("eu-crma-2030", doubtful, "2026-11-29").outcome == Outcome.INSUFFICIENT_DATA


def test_eu_crma_on_one_lot_explains_itself_instead_of_failing_it() -> None:
    """A benchmark on the Union's (or an importer's) intake: one US ore lot is 100% from one third
    country by construction, which says nothing about the benchmark."""
    verdict = judge("eu-crma-2030", [_lot("US", 1000.0, "urn:test:us-ore")], "2026-11-29")  # type: ignore[arg-type]
    assert verdict.outcome == Outcome.NOT_APPLICABLE
    assert "set of lots" in verdict.explanation and "would be fail" in verdict.explanation
    assert verdict.findings[0].figures["largest_third_country_share"] == pytest.approx(1.0)


# --- cn-mofcom-18-2025 ------------------------------------------------------------------------------------


def test_mofcom18_exports_from_china_of_controlled_elements() -> None:
    dy_oxide = {"Dy": element(history(mining={"CN": 1.0}, separation={"CN": 1.0}))}
    in_china = subject(dy_oxide, {"Dy": 85.0}, made_in="CN", form="separated_oxide", mass_kg=100.0)
    verdict = judge("cn-mofcom-18-2025", in_china, "2025-04-04")
    assert verdict.outcome == Outcome.LICENCE_REQUIRED
    assert verdict.findings[0].figures["share_lower"] == pytest.approx(0.85)
    assert judge("cn-mofcom-18-2025", in_china, "2025-04-03").outcome == Outcome.NOT_APPLICABLE
    abroad = subject(dy_oxide, {"Dy": 85.0}, made_in="CN", held_in="JP", form="separated_oxide")
    assert judge("cn-mofcom-18-2025", abroad, "2026-11-29").outcome == Outcome.NOT_APPLICABLE
    ndpr = subject({"Nd": dy_oxide["Dy"]}, {"Nd": 85.0}, made_in="CN", form="separated_oxide")
    assert judge("cn-mofcom-18-2025", ndpr, "2026-11-29").outcome == Outcome.NOT_APPLICABLE
    # Not suspended by No. 70.
    assert judge("cn-mofcom-18-2025", in_china, "2026-01-15").outcome == Outcome.LICENCE_REQUIRED


def test_fingerprint_rule_when_configured() -> None:
    from tests.rules_helpers import load_regimes  # noqa: F401  (re-exported loader)

    nd = element(history(mining={"AU": 1.0}, separation={"JP": 1.0}))
    for states, expected in [
        (("consistent",), Outcome.PASS),
        (("consistent", "unassayed"), Outcome.INSUFFICIENT_DATA),
        (("unchecked",), Outcome.INSUFFICIENT_DATA),
        (("inconsistent", "consistent"), Outcome.FAIL),
    ]:
        raw = tuple(RawMaterial(f"urn:test:ore-{i}", "ore", s) for i, s in enumerate(states))
        item = subject({"Nd": nd}, {"Nd": 1.0}, raw=raw)
        regimes = _with_fingerprints()
        assert judge("consortium", item, "2026-11-29", regimes=regimes).outcome == expected, states


def _with_fingerprints() -> dict[str, object]:
    import tempfile
    from pathlib import Path

    from raretrace.rules import load_regimes

    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "fp.toml").write_text(
            'amends = "consortium"\nversion = "1.1"\nparameters = { fingerprint_required = true }\n'
            '[[sources]]\ntitle = "Secretariat decision 2026/7 (test)"\n'
        )
        return load_regimes([Path(folder)])  # type: ignore[return-value]
