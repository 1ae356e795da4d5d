"""Joint (place, technology) paths: computed at append, rebuilt by migration 0012, and what they decide.

Expected paths are written out by hand from the chain's events (who did which stage where, with whose
technology, and how much of each input went into the blend), not read back from the tool.
"""

from __future__ import annotations

import math
from datetime import date

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from raretrace.custody.namespaces import namespaced
from raretrace.ledger.audit import audit
from raretrace.ledger.compliance import check_lots
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.store import db
from raretrace.store.db import make_engine
from tests.chain_fixtures import new_registry

# each lot in its maker's namespace, as a registry requires by default
ORE = namespaced("lot", "AU-MINE", "au-ore")
CN_OX = namespaced("lot", "CN-SEP", "cn-oxide")
JP_OX = namespaced("lot", "JP-SEP", "jp-oxide")
JP_CNTECH_OX = namespaced("lot", "JP-SEP-CN", "jp-cntech-oxide")
MAGNET_OK = namespaced("lot", "JP-MAG", "magnet-cn-tech-in-cn")
MAGNET_CNTECH = namespaced("lot", "JP-MAG", "magnet-cn-tech-abroad")
MAGNET_UNTRACED = namespaced("lot", "JP-MAG", "magnet-untraced-feed")
DY_OXIDE = {"Dy": 0.8, "Nd": 0.05}
DAY = date(2026, 12, 6)


def _build(url: str) -> ScriptedChain:
    """Australian ore separated three ways (China with Chinese technology, Japan with its own, Japan
    with Chinese technology), then blended 50/50 into magnets in Japan; and one magnet with untraced feed."""
    chain = ScriptedChain(new_registry(url))
    chain.add_facility("AU-MINE", country="AU", stages=["mining"])
    chain.add_facility("CN-SEP", country="CN", stages=["separation"])
    chain.add_facility("JP-SEP", country="JP", stages=["separation"])
    chain.add_facility("JP-SEP-CN", country="JP", stages=["separation"], technology={"separation": "CN"})
    chain.add_facility("JP-MAG", country="JP", stages=["magnet"])
    for separator, oxide in (("CN-SEP", CN_OX), ("JP-SEP", JP_OX), ("JP-SEP-CN", JP_CNTECH_OX)):
        ore = f"{ORE}-{separator.lower()}"
        chain.record(
            "AU-MINE",
            "extract",
            deposit="Mount Weld",
            outputs=[lot(ore, "concentrate", 1000.0, {"Dy": 0.01, "Nd": 0.1})],
        )
        chain.ship("AU-MINE", separator, [ore])
        chain.record(
            separator,
            "process",
            stage="separation",
            inputs=[{"lot": ore, "mass_kg": 1000.0}],
            outputs=[lot(oxide, "separated_oxide", 12.0, DY_OXIDE)],
        )
        chain.ship(separator, "JP-MAG", [oxide])
    for magnet, (first, second) in ((MAGNET_OK, (CN_OX, JP_OX)), (MAGNET_CNTECH, (CN_OX, JP_CNTECH_OX))):
        chain.record(
            "JP-MAG",
            "process",
            stage="magnet",
            inputs=[{"lot": first, "mass_kg": 5.0}, {"lot": second, "mass_kg": 5.0}],
            additions=[{"material": "iron", "mass_kg": 30.0, "composition": {"Fe": 1.0}}],
            outputs=[
                lot(
                    magnet,
                    "magnet",
                    40.0,
                    {"Dy": 0.2, "Nd": 0.0125, "Fe": 0.75},
                    declared_value={"amount": 8000.0, "currency": "USD"},
                )
            ],
        )
    # 20% of the Dy arrives as untraced feed (2 kg of 10 kg)
    chain.record(
        "JP-MAG",
        "process",
        stage="magnet",
        inputs=[{"lot": JP_OX, "mass_kg": 2.0}],
        additions=[
            {"material": "untraced Dy oxide", "mass_kg": 0.5, "composition": {"Dy": 0.8}},
            {"material": "iron", "mass_kg": 7.5, "composition": {"Fe": 1.0}},
        ],
        outputs=[
            lot(
                MAGNET_UNTRACED,
                "magnet",
                10.0,
                {"Dy": 0.2, "Fe": 0.75},
                declared_value={"amount": 2000.0, "currency": "USD"},
            )
        ],
    )
    return chain


