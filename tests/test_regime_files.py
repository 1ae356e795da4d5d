"""Regimes are data: a new one needs only a file; amendments record suspensions and members; a bad file
is an error naming the file and the field, and nothing half-loaded is used."""

from __future__ import annotations

from pathlib import Path

import pytest

from raretrace.errors import NotFoundError, ValidationError
from raretrace.rules import Outcome, load_regimes, select
from tests.rules_helpers import element, history, judge, subject

NEW_REGIME = """
id = "acme-buyer-policy"
title = "ACME procurement: at most 75% of any element separated or mined in one country outside the allies"
version = "2026.1"
authority = "ACME Corp. procurement"
effective_from = 2026-01-01

[parameters]
watched = ["CN", "MM"]

[[sources]]
title = "ACME supplier code of conduct, section 4.2 (test)"

[[rules]]
id = "concentration"
type = "share_threshold"
title = "Mined or separated in a watched country"
elements = ["*"]
stages = ["mining", "separation"]
countries = "$watched"
basis = "mass"
of = "elements"
threshold = 0.75
trigger = "above"
outcome = "fail"
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_new_regime_from_a_temporary_folder(tmp_path: Path) -> None:
    _write(tmp_path, "acme.toml", NEW_REGIME)
    regimes = load_regimes([tmp_path])
    assert "acme-buyer-policy" in regimes and "cn-mofcom-61-2025" in regimes
    # Mined 50% in China; separated 50% in China, but the two halves may or may not be the same material:
    # the share "mined or separated in China" is between 50% and 100%, so a 75% limit cannot be decided.
    nd = element(history(mining={"CN": 0.5, "AU": 0.5}, separation={"CN": 0.5, "MY": 0.5}))
    verdict = judge("acme-buyer-policy", subject({"Nd": nd}, {"Nd": 10.0}), "2026-06-01", regimes=regimes)
    assert verdict.outcome == Outcome.INSUFFICIENT_DATA
    assert (
        verdict.findings[0].figures["share_lower"] == 0.5
        and verdict.findings[0].figures["share_upper"] == 1.0
    )
    clear = element(history(mining={"CN": 0.8, "AU": 0.2}, separation={"CN": 0.8, "MY": 0.2}))
    assert judge(
        "acme-buyer-policy", subject({"Nd": clear}, {"Nd": 1.0}), "2026-06-01", regimes=regimes
    ).outcome == (Outcome.FAIL)
    assert judge(
        "acme-buyer-policy", subject({"Nd": clear}, {"Nd": 1.0}), "2025-12-31", regimes=regimes
    ).outcome == (Outcome.NOT_APPLICABLE)


def test_an_authority_extends_the_mofcom61_suspension_as_data(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "mofcom61-extension.toml",
        """
