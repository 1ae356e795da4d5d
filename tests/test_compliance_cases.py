"""Hand-computed compliance cases: each verdict is predicted from the regulation's wording, not from the tool.

Every row gives the item (its rare-earth masses, the joint history of each portion, its value and where
it was made and is held), the date and end use, the expected outcome, the clause that decides it, and a
one-line derivation. Expected outcomes are computed here from the inputs with the regulation's own
arithmetic (the 0.1% value test of MOFCOM 61 clause I(1), "at any stage" of DFARS from 2027, the 65%
CRMA benchmark), never copied from the tool's output.

Prices (rules_helpers.ELEMENT_PRICES, USD per kg of element): Dy 100, Nd 10, Pr 10, Tb 1000.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pytest

from raretrace.rules import Context, Subject, load_regimes
from raretrace.rules.judging import parse_end_use
from tests.rules_helpers import ELEMENT_PRICES, hand_prices, joint, subject

#: MOFCOM 61 clause I(1): "accounts for 0.1% or more of the value".
DE_MINIMIS = 0.001
#: EU CRMA Art. 5(1)(d): "not more than 65%" from a single third country.
CRMA_MAX = 0.65
TODAY = "2026-12-06"  # after the No. 70 suspension's end (2026-11-10)

MOFCOM = "cn-mofcom-61-2025"
NO18 = "cn-mofcom-18-2025"
NO57 = "cn-mofcom-57-2025"
DFARS = "us-dfars-252.225-7052"
CRMA = "eu-crma-2030"
CONSORTIUM = "consortium"

AU_CN_SEP = {"mining": "AU", "separation": "CN"}  # Australian ore separated in China (Chinese technology)
AU_JP = {"mining": "AU", "separation": "JP", "metallization": "JP", "magnet": "JP"}
AU_JP_WITH_CN_SEP_TECH = {"mining": "AU", "separation": "JP@CN", "metallization": "JP", "magnet": "JP"}


def magnet_stages(upstream: dict[str, str], metal: str = "JP", magnet: str = "JP") -> dict[str, str]:
    return {**upstream, "metallization": metal, "magnet": magnet}


def by_value(cn_usd: float, item_usd: float) -> str:
    """Clause I(1): licence when Chinese-origin controlled content is 0.1% or more of the item's value."""
    return "licence_required" if cn_usd / item_usd >= DE_MINIMIS else "pass"


def escalate(outcome: str, end_use: str | None) -> str:
    """Section II: a licence for an overseas military end user is in principle refused."""
    return "fail" if outcome == "licence_required" and end_use == "military" else outcome


@dataclass(frozen=True)
class Case:
    id: str
    regime: str
    day: str
    item: Callable[[], Subject | list[Subject]]
    expect: str
    clause: str | None  # the rule id that decides (None: not applicable as a whole / pass with none)
    why: str
    end_use: str | None = None
    assertions: frozenset[str] = field(default_factory=frozenset)
    #: Check this rule's finding rather than the whole verdict (when another rule decides the verdict).
    finding: str | None = None


def jp_magnet(
    dy: dict[str, str] | list[tuple[float, dict[str, str]]],
    *,
    dy_kg: float = 0.01,
    nd: dict[str, str] | None = None,
    nd_kg: float = 0.3,
    value: float | None = 2000.0,
    made_in: str = "JP",
    form: str = "magnet",
    mass_kg: float = 1.0,
    extra: dict[str, tuple[float, dict[str, str]]] | None = None,
) -> Subject:
    """A 1 kg NdFeB magnet: Dy and Nd with the histories given (Nd defaults to fully Japanese)."""
    portions = dy if isinstance(dy, list) else [(1.0, dy)]
    origin = {
        "Dy": joint(*portions),
        "Nd": joint((1.0, nd or magnet_stages({"mining": "AU", "separation": "JP"}))),
    }
    kg = {"Dy": dy_kg, "Nd": nd_kg}
    for element, (element_kg, stages) in (extra or {}).items():
        origin[element] = joint((1.0, stages))
        kg[element] = element_kg
    return subject(origin, kg, value=value, made_in=made_in, form=form, mass_kg=mass_kg)


