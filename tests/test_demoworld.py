"""The demo world: it builds, its stage shares match the published ones, and the real checks catch
each of its four cases (a check that stops catching one makes these tests fail)."""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.demoworld import WorldFindings, WorldSummary, build_world, findings, load_demo_data
from raretrace.demoworld.data import DemoData
from raretrace.demoworld.summary import DFARS_BEFORE, DFARS_FROM, MOFCOM_AS_OF, MOFCOM_SUSPENDED_ON
from raretrace.elements import REE_SYMBOLS as REE
from raretrace.errors import ValidationError
from raretrace.ledger.audit import audit
from raretrace.ledger.compliance import check_lots
from raretrace.ledger.registry import Registry
from raretrace.store.db import make_engine
from raretrace.world.data import WorldData

SCALE = 0.1  # about 900 lots: seconds, not the full world's ~9,000 (benchmarks/bench_demoworld.py)
MOFCOM = "cn-mofcom-61-2025"
DFARS = "us-dfars-252.225-7052"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, WorldSummary, WorldFindings]]:
    folder = tmp_path_factory.mktemp("world")
    registry = Registry.init(make_engine(str(folder / "world.db")), "demo.raretrace.example/world")
    summary = build_world(registry, seed=0, scale=SCALE, folder=folder / "certificates")
    yield registry, summary, findings(registry, summary)
    registry.engine.dispose()


# --- the world ----------------------------------------------------------------------------------------


def test_the_world_builds_every_stage_and_passes_the_audit(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    registry, summary, _ = world
    forms = summary.lots_by_form
    for form in (
        "ore",
        "concentrate",
        "mixed_oxide",
        "separated_oxide",
        "metal",
        "alloy",
        "magnet",
        "component",
        "product",
    ):
        assert forms.get(form, 0) > 0, form
    assert summary.lots == sum(forms.values()) > 800
    assert registry.tree_size() == summary.events
    assert audit(registry).ok


def test_named_plants_are_registered_with_their_countries(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    registry, _, _ = world
    from sqlalchemy import select

    from raretrace.store import schema as t

    with registry.engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(t.facilities))}
    expected = {
        "CN-BAYAN-OBO": "CN", "US-MP-MOUNTAIN-PASS": "US", "AU-LYNAS-MOUNT-WELD": "AU", "MM-KACHIN": "MM",
        "RU-LOVOZERO": "RU", "BR-SERRA-VERDE": "BR", "ZA-STEENKAMPSKRAAL": "ZA", "MY-LYNAS-KUANTAN": "MY",
        "FR-SOLVAY-LA-ROCHELLE": "FR", "EE-NEO-SILMET": "EE", "CN-JL-MAG": "CN", "JP-SHIN-ETSU": "JP",
        "JP-PROTERIAL": "JP", "JP-TDK": "JP", "DE-VAC-HANAU": "DE", "US-EVAC-SUMTER": "US",
        "EE-NEO-NARVA": "EE", "US-MP-INDEPENDENCE": "US", "US-NOVEON": "US", "US-USA-RARE-EARTH": "US",
        "US-LM-FORT-WORTH": "US", "US-GD-ELECTRIC-BOAT": "US", "US-BOEING-ST-CHARLES": "US",
    }  # fmt: skip
    assert {i: rows[i].country for i in expected} == expected
    assert json.loads(rows["MY-LYNAS-KUANTAN"].technology) == {"separation": "AU"}