amends = "cn-mofcom-61-2025"
version = "2026-11-10"
[[sources]]
title = "Hypothetical MOFCOM announcement extending No. 70 (test)"
[[suspensions]]
from = 2026-11-11
until = 2027-11-10
source = "extension of Announcement No. 70 (test)"
""",
    )
    dy = element(
        history(mining={"CN": 1.0}, separation={"CN": 1.0}, magnet={"JP": 1.0}), history(magnet={"JP": 1.0})
    )
    item = subject({"Dy": dy}, {"Dy": 1.0}, value=1_000.0)
    shipped = judge("cn-mofcom-61-2025", item, "2026-11-29")
    assert shipped.outcome == Outcome.LICENCE_REQUIRED
    extended = judge("cn-mofcom-61-2025", item, "2026-11-29", regimes=load_regimes([tmp_path]))
    assert extended.outcome == Outcome.NOT_APPLICABLE and extended.version == "2026-11-10"
    assert "extension of Announcement No. 70" in extended.explanation
    assert judge("cn-mofcom-61-2025", item, "2027-11-11", regimes=load_regimes([tmp_path])).outcome == (
        Outcome.LICENCE_REQUIRED
    )


def test_without_the_suspension_the_2025_12_01_boundary_shows(tmp_path: Path) -> None:
    shipped = (Path(__file__).parents[1] / "src/raretrace/data/regimes/cn-mofcom-61-2025.toml").read_text()
    start = shipped.index("\n[[suspensions]]\n")
    end = shipped.index("\n[[rules]]\n")
    _write(tmp_path, "cn-mofcom-61-2025.toml", shipped[:start] + shipped[end:])  # replaces the shipped one
    regimes = load_regimes([tmp_path])
    dy = element(
        history(mining={"CN": 1.0}, separation={"CN": 1.0}, magnet={"JP": 1.0}), history(magnet={"JP": 1.0})
    )
    item = subject({"Dy": dy}, {"Dy": 1.0}, value=1_000.0)
    assert judge("cn-mofcom-61-2025", item, "2025-11-30", regimes=regimes).outcome == Outcome.NOT_APPLICABLE
    assert judge("cn-mofcom-61-2025", item, "2025-12-01", regimes=regimes).outcome == Outcome.LICENCE_REQUIRED
    assert judge("cn-mofcom-61-2025", item, "2025-11-30", end_use="military", regimes=regimes).outcome == (
        Outcome.NOT_APPLICABLE
    )
    assert (
        judge("cn-mofcom-61-2025", item, "2025-12-01", end_use="military", regimes=regimes).outcome
        == Outcome.FAIL
    )


def test_the_secretariat_approves_a_country(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "approve-my.toml",
        'amends = "consortium"\nversion = "2"\nparameters = { approved = ["MY"] }\n'
        '[[sources]]\ntitle = "Secretariat decision 2026/3: Malaysian separation approved (test)"\n',
    )
    nd = element(history(mining={"AU": 1.0}, separation={"MY": 1.0}, magnet={"US": 1.0}))
    item = subject({"Nd": nd}, {"Nd": 1.0}, made_in="US")
    assert judge("consortium", item, "2026-11-29").outcome == Outcome.FAIL
    approved = judge("consortium", item, "2026-11-29", regimes=load_regimes([tmp_path]))
    assert approved.outcome == Outcome.PASS and approved.version == "2"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (("threshold = 0.75", "threshold = 1.75"), "rules[0].threshold", "from 0 to 1"),
        (("threshold = 0.75", "threshold = 0.75\nthreshhold = 0.5"), "rules[0].threshhold", "typo"),
        (('countries = "$watched"', 'countries = ["CN", "XX"]'), "rules[0].countries", "ISO 3166"),
        (('countries = "$watched"', 'countries = "$nothing"'), "rules[0].countries", "parameter"),
        (('stages = ["mining", "separation"]', 'stages = ["smelting"]'), "rules[0].stages", "not a stage"),
        (('elements = ["*"]', 'elements = ["Xx"]'), "rules[0].elements", "Xx"),
        (('type = "share_threshold"', 'type = "magic"'), "rules[0].type", "not one of"),
        (
            ("effective_from = 2026-01-01", "effective_from = 2026-01-01\neffective_until = 2025-01-01"),
            "effective_until",
            "before it starts",
        ),
        (('outcome = "fail"', 'outcome = "maybe"'), "rules[0].outcome", "not one of"),
    ],
)
def test_bad_regime_files_name_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str, reason: str
) -> None:
    assert change[0] in NEW_REGIME
    _write(tmp_path, "acme.toml", NEW_REGIME.replace(change[0], change[1]))
    with pytest.raises(ValidationError) as err:
        load_regimes([tmp_path])
    assert err.value.field is not None and str(tmp_path / "acme.toml") in err.value.field
    assert err.value.field.endswith(field) and reason in err.value.message


def test_other_bad_inputs(tmp_path: Path) -> None:
    _write(tmp_path, "broken.toml", "id = \n")
    with pytest.raises(ValidationError, match="not valid TOML"):
        load_regimes([tmp_path])
    (tmp_path / "broken.toml").unlink()
    _write(tmp_path, "empty.toml", NEW_REGIME[: NEW_REGIME.index("[[rules]]")])
    with pytest.raises(ValidationError) as err:
        load_regimes([tmp_path])
    assert err.value.field and err.value.field.endswith("rules")  # an empty rule list is an error, not a pass
    (tmp_path / "empty.toml").unlink()
    _write(tmp_path, "amend.toml", 'amends = "nope"\nversion = "1"\n[[sources]]\ntitle = "x"\n')
    with pytest.raises(ValidationError, match="not a loaded regime"):
        load_regimes([tmp_path])
    _write(
        tmp_path,
        "amend.toml",
        'amends = "consortium"\nversion = "1"\nparameters = {members2 = []}\n[[sources]]\ntitle = "x"\n',
    )
    with pytest.raises(ValidationError, match="no such parameter"):
        load_regimes([tmp_path])
    with pytest.raises(NotFoundError):
        load_regimes([tmp_path / "missing"])
    with pytest.raises(NotFoundError, match="known: "):
        select(load_regimes(), ["us-dfars"])


def test_every_shipped_regime_cites_sources_and_has_rules() -> None:
    regimes = load_regimes()
    assert set(regimes) == {
        "cn-mofcom-18-2025",
        "cn-mofcom-57-2025",
        "cn-mofcom-61-2025",
        "us-dfars-252.225-7052",
        "consortium",
        "eu-crma-2030",
    }
    for regime in regimes.values():
        assert regime.sources and regime.rules and regime.version and regime.notes.strip()
