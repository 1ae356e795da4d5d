"""Checking lots recorded in a registry: verdicts from the stored origin vectors, several lots at once,
the CLI, and a check never writes anything."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from raretrace.errors import NotFoundError
from raretrace.ledger.compliance import check_lots
from raretrace.ledger.scripted import JP_CHAIN, US_CHAIN, ScriptedChain, two_reference_chains
from raretrace.rules import Outcome
from tests.chain_fixtures import new_registry, snapshot
from tests.rules_helpers import hand_prices
from tests.test_cli import Cli

JP_MAGNET = JP_CHAIN.magnet
US_MAGNET = US_CHAIN.magnet
AU_CONC = US_CHAIN.concentrate


def two_chains(db_url: str) -> ScriptedChain:
    """Bayan Obo → Baotou (separation, metal) → Japan (magnet), and Mount Weld → Malaysia → US."""
    chain = ScriptedChain(new_registry(db_url))
    two_reference_chains(chain)
    return chain


def outcomes(verdicts: list) -> dict[tuple[str, str], str]:  # type: ignore[type-arg]
    return {(v.regime, v.subject[0] if len(v.subject) == 1 else "all"): v.outcome.value for v in verdicts}


def test_reference_chains_under_every_regime(db_url: str) -> None:
    registry = two_chains(db_url).registry
    before = snapshot(registry)
    verdicts = check_lots(registry, [JP_MAGNET, US_MAGNET], as_of=date(2026, 11, 29), prices=hand_prices())
    got = outcomes(verdicts)
    # JP magnet: 6 kg Dy (800 x 0.0075) x $100 = $600, all Chinese-separated, of $60,000: 1% >= 0.1%.
    assert got[("cn-mofcom-61-2025", JP_MAGNET)] == "licence_required"
    assert got[("cn-mofcom-61-2025", US_MAGNET)] == "pass"
    assert got[("us-dfars-252.225-7052", JP_MAGNET)] == "fail"  # metal melted in China
    assert got[("us-dfars-252.225-7052", US_MAGNET)] == "pass"
    assert (
        got[("consortium", JP_MAGNET)] == "fail" and got[("consortium", US_MAGNET)] == "fail"
    )  # MY separation
    assert got[("cn-mofcom-18-2025", JP_MAGNET)] == "not_applicable"
    # The portfolio: Nd+Pr+Dy+... half mined in China, half in Australia: 50% <= 65%.
    assert got[("eu-crma-2030", "all")] == "pass"
    jp61 = next(v for v in verdicts if v.regime == "cn-mofcom-61-2025" and v.subject == (JP_MAGNET,))
    content = next(f for f in jp61.findings if f.rule == "chinese-content-by-value")
    assert content.figures["share_lower"] == pytest.approx(0.01)
    assert snapshot(registry) == before  # a check writes nothing


def test_several_lots_as_one_item(db_url: str) -> None:
    registry = two_chains(db_url).registry
    both = check_lots(
        registry,
        [JP_MAGNET, US_MAGNET],
        regimes=["cn-mofcom-61-2025", "eu-crma-2030"],
        as_of=date(2026, 11, 29),
        prices=hand_prices(),
        as_one=True,
    )
    assert [v.regime for v in both] == ["cn-mofcom-61-2025", "eu-crma-2030"]
    shipment = both[0]
    assert shipment.subject == (JP_MAGNET, US_MAGNET)
    content = next(f for f in shipment.findings if f.rule == "chinese-content-by-value")
    # $600 of Chinese Dy in a $135,000 shipment.
    assert content.figures["share_lower"] == pytest.approx(600 / 135_000)


def test_fingerprints_are_read_from_assays_when_a_regime_asks(db_url: str, tmp_path: Path) -> None:
    registry = two_chains(db_url).registry
    (tmp_path / "fp.toml").write_text(
        'amends = "consortium"\nversion = "1.1"\n'
        'parameters = { fingerprint_required = true, approved = ["MY"] }\n'
        '[[sources]]\ntitle = "test"\n'
    )
    [verdict] = check_lots(
        registry, [US_MAGNET], regimes=["consortium"], regime_folders=[tmp_path], as_of=date(2026, 11, 29)
    )
    fingerprint = next(f for f in verdict.findings if f.rule == "fingerprint")
    # The Australian concentrate's assay gives Nd only: the fingerprint cannot speak (issue 5).
    assert fingerprint.outcome == Outcome.INSUFFICIENT_DATA
    assert [e.note for e in fingerprint.evidence] == ["indeterminate"]
    assert fingerprint.evidence[0].lots == (AU_CONC,)


FINGERPRINT_AMENDMENT = (
    'amends = "consortium"\nversion = "1.1"\n'
    'parameters = { fingerprint_required = true, approved = ["MY"] }\n'
    '[[sources]]\ntitle = "test"\n'
)


@pytest.mark.parametrize(("assayed_as", "expected"), [("mountain-pass", "pass"), ("longnan", "fail")])
def test_consortium_requires_a_consistent_fingerprint(
    db_url: str, tmp_path: Path, assayed_as: str, expected: str
) -> None:
    """Ore declared from Mountain Pass with a full assay: Mountain Pass chemistry is consistent; a
    southern-Chinese ionic clay's (Longnan) contradicts the declared deposit."""
    from tests.chain_fixtures import ORE_LOT, mine_and_separator
    from tests.test_fingerprint import assays

    chain = mine_and_separator(db_url)
    chain.add_facility("US-LAB", country="US", stages=["assay"], accreditation="ISO/IEC 17025:2017")
    ppm, below = assays(assayed_as, 1, seed=7, form="ore")[0]
    results = {"units": "ppm", **ppm, "detection_limits": below}
    chain.record("US-LAB", "assay", lot=ORE_LOT, method="ICP-MS", results=results)
    (tmp_path / "fp.toml").write_text(FINGERPRINT_AMENDMENT)
    [verdict] = check_lots(
        chain.registry, [ORE_LOT], regimes=["consortium"], regime_folders=[tmp_path], as_of=date(2026, 11, 29)
    )
    fingerprint = next(f for f in verdict.findings if f.rule == "fingerprint")
    assert fingerprint.outcome.value == expected, fingerprint.explanation