def test_defense_platforms_carry_their_published_rare_earth_content(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    """An F-35, a DDG-51 and a Virginia-class boat each hold the rare earths CRS R41744 gives."""
    registry, summary, _ = world
    published = {p.platform: p.kg for p in WorldData.load().platforms}
    names = {"f35": "F-35 Lightning II", "ddg51": "DDG-51 Arleigh Burke-class destroyer",
             "virginia": "SSN-774 Virginia-class submarine"}  # fmt: skip
    seen = set()
    for lot_id in summary.military_systems:
        kind = lot_id.rsplit(":", 1)[-1].rsplit("-", 1)[0]  # urn:raretrace:lot:<plant>:<kind>-<serial>
        if kind in names:
            lot = registry.lot(lot_id)
            ree = sum(lot.spec.element_mass(e) for e in lot.spec.composition.fractions if e in REE)
            assert ree == pytest.approx(published[names[kind]], rel=0.01), lot_id
            seen.add(kind)
    assert seen == set(names)


def test_stage_shares_by_country_are_close_to_the_published_ones(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    """Measured from the recorded lots: China's share of mining, separation and magnets lies within the
    tolerance that data/world/stage_shares.json states for the seed figures (3 percentage points), and
    the mining shares by country are USGS's 2024 shares (within 0.5 point)."""
    _, _, found = world
    seed = WorldData.load().seed
    assert seed.tolerance_pp == 3.0
    assert {(s.stage, s.country) for s in found.shares} == {
        ("mining", "CN"),
        ("separation", "CN"),
        ("magnet", "CN"),
    }
    for share in found.shares:
        assert abs(share.measured - share.published) * 100 <= seed.tolerance_pp, share
        assert share.within
    usgs = {
        p.country: p.t_reo for p in WorldData.load().production if p.year == 2024 and p.country != "other"
    }
    total = sum(usgs.values())
    for country, t_reo in usgs.items():
        assert found.stage_shares["mining"].get(country, 0.0) == pytest.approx(t_reo / total, abs=0.005), (
            country
        )


# --- the four cases ---------------------------------------------------------------------------------


def test_case_a_false_declared_origin_is_caught_by_the_fingerprint(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    registry, summary, found = world
    case = summary.false_origin
    assert registry.lot(case.ore).deposit == "mount-weld"  # what the mine declared
    finding = found.case("a")
    assert finding.caught, finding
    assert found.fingerprints[case.ore] == "inconsistent"
    assert finding.details["consortium_fingerprint_rule"] == "fail"
    # the lie travels: a magnet made downstream fails the same rule, naming the ore
    assert finding.details["downstream_magnets"] > 0
    assert finding.details["downstream_magnet_fingerprint_rule"] == "fail"
    assert case.ore in finding.explanation


def test_case_b_chinese_technology_abroad_needs_a_mofcom_licence(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    registry, summary, found = world
    magnet = summary.chinese_technology.magnet
    assert found.case("b").caught
    [verdict] = check_lots(registry, [magnet], regimes=[MOFCOM], as_of=MOFCOM_AS_OF)
    outcomes = {f.rule: f.outcome.value for f in verdict.findings}
    assert verdict.outcome.value == "licence_required"
    assert outcomes["chinese-technology"] == "licence_required"
    assert outcomes["chinese-content-by-value"] == "pass"  # no Chinese material in it: technology alone
    [suspended] = check_lots(registry, [magnet], regimes=[MOFCOM], as_of=MOFCOM_SUSPENDED_ON)
    assert suspended.outcome.value == "not_applicable"
    origin = registry.lot(magnet).origin()["Nd"]
    assert origin["location"]["separation"] == {"MY": 1.0}
    assert origin["technology"]["magnet"] == {"CN": 1.0}
    # DFARS looks at where, not whose technology: this magnet passes it in both periods
    for day in (DFARS_BEFORE, DFARS_FROM):
        [dfars] = check_lots(registry, [magnet], regimes=[DFARS], as_of=day, end_use="military")
        assert dfars.outcome.value == "pass", day


def test_case_c_defense_magnet_fails_dfars_from_2027_only(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    registry, summary, found = world
    case = summary.defense_magnet
    assert found.case("c").caught
    assert case.system, "the case magnets went into an F-35"
    nd = registry.lot(case.magnet).origin()["Nd"]["location"]
    assert (nd["separation"], nd["metallization"], nd["magnet"]) == ({"CN": 1.0}, {"JP": 1.0}, {"US": 1.0})
    for lot_id in (case.magnet, case.system):
        [before] = check_lots(registry, [lot_id], regimes=[DFARS], as_of=DFARS_BEFORE, end_use="military")
        [after] = check_lots(registry, [lot_id], regimes=[DFARS], as_of=DFARS_FROM, end_use="military")
        assert before.outcome.value == "pass", lot_id
        assert after.outcome.value == "fail", lot_id
        rule = next(f for f in after.findings if f.rule == "any-stage-from-2027")
        assert any(e.stage == "separation" and e.country == "CN" for e in rule.evidence)


def test_case_d_tampered_certificates_fail_at_the_step_that_names_them(
    world: tuple[Registry, WorldSummary, WorldFindings],
) -> None:
    """As a customs officer would: the files on disk, verified offline."""
    _, summary, found = world
    files = summary.certificate.files
    trusted = TrustedKeys.from_dict(json.loads(Path(files["trusted-keys"]).read_text()))
    genuine = verify_certificate(json.loads(Path(files["certificate"]).read_text()), trusted)
    assert genuine.ok
    failed = {
        name: verify_certificate(json.loads(Path(files[name]).read_text()), trusted).failed()
        for name in ("origin-relabelled", "mass-inflated")
    }
    assert {n: (s.number, s.name) for n, s in failed.items() if s} == {
        "origin-relabelled": (1, "credential proof"),
        "mass-inflated": (2, "disclosures"),
    }
    assert found.case("d").caught


# --- findings are computed, not recorded ----------------------------------------------------------


def test_findings_say_when_a_check_stops_catching(
    world: tuple[Registry, WorldSummary, WorldFindings], monkeypatch: pytest.MonkeyPatch
) -> None:
    registry, summary, _ = world
    # (d): "tampered" copies that are in fact genuine are not caught
    genuine = copy.deepcopy(summary.certificate.certificate)
    untampered = replace(
        summary,
        certificate=replace(
            summary.certificate, tampered=dict.fromkeys(summary.certificate.tampered, genuine)
        ),
    )
    assert not findings(registry, untampered).case("d").caught
    # (b): checked inside the MOFCOM suspension, the rule does not bind: not caught
    module = importlib.import_module("raretrace.demoworld.findings")  # the package exports the function
    monkeypatch.setattr(module, "MOFCOM_AS_OF", MOFCOM_SUSPENDED_ON)
    assert not findings(registry, summary).case("b").caught


def test_the_same_seed_builds_the_same_world(tmp_path: Path) -> None:
    def build(name: str) -> tuple[WorldSummary, list[tuple[str, float]]]:
        registry = Registry.init(make_engine(str(tmp_path / name)), "demo.raretrace.example/world")
        summary = build_world(registry, seed=7, scale=0.05)
        from sqlalchemy import select

        from raretrace.store import schema as t

        with registry.engine.connect() as conn:
            lots = [
                (r.id, r.mass_kg)
                for r in conn.execute(select(t.lots.c.id, t.lots.c.mass_kg).order_by(t.lots.c.id))
            ]
        registry.engine.dispose()
        return summary, lots

    (first, lots_a), (second, lots_b) = build("a.db"), build("b.db")
    assert lots_a == lots_b
    assert first.lots_by_form == second.lots_by_form


def test_the_world_builds_on_every_back_end(db_url: str) -> None:
    registry = Registry.init(make_engine(db_url), "demo.raretrace.example/world")
    reports: list[tuple[str, int]] = []
    summary = build_world(
        registry, seed=1, scale=0.05, progress=lambda stage, lots: reports.append((stage, lots))
    )
    found = findings(registry, summary)
    assert [c.case for c in found.cases if c.caught] == ["a", "b", "c", "d"]
    # progress names each stage as it starts and counts the lots appended so far
    stages = list(dict.fromkeys(stage for stage, _ in reports))
    assert stages[:3] == ["facilities", "mining", "beneficiation"] and stages[-1] == "certificates"
    assert [n for _, n in reports] == sorted(n for _, n in reports)
    assert reports[-1] == ("certificates", summary.lots)


# --- data ------------------------------------------------------------------------------------------


def test_every_row_names_its_source() -> None:
    data = load_demo_data()
    assert len(data.plants) > 50
    for plant in data.plants:
        assert plant.source.strip(), plant.id
    for route in data.routes:
        assert route.cited.strip() and route.basis in ("published", "derived", "illustrative"), route
    for item in (*data.components, *data.systems):
        assert item.source.strip(), item.id
    # where no figure is published, the row says so
    assert load_demo_data().plant("CN-JL-MAG").illustrative
    assert load_demo_data().plant("US-MP-INDEPENDENCE").capacity == {
        "value": 1000, "unit": "t NdFeB per year", "basis": "published"
    }  # fmt: skip


def test_a_bad_row_is_named() -> None:
    from importlib import resources

    folder = resources.files("raretrace").joinpath("data/demoworld")
    docs = {
        n: json.loads(folder.joinpath(n).read_text())
        for n in ("facilities.json", "flows.json", "products.json")
    }
    docs["facilities.json"]["facilities"][2]["country"] = "China"
    with pytest.raises(
        ValidationError, match=r"facilities.json: facilities\[2\].country: 'China' is not an ISO"
    ):
        DemoData.from_dicts(docs)
    docs = {
        n: json.loads(folder.joinpath(n).read_text())
        for n in ("facilities.json", "flows.json", "products.json")
    }
    docs["flows.json"]["routes"][0]["to"] = {"NOWHERE": 1}
    with pytest.raises(ValidationError, match=r"flows.json: routes\[0\].to: no plant 'NOWHERE'"):
        DemoData.from_dicts(docs)


def test_scale_is_checked(tmp_path: Path) -> None:
    registry = Registry.init(make_engine(str(tmp_path / "r.db")), "demo.raretrace.example/world")
    with pytest.raises(ValidationError, match="scale"):
        build_world(registry, scale=0)
    assert registry.tree_size() == 0


def test_only_an_empty_registry_is_built_into(world: tuple[Registry, WorldSummary, WorldFindings]) -> None:
    registry, summary, _ = world
    with pytest.raises(ValidationError, match=f"already holds {summary.events} events"):
        build_world(registry, scale=0.05)
    assert registry.tree_size() == summary.events