EXPECTED = {
    # each magnet: 5 kg of each oxide, 4 kg Dy each: 50/50 by Dy mass
    MAGNET_OK: {
        "mi=AU|se=CN|ma=JP": 0.5,
        "mi=AU|se=JP|ma=JP": 0.5,
    },
    MAGNET_CNTECH: {
        "mi=AU|se=CN|ma=JP": 0.5,
        "mi=AU|se=JP@CN|ma=JP": 0.5,
    },
    # 1.6 kg traced Dy (2 kg oxide x 0.8) and 0.4 kg untraced (0.5 kg x 0.8): 80/20
    MAGNET_UNTRACED: {"mi=AU|se=JP|ma=JP": 0.8, "ma=JP": 0.2},
}


def _paths(chain: ScriptedChain, lot_id: str) -> dict[str, float]:
    return dict(chain.registry.lot(lot_id).origin()["Dy"]["paths"])


def _assert_paths(found: dict[str, float], expected: dict[str, float]) -> None:
    assert set(found) == set(expected)
    for key, share in expected.items():
        assert math.isclose(found[key], share, rel_tol=1e-9), key


def test_append_computes_joint_paths_by_element_mass(db_url: str) -> None:
    chain = _build(db_url)
    for lot_id, expected in EXPECTED.items():
        _assert_paths(_paths(chain, lot_id), expected)


def test_chinese_technology_counts_only_where_used_abroad(db_url: str) -> None:
    """Marginals alone give 50% Chinese separation technology and 50% separation in China for both
    magnets; only the pairing tells the first (Chinese technology used in China) from the second."""
    registry = _build(db_url).registry
    ok, cn_tech = check_lots(registry, [MAGNET_OK, MAGNET_CNTECH], regimes=["cn-mofcom-61-2025"], as_of=DAY)
    tech = {
        v.subject[0]: next(f for f in v.findings if f.rule == "chinese-technology") for v in (ok, cn_tech)
    }
    assert tech[MAGNET_OK].outcome.value == "pass"
    assert tech[MAGNET_CNTECH].outcome.value == "licence_required"
    # half of the Dy and half of the Nd (each oxide brings both) went through the Chinese-technology
    # separator in Japan: half of the rare-earth mass, exactly
    assert math.isclose(tech[MAGNET_CNTECH].figures["share_lower"], 0.5)
    assert math.isclose(tech[MAGNET_CNTECH].figures["share_upper"], 0.5)
    # clause I(1): Chinese-separated Dy is 4 kg x $price; far above 0.1% of $8000 at any Dy price
    value = next(f for f in ok.findings if f.rule == "chinese-content-by-value")
    assert value.outcome.value == "licence_required"
    assert ok.decided_by == ("chinese-content-by-value",)


def _downgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.__file__).replace("db.py", "migrations"))
    with db.write_transaction(make_engine(url)) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_migration_0012_rebuilds_joint_paths_from_the_events(db_url: str) -> None:
    chain = _build(db_url)
    registry = chain.registry
    with registry.engine.connect() as conn:
        before = dict(conn.execute(text("SELECT id, origin FROM lots ORDER BY id")).all())
    _downgrade(db_url, "0011")
    with registry.engine.connect() as conn:
        stripped = dict(conn.execute(text("SELECT id, origin FROM lots ORDER BY id")).all())
    assert all('"paths"' not in (origin or "") for origin in stripped.values())
    assert all('"location"' in origin for origin in stripped.values() if origin)  # what 0011 reads
    db.migrate(registry.engine)
    with registry.engine.connect() as conn:
        after = dict(conn.execute(text("SELECT id, origin FROM lots ORDER BY id")).all())
    assert after == before  # byte for byte what the append path computed
    for lot_id, expected in EXPECTED.items():
        _assert_paths(_paths(chain, lot_id), expected)
    result = audit(registry)
    assert result.ok, result.problems