def test_unknown_lot_is_an_error(db_url: str) -> None:
    registry = two_chains(db_url).registry
    with pytest.raises(NotFoundError, match="urn:raretrace:lot:nope"):
        check_lots(registry, [US_MAGNET, "urn:raretrace:lot:nope"])


def test_cli_check(db_url: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    two_chains(db_url)
    cli = Cli(tmp_path, capsysbinary, db_url)
    data = cli.json(
        "check", JP_MAGNET, "--regime", "cn-mofcom-61-2025", "--as-of", "2026-12-01", "--end-use", "military"
    )
    [verdict] = data["verdicts"]
    assert verdict["outcome"] == "fail" and verdict["regime"] == "cn-mofcom-61-2025"
    assert verdict["version"] == "2025-11-07" and verdict["sources"]
    rules = {f["rule"]: f for f in verdict["findings"]}
    assert rules["chinese-content-by-value"]["evidence"][0]["country"] == "CN"
    assert (
        cli.json("check", JP_MAGNET, "-r", "cn-mofcom-61-2025", "--as-of", "2026-06-01")["verdicts"][0][
            "outcome"
        ]
        == "not_applicable"
    )
    code, out, err = cli("check", JP_MAGNET, US_MAGNET, "--as-of", "2027-01-01", "--details")
    assert code == 0 and b"us-dfars-252.225-7052" in out and b"licence_required" in out
    for args, exit_code, message in [
        (("check", "urn:raretrace:lot:nope"), 5, "does not exist"),
        (("check", JP_MAGNET, "--as-of", "2026-13-01"), 2, "as_of"),
        (("check", JP_MAGNET, "-r", "nope"), 5, "no regime 'nope'"),
        (("check", JP_MAGNET, "--regimes", str(tmp_path / "none")), 5, "does not exist"),
    ]:
        code, out, err = cli(*args)
        assert code == exit_code and message in err and out == b""
    listing = cli.json("regimes")
    assert {r["id"] for r in listing["regimes"]} >= {"consortium", "eu-crma-2030"}
    assert json.dumps(listing)  # one JSON object


def test_cli_end_use_assertions_and_the_pipeline_gate(
    db_url: str, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    """End use is a closed set (aliases map, anything else is refused), verdicts record what they were
    judged for, and --fail-on turns verdicts into exit code 9 for pipelines."""
    chain = two_chains(db_url)
    cli = Cli(tmp_path, capsysbinary, db_url)
    mofcom = ("-r", "cn-mofcom-61-2025", "--as-of", "2026-12-06")
    [verdict] = cli.json("check", JP_MAGNET, *mofcom, "--end-use", "Defence")["verdicts"]
    assert verdict["end_use"] == "military" and verdict["as_of"] == "2026-12-06"
    assert verdict["outcome"] == "fail" and "military-end-users" in verdict["decided_by"]
    assert any("ended 2026-11-10" in n and "no extension recorded" in n for n in verdict["notices"])
    before = snapshot(chain.registry)
    for args, field in [
        (("--end-use", "militray"), "end_use"),
        (("--assert", "friendly"), "assert"),
        (("--fail-on", "pass"), "fail_on"),
    ]:
        code, out, err = cli("check", JP_MAGNET, *mofcom, *args)
        assert code == 2 and field in err and out == b""
    assert snapshot(chain.registry) == before
    # the gate: JP magnet needs a licence under MOFCOM 61 (civil use), the US magnet passes
    code, _, _ = cli("check", JP_MAGNET, *mofcom, "--end-use", "civil", "--fail-on", "licence_required")
    assert code == 9
    code, _, _ = cli("check", JP_MAGNET, *mofcom, "--end-use", "civil", "--fail-on", "fail")
    assert code == 0
    code, _, _ = cli("check", US_MAGNET, *mofcom, "--fail-on", "insufficient_data")
    assert code == 0
    code, _, _ = cli("check", JP_MAGNET, *mofcom, "--end-use", "civil")
    assert code == 0  # no gate asked: verdicts are answers, not errors
    [asserted] = cli.json(
        "check", US_MAGNET, "-r", "us-dfars-252.225-7052", "--assert", "waiver", "--as-of", "2027-01-01"
    )["verdicts"]
    assert asserted["assertions"] == ["waiver"]


def test_a_suspension_notice_lasts_ninety_days() -> None:
    from raretrace.rules import load_regimes

    regime = load_regimes()["cn-mofcom-61-2025"]
    ended = date(2026, 11, 10)
    assert regime.lapsed_suspensions(ended) == ()  # still suspended that day
    assert regime.lapsed_suspensions(date(2026, 11, 11))
    assert regime.lapsed_suspensions(date(2027, 2, 8))  # 90 days after the end
    assert regime.lapsed_suspensions(date(2027, 2, 9)) == ()