def oxide(element: str, stages: dict[str, str], *, held_in: str = "CN", made_in: str = "CN") -> Subject:
    return subject(
        {element: joint((1.0, stages))},
        {element: 100.0},
        value=5000.0,
        made_in=made_in,
        held_in=held_in,
        form="separated_oxide",
        mass_kg=117.0,
    )


def intake(*lots: tuple[float, dict[str, str]]) -> list[Subject]:
    """An importer's intake: one separated-oxide lot per history, holding that share of 100 kg of Nd."""
    return [
        subject(
            {"Nd": joint((1.0, stages))},
            {"Nd": 100.0 * share},
            form="separated_oxide",
            made_in="FR",
            lot=f"urn:test:intake-{i}",
        )
        for i, (share, stages) in enumerate(lots)
    ]


def with_magnets(item: Subject, magnet_kg: float | None) -> Subject:
    return dataclasses.replace(item, magnet_kg=magnet_kg)


CN_SEP_MAGNET = magnet_stages(AU_CN_SEP)  # Dy: mined AU, separated CN, metal and magnet JP
DY_USD = ELEMENT_PRICES["Dy"]
TB_USD = ELEMENT_PRICES["Tb"]

CASES: list[Case] = [
    # --- MOFCOM 61 clause I(1): value de minimis, both sides of 0.1% and exactly at it --------------------
    Case(
        "value-below",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=2000.0),
        by_value(0.01 * DY_USD, 2000.0),
        None,
        "Dy $1 of $2000 = 0.05% < 0.1%; CN technology used in CN only",
    ),
    Case(
        "value-exactly-at",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=1000.0),
        by_value(0.01 * DY_USD, 1000.0),
        "chinese-content-by-value",
        "Dy $1 of $1000 = 0.1%: 'or more'",
    ),
    Case(
        "value-just-above",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=999.0),
        by_value(0.01 * DY_USD, 999.0),
        "chinese-content-by-value",
        "$1 of $999 = 0.1001%",
    ),
    Case(
        "value-just-below",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=1001.0),
        by_value(0.01 * DY_USD, 1001.0),
        None,
        "$1 of $1001 = 0.0999%",
    ),
    Case(
        "nd-only-chinese",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP, nd=CN_SEP_MAGNET, value=10.0),
        "pass",
        None,
        "only Nd was separated in China; Nd is not a controlled element (Nos. 18, 57)",
    ),
    Case(
        "blend-30-cn-above",
        MOFCOM,
        TODAY,
        lambda: jp_magnet([(0.3, CN_SEP_MAGNET), (0.7, AU_JP)], dy_kg=0.1, value=1500.0),
        by_value(0.1 * DY_USD * 0.3, 1500.0),
        "chinese-content-by-value",
        "30% of $10 Dy = $3 of $1500 = 0.2%",
    ),
    Case(
        "blend-30-cn-below",
        MOFCOM,
        TODAY,
        lambda: jp_magnet([(0.3, CN_SEP_MAGNET), (0.7, AU_JP)], dy_kg=0.1, value=4000.0),
        by_value(0.1 * DY_USD * 0.3, 4000.0),
        None,
        "$3 of $4000 = 0.075%",
    ),
    Case(
        "mass-over-value-under",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, dy_kg=0.001, mass_kg=0.5, value=200.0),
        by_value(0.001 * DY_USD, 200.0),
        None,
        "Dy is 0.2% of the mass but $0.10 of $200 = 0.05% of the value: the test is by value",
    ),
    Case(
        "mass-under-value-over",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP, extra={"Tb": (0.0001, CN_SEP_MAGNET)}, value=50.0),
        by_value(0.0001 * TB_USD, 50.0),
        "chinese-content-by-value",
        "Tb is 0.01% of the mass but $0.10 of $50 = 0.2% of the value",
    ),
    Case(
        "tb-at-threshold",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP, extra={"Tb": (0.001, CN_SEP_MAGNET)}, value=1000.0),
        by_value(0.001 * TB_USD, 1000.0),
        "chinese-content-by-value",
        "Tb $1 of $1000 = 0.1%",
    ),
    Case(
        "mined-in-china-separated-abroad",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(magnet_stages({"mining": "CN", "separation": "MY"}), dy_kg=0.1, value=1000.0),
        by_value(0.1 * DY_USD, 1000.0),
        "chinese-content-by-value",
        "Chinese-mined Dy is Chinese-origin whatever happened next: $10 of $1000 = 1%",
    ),
    Case(
        "no-declared-value",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=None),
        "insufficient_data",
        "chinese-content-by-value",
        "Chinese Dy present, no value to compare it with",
    ),
    Case(
        "no-value-no-chinese-content",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP, value=None),
        "pass",
        None,
        "nothing Chinese: the share is 0 whatever the value",
    ),
    # --- clause I(2): Chinese technology used outside China vs inside -----------------------------------
    Case(
        "cn-tech-inside-china",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=1e6),
        "pass",
        None,
        "separated in CN with CN technology: clause I(1) content ($1 of $1M), not I(2)",
    ),
    Case(
        "cn-tech-separation-abroad",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP_WITH_CN_SEP_TECH, value=1e6),
        "licence_required",
        "chinese-technology",
        "separated in JP with Chinese technology: "
        "'manufactured overseas using technologies originating in China'",
    ),
    Case(
        "cn-tech-magnet-abroad",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(
            {**AU_JP, "magnet": "JP@CN"},
            nd={**magnet_stages({"mining": "AU", "separation": "JP"}), "magnet": "JP@CN"},
            value=1e6,
        ),
        "licence_required",
        "chinese-technology",
        "magnet made in JP with Chinese magnet technology",
    ),
    Case(
        "cn-tech-mining-abroad",
        MOFCOM,
        TODAY,
        lambda: jp_magnet({**AU_JP, "mining": "AU@CN"}, value=1e6),
        "licence_required",
        "chinese-technology",
        "mined in AU with Chinese mining technology",
    ),
    Case(
        "cn-tech-stage-not-listed",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(
            {**AU_JP, "component": "JP@CN"},
            nd={**magnet_stages({"mining": "AU", "separation": "JP"}), "component": "JP@CN"},
            value=1e6,
            form="component",
        ),
        "pass",
        None,
        "component assembly is not among the listed technologies "
        "(mining, separation, metal, magnet, recycling)",
    ),
    Case(
        "blend-cn-tech-in-china-half",
        MOFCOM,
        TODAY,
        lambda: jp_magnet([(0.5, CN_SEP_MAGNET), (0.5, AU_JP)], value=1e6),
        "pass",
        None,
        "half separated in CN with CN tech, half in JP with JP tech: no Chinese technology used abroad",
    ),
    Case(
        "blend-cn-tech-abroad-half",
        MOFCOM,
        TODAY,
        lambda: jp_magnet([(0.5, CN_SEP_MAGNET), (0.5, AU_JP_WITH_CN_SEP_TECH)], value=1e6),
        "licence_required",
        "chinese-technology",
        "the JP-separated half used Chinese technology",
    ),
    Case(
        "cn-tech-abroad-military",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP_WITH_CN_SEP_TECH, value=1e6),
        escalate("licence_required", "military"),
        "military-end-users",
        "licence for a military end user: refused in principle",
        end_use="military",
    ),
    Case(
        "cn-tech-abroad-civil",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP_WITH_CN_SEP_TECH, value=1e6),
        escalate("licence_required", "civil"),
        "chinese-technology",
        "civil end use: the licence requirement stands",
        end_use="civil",
    ),
    Case(
        "cn-tech-abroad-dual-use",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP_WITH_CN_SEP_TECH, value=1e6),
        escalate("licence_required", "dual-use"),
        "chinese-technology",
        "dual-use: reviewed, not refused in principle",
        end_use="dual-use",
    ),
    Case(
        "pass-military",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(AU_JP, value=1000.0),
        "pass",
        None,
        "no licence needed, so nothing to refuse for a military user",
        end_use="military",
    ),
    Case(
        "value-military",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET, value=500.0),
        escalate(by_value(0.01 * DY_USD, 500.0), "military"),
        "military-end-users",
        "$1 of $500 = 0.2%, military user",
        end_use="military",
    ),
    # --- untraced feed: one portion however many stages it passes -------------------------------------
    Case(
        "untraced-20-through-two-stages",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(
            [
                (0.2, {"beneficiation": "JP", "separation": "JP", "metallization": "JP", "magnet": "JP"}),
                (0.8, AU_JP),
            ],
            dy_kg=0.1,
            value=2500.0,
        ),
        by_value(0.1 * DY_USD * 0.2, 2500.0),
        None,
        "20% untraced feed beneficiated then separated: at most 20% Chinese ($2 of $2500 = 0.08%), not 40%",
        finding="chinese-content-by-value",
    ),
    Case(
        "untraced-20-could-cross",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(
            [(0.2, {"separation": "JP", "metallization": "JP", "magnet": "JP"}), (0.8, AU_JP)],
            dy_kg=0.1,
            value=1000.0,
        ),
        "insufficient_data",
        "chinese-content-by-value",
        "0 to $2 of $1000 = 0 to 0.2%: the records cannot tell",
    ),
    Case(
        "untraced-tech-abroad-unknown",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(
            [(0.2, {"separation": "JP", "metallization": "JP", "magnet": "JP"}), (0.8, AU_JP)],
            dy_kg=0.1,
            value=1e6,
        ),
        "insufficient_data",
        "chinese-technology",
        "untraced mining of 20%: whose mining technology is unknown",
    ),
    # --- dates: effective dates and the No. 70 suspension edges ----------------------------------------
    Case(
        "suspension-last-day",
        MOFCOM,
        "2026-11-10",
        lambda: jp_magnet(AU_JP_WITH_CN_SEP_TECH, value=1e6),
        "not_applicable",
        None,
        "suspended by No. 70 until 2026-11-10 inclusive",
    ),
    Case(
        "suspension-day-after",
        MOFCOM,
        "2026-11-11",
        lambda: jp_magnet(AU_JP_WITH_CN_SEP_TECH, value=1e6),
        "licence_required",
        "chinese-technology",
        "binds again the day after the suspension ends",
    ),
    Case(
        "suspension-first-day",
        MOFCOM,
        "2025-11-07",
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "No. 70 suspends from 2025-11-07",
    ),
    Case(
        "clause3-before-suspension",
        MOFCOM,
        "2025-11-06",
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "licence_required",
        "chinese-origin-items",
        "clause I(3) in force from promulgation (2025-10-09)",
    ),
    Case(
        "clause3-promulgation-day",
        MOFCOM,
        "2025-10-09",
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "licence_required",
        "chinese-origin-items",
        "in force on 2025-10-09 itself",
    ),
    Case(
        "before-promulgation",
        MOFCOM,
        "2025-10-08",
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "not yet promulgated",
    ),
    Case(
        "clause1-not-yet",
        MOFCOM,
        "2025-10-20",
        lambda: jp_magnet(CN_SEP_MAGNET, value=100.0),
        "not_applicable",
        None,
        "clauses I(1)-(2) from 2025-12-01; clause I(3) covers only items made in China",
    ),
    # --- clause I(3): Annex items vs finished products ----------------------------------------------------
    Case(
        "clause3-oxide",
        MOFCOM,
        TODAY,
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "licence_required",
        "chinese-origin-items",
        "Dy oxide originating in China is an Annex item",
    ),
    Case(
        "clause3-magnet-made-in-china",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(magnet_stages({"mining": "CN", "separation": "CN"}, "CN", "CN"), made_in="CN"),
        "licence_required",
        "chinese-origin-items",
        "a Chinese NdFeB magnet with Dy: magnet materials are Annex items",
    ),
    Case(
        "clause3-finished-product",
        MOFCOM,
        TODAY,
        lambda: jp_magnet(
            magnet_stages({"mining": "CN", "separation": "CN"}, "CN", "CN"), made_in="CN", form="product"
        ),
        "not_applicable",
        None,
        "a finished product with a built-in magnet is deeply processed, not an Annex item",
    ),
    Case(
        "clause3-nd-only-oxide",
        MOFCOM,
        TODAY,
        lambda: oxide("Nd", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "Nd oxide: no controlled element",
    ),
    Case(
        "clause3-military",
        MOFCOM,
        TODAY,
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "fail",
        "military-end-users",
        "clause I(3) licence for a military user",
        end_use="military",
    ),
    # --- No. 18 and No. 57 --------------------------------------------------------------------------------
    Case(
        "no18-dy-oxide-in-china",
        NO18,
        TODAY,
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "licence_required",
        "export-licence",
        "Dy oxide exported from China",
    ),
    Case(
        "no18-nd-oxide",
        NO18,
        TODAY,
        lambda: oxide("Nd", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "Nd is not among Sm, Gd, Tb, Dy, Lu, Sc, Y",
    ),
    Case(
        "no18-held-abroad",
        NO18,
        TODAY,
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}, held_in="JP"),
        "not_applicable",
        None,
        "held in Japan: not an export from China",
    ),
    Case(
        "no18-ho-oxide",
        NO18,
        TODAY,
        lambda: oxide("Ho", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "Ho is No. 57's, never No. 18's",
    ),
    Case(
        "no18-before",
        NO18,
        "2025-04-03",
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "No. 18 in force from 2025-04-04",
    ),
    Case(
        "no18-first-day",
        NO18,
        "2025-04-04",
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "licence_required",
        "export-licence",
        "in force on publication",
    ),
    Case(
        "no57-ho-today",
        NO57,
        TODAY,
        lambda: oxide("Ho", {"mining": "CN", "separation": "CN"}),
        "licence_required",
        "export-licence",
        "suspension ended 2026-11-10: Ho oxide export needs a licence",
    ),
    Case(
        "no57-ho-suspended",
        NO57,
        "2026-11-10",
        lambda: oxide("Ho", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "suspended until 2026-11-10 inclusive",
    ),
    Case(
        "no57-before-effect",
        NO57,
        "2025-11-07",
        lambda: oxide("Er", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "effective 2025-11-08, suspended from 2025-11-07",
    ),
    Case(
        "no57-dy-oxide",
        NO57,
        TODAY,
        lambda: oxide("Dy", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "Dy is No. 18's",
    ),
    # --- DFARS: covered material, the 2027 switch ---------------------------------------------------------
    Case(
        "dfars-cn-oxide-2026",
        DFARS,
        "2026-12-31",
        lambda: jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET),
        "pass",
        None,
        "until 2026-12-31 only melting and magnet making count; both in JP",
    ),
    Case(
        "dfars-cn-oxide-2027",
        DFARS,
        "2027-01-01",
        lambda: jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET),
        "fail",
        "any-stage-from-2027",
        "from 2027-01-01 'mined, refined, separated' count: separated in CN",
    ),
    Case(
        "dfars-cn-melted-2026",
        DFARS,
        "2026-06-01",
        lambda: jp_magnet(
            magnet_stages({"mining": "AU", "separation": "JP"}, metal="CN"),
            nd=magnet_stages({"mining": "AU", "separation": "JP"}, metal="CN"),
        ),
        "fail",
        "melted-or-produced",
        "melted (metallization) in China",
    ),
    Case(
        "dfars-all-allied-2027",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(AU_JP),
        "pass",
        None,
        "every stage in AU/JP",
    ),
    Case(
        "dfars-untraced-mining-2027",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet([(0.1, {"separation": "JP", "metallization": "JP", "magnet": "JP"}), (0.9, AU_JP)]),
        "insufficient_data",
        "any-stage-from-2027",
        "10% untraced: may have been mined in a covered country",
    ),
    Case(
        "dfars-oxide-out-of-scope",
        DFARS,
        "2027-06-01",
        lambda: oxide("Nd", {"mining": "CN", "separation": "CN"}),
        "not_applicable",
        None,
        "an oxide is not a magnet (no magnet stage performed)",
    ),
    # --- DFARS end items made in covered countries -------------------------------------------------------
    Case(
        "dfars-motor-assembled-in-china",
        DFARS,
        "2026-06-01",
        lambda: jp_magnet(AU_JP, made_in="CN", form="component", mass_kg=10.0),
        "fail",
        "end-item-made-in-covered-country",
        "end item manufactured in China around a Japanese magnet",
    ),
    Case(
        "dfars-motor-assembled-in-russia-2027",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(AU_JP, made_in="RU", form="product", mass_kg=10.0),
        "fail",
        "end-item-made-in-covered-country",
        "system manufactured in Russia",
    ),
    Case(
        "dfars-motor-assembled-in-us",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(AU_JP, made_in="US", form="component", mass_kg=10.0),
        "pass",
        None,
        "assembled in the US around an allied magnet",
    ),
    # --- DFARS exceptions -----------------------------------------------------------------------------------
    Case(
        "dfars-recycled-us",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(
            {**CN_SEP_MAGNET, "metallization": "CN", "magnet": "US", "recycling": "US"},
            nd={**CN_SEP_MAGNET, "metallization": "CN", "magnet": "US", "recycling": "US"},
            made_in="US",
        ),
        "pass",
        "recycled-ndfeb",
        "recycled and sintered in the US: 4872(c)(3)(C) lifts the restriction",
    ),
    Case(
        "dfars-recycled-magnet-abroad",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(
            {**CN_SEP_MAGNET, "metallization": "CN", "magnet": "JP", "recycling": "US"},
            nd={**CN_SEP_MAGNET, "metallization": "CN", "magnet": "JP", "recycling": "US"},
        ),
        "fail",
        "any-stage-from-2027",
        "recycled in the US but sintered in Japan: the exception needs both in the US",
    ),
    Case(
        "dfars-cots-2026",
        DFARS,
        "2026-06-01",
        lambda: jp_magnet(magnet_stages(AU_CN_SEP, metal="CN"), nd=magnet_stages(AU_CN_SEP, metal="CN")),
        "pass",
        "cots-until-2026",
        "COTS until 2026: excluded only if 50% or more tungsten",
        assertions=frozenset({"cots"}),
    ),
    Case(
        "dfars-no-cots-2026",
        DFARS,
        "2026-06-01",
        lambda: jp_magnet(magnet_stages(AU_CN_SEP, metal="CN"), nd=magnet_stages(AU_CN_SEP, metal="CN")),
        "fail",
        "melted-or-produced",
        "the same magnet, COTS not asserted",
    ),
    Case(
        "dfars-cots-2027-light",
        DFARS,
        "2027-06-01",
        lambda: with_magnets(
            jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET, form="component", mass_kg=10.0, made_in="US"), 2.0
        ),
        "pass" if 2.0 / 10.0 < 0.5 else "fail",
        "cots-from-2027",
        "magnets 20% of the COTS item's weight < 50%",
        assertions=frozenset({"cots"}),
    ),
    Case(
        "dfars-cots-2027-heavy",
        DFARS,
        "2027-06-01",
        lambda: with_magnets(
            jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET, form="component", mass_kg=10.0, made_in="US"), 6.0
        ),
        "pass" if 6.0 / 10.0 < 0.5 else "fail",
        "any-stage-from-2027",
        "magnets 60% of the weight: '50 percent or more covered material'",
        assertions=frozenset({"cots"}),
    ),
    Case(
        "dfars-cots-2027-half",
        DFARS,
        "2027-06-01",
        lambda: with_magnets(
            jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET, form="component", mass_kg=10.0, made_in="US"), 5.0
        ),
        "pass" if 5.0 / 10.0 < 0.5 else "fail",
        "any-stage-from-2027",
        "exactly 50% is '50 percent or more'",
        assertions=frozenset({"cots"}),
    ),
    Case(
        "dfars-cots-2027-unknown-weight",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET, form="component", mass_kg=10.0, made_in="US"),
        "fail",
        "any-stage-from-2027",
        "magnet weight unknown: the exception cannot be shown",
        assertions=frozenset({"cots"}),
    ),
    Case(
        "dfars-electronic-device",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET, form="component", mass_kg=10.0),
        "pass",
        "electronic-device",
        "4872(c)(3)(B) electronic device",
        assertions=frozenset({"electronic-device"}),
    ),
    Case(
        "dfars-waiver",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET),
        "pass",
        "availability-waiver",
        "4872(c)(1) waiver asserted",
        assertions=frozenset({"waiver"}),
    ),
    Case(
        "dfars-outside-us",
        DFARS,
        "2027-06-01",
        lambda: jp_magnet(CN_SEP_MAGNET, nd=CN_SEP_MAGNET, made_in="CN", form="component", mass_kg=5.0),
        "pass",
        "outside-us",
        "4872(c)(2) procured and used abroad",
        assertions=frozenset({"outside-us"}),
    ),
    # --- EU CRMA 65% benchmark, over an intake of two lots (a single lot only explains itself) -------
    *[
        Case(
            f"crma-{round(cn * 100)}",
            CRMA,
            TODAY,
            (
                lambda cn=cn: intake(
                    (cn, {"mining": "SE", "separation": "CN"}), (1 - cn, {"mining": "SE", "separation": "FR"})
                )
            ),
            "fail" if cn > CRMA_MAX else "pass",
            "single-third-country" if cn > CRMA_MAX else None,
            f"{cn:.0%} of the intake's Nd separated in CN: 'not more than 65%' from one third country",
        )
        for cn in (0.64, 0.65, 0.66)
    ],
    Case(
        "crma-untraced-could-cross",
        CRMA,
        TODAY,
        lambda: intake(
            (0.6, {"mining": "CN", "separation": "FR"}),
            (0.1, {"separation": "FR"}),
            (0.3, {"mining": "SE", "separation": "FR"}),
        ),
        "insufficient_data",
        "single-third-country",
        "60% of the intake mined in CN; the untraced 10% could make it 70%",
    ),
    Case(
        "crma-single-lot-explains-itself",
        CRMA,
        TODAY,
        lambda: [oxide("Nd", {"mining": "CN", "separation": "CN"}, made_in="FR", held_in="FR")],
        "not_applicable",
        None,
        "a benchmark of a year's intake, not of one lot: it says what the lot alone would be",
    ),
    # --- the consortium --------------------------------------------------------------------------------
    Case(
        "consortium-members",
        CONSORTIUM,
        TODAY,
        lambda: jp_magnet(AU_JP),
        "pass",
        None,
        "AU and JP are MSP partners",
    ),
    Case(
        "consortium-china",
        CONSORTIUM,
        TODAY,
        lambda: jp_magnet(CN_SEP_MAGNET),
        "fail",
        "member-countries",
        "separated in CN",
    ),
    Case(
        "consortium-untraced",
        CONSORTIUM,
        TODAY,
        lambda: jp_magnet(
            [(0.05, {"separation": "JP", "metallization": "JP", "magnet": "JP"}), (0.95, AU_JP)]
        ),
        "fail",
        "member-countries",
        "the scheme certifies nothing it cannot trace",
    ),
]


def test_the_table_covers_what_the_issue_asks() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.regime for c in CASES} == {MOFCOM, NO18, NO57, DFARS, CRMA, CONSORTIUM}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_hand_computed_case(case: Case) -> None:
    regimes = load_regimes()
    item = case.item()
    items = item if isinstance(item, list) else [item]
    ctx = Context(date.fromisoformat(case.day), parse_end_use(case.end_use), hand_prices(), case.assertions)
    verdict = regimes[case.regime].evaluate(items, ctx)
    detail = f"{case.why}\n{verdict.explanation}\n" + "\n".join(
        f"  {f.rule}: {f.outcome.value} — {f.explanation}" for f in verdict.findings
    )
    if case.finding is not None:
        (finding,) = [f for f in verdict.findings if f.rule == case.finding]
        assert finding.outcome.value == case.expect, detail
        return
    assert verdict.outcome.value == case.expect, detail
    if case.clause is not None:
        assert case.clause in verdict.decided_by, detail
    assert verdict.as_of == case.day
    assert verdict.end_use == parse_end_use(case.end_use)
    assert verdict.assertions == tuple(sorted(case.assertions))