@pytest.mark.parametrize("bad", [{"": 0.5}, {"mi=AU|xx": 1.0}, {"se=JP|mi=AU": 1.0}, {"": 1.5}, []])
def test_a_certificate_with_malformed_paths_is_refused(bad: object) -> None:
    from raretrace.errors import ValidationError
    from raretrace.provenance import check_paths

    with pytest.raises(ValidationError) as caught:
        check_paths(bad, "certificate.lots[0].origin.Dy.paths")
    assert caught.value.field == "certificate.lots[0].origin.Dy.paths"


def test_trace_up_gives_each_sources_share_of_each_element(db_url: str) -> None:
    """A 30/70 blend by gross mass is not 30/70 by element; untraced feed added upstream and at the
    blend takes its part. Expected figures worked out from the declared compositions below."""
    from tests.trace_json import up_json

    ore_a, ore_b = namespaced("lot", "MINE-A", "ore-a"), namespaced("lot", "MINE-B", "ore-b")
    ox_a, ox_b = namespaced("lot", "SEP", "ox-a"), namespaced("lot", "SEP", "ox-b")
    magnet = namespaced("lot", "MAG", "magnet")
    chain = ScriptedChain(new_registry(db_url))
    chain.add_facility("MINE-A", country="AU", stages=["mining"])
    chain.add_facility("MINE-B", country="CA", stages=["mining"])
    chain.add_facility("SEP", country="JP", stages=["separation"])
    chain.add_facility("MAG", country="JP", stages=["magnet"])
    chain.record(
        "MINE-A", "extract", deposit="A", outputs=[lot(ore_a, "ore", 100.0, {"Nd": 0.2, "Dy": 0.04})]
    )
    chain.record(
        "MINE-B", "extract", deposit="B", outputs=[lot(ore_b, "ore", 100.0, {"Nd": 0.1, "Dy": 0.02})]
    )
    chain.ship("MINE-A", "SEP", [ore_a])
    chain.ship("MINE-B", "SEP", [ore_b])
    chain.record(  # A: 20 kg Nd, 4 kg Dy, all traced
        "SEP",
        "process",
        stage="separation",
        inputs=[{"lot": ore_a, "mass_kg": 100.0}],
        outputs=[lot(ox_a, "separated_oxide", 40.0, {"Nd": 0.5, "Dy": 0.1})],
    )
    chain.record(  # B: 10 kg traced Nd + 10 kg untraced Nd; 2 kg traced Dy
        "SEP",
        "process",
        stage="separation",
        inputs=[{"lot": ore_b, "mass_kg": 100.0}],
        additions=[{"material": "untraced Nd", "mass_kg": 10.0, "composition": {"Nd": 1.0}}],
        outputs=[lot(ox_b, "separated_oxide", 100.0, {"Nd": 0.2, "Dy": 0.02})],
    )
    chain.ship("SEP", "MAG", [ox_a, ox_b])
    chain.record(  # 30 kg A (15 Nd, 3 Dy) + 70 kg B (14 Nd, 1.4 Dy) + 2 kg untraced Nd
        "MAG",
        "process",
        stage="magnet",
        inputs=[{"lot": ox_a, "mass_kg": 30.0}, {"lot": ox_b, "mass_kg": 70.0}],
        additions=[{"material": "untraced Nd metal", "mass_kg": 2.0, "composition": {"Nd": 1.0}}],
        outputs=[lot(magnet, "magnet", 100.0, {"Nd": 0.31, "Dy": 0.044})],
    )
    result = up_json(chain.registry, magnet, by_element=True)
    assert "element_shares" not in up_json(chain.registry, magnet)["sources"][0]
    sources = {s["lot"]: s for s in result["sources"]}
    assert math.isclose(sources[ore_a]["share"], 0.3) and math.isclose(sources[ore_b]["share"], 0.7)
    expected_nd = {ore_a: 15 / 31, ore_b: 14 / 31 * 0.5}
    expected_dy = {ore_a: 3 / 4.4, ore_b: 1.4 / 4.4}
    for source, share in expected_nd.items():
        assert math.isclose(sources[source]["element_shares"]["Nd"], share, rel_tol=1e-9)
    for source, share in expected_dy.items():
        assert math.isclose(sources[source]["element_shares"]["Dy"], share, rel_tol=1e-9)
    assert math.isclose(result["untraced_by_element"]["Nd"], 2 / 31 + 7 / 31, rel_tol=1e-9)
    assert result["untraced_by_element"]["Dy"] == 0
