"""Signed monthly statistics between two members (the registries of tests/test_federation.py: A in
Australia ships 300 kg of NdPr oxide, 60 % Nd, to a magnet maker in the United States, registry B)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from raretrace.crypto.keys import Ed25519Signer
from raretrace.errors import ProofError, ValidationError
from raretrace.ledger import consortium as cs
from raretrace.ledger.member_stats import (
    FormBalance,
    _balances,
    month_range,
    open_monthly,
    reconcile_signed,
    sign_monthly,
)
from raretrace.ledger.witnessing import witness_key
from raretrace.log.note import verifier_key_text
from tests.test_cli import Cli
from tests.test_federation import members  # noqa: F401 (the fixture)

BOARD = Ed25519Signer.generate()


def membership(a: Any, b: Any) -> cs.Consortium:
    c = cs.create("club", [BOARD.public_key], 1, "2099-01-01T00:00:00Z", 1)
    for mid, country, chain in (("au", "AU", a), ("us", "US", b)):
        registry = chain.registry
        c = cs.add_member(
            c,
            {
                "id": mid,
                "name": mid,
                "country": country,
                "roles": ["registry", "witness"],
                "status": "active",
                "origin": registry.origin,
                "log_keys": [
                    {
                        "key": verifier_key_text(registry.origin, registry.signer.public_key),
                        "since": "2026-01-01T00:00:00Z",
                    }
                ],
                "witness_key": witness_key(registry),
            },
        )
    return c


def test_signed_statistics_verify_under_the_member_key_and_summarize_by_partner(members: Any) -> None:  # noqa: F811
    a, b, _ = members
    c = membership(a, b)
    member, stats = open_monthly(c, sign_monthly(a.registry, "2026-01"))
    assert member.id == "au" and stats["month"] == "2026-01"
    [row] = stats["summary"]["exports"]
    assert row["partner"] == "US" and row["certificates"] == 1 and row["mass_kg"] == 300.0
    assert row["element_kg"]["Nd"] == pytest.approx(300.0 * 0.6) and row["value_usd"] == 30_000.0
    assert open_monthly(c, sign_monthly(a.registry, "2026-02"))[1]["exports"] == []


def test_tampered_or_foreign_statistics_are_refused(members: Any) -> None:  # noqa: F811
    a, b, _ = members
    c = membership(a, b)
    raw = json.loads(sign_monthly(a.registry, "2026-01"))
    statement = json.loads(base64.b64decode(raw["payload"]))
    statement["predicate"]["exports"][0]["mass_kg"] = 3.0
    raw["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    with pytest.raises(ProofError, match="not signed by a log key of member au"):
        open_monthly(c, json.dumps(raw).encode())
    # a key rotated out still verifies what it signed before; a key never listed does not
    rotated = cs.rotate_keys(
        c,
        "au",
        log_key=verifier_key_text(a.registry.origin, Ed25519Signer.generate().public_key),
        at="2026-02-01T00:00:00Z",
    )
    assert open_monthly(rotated, sign_monthly(a.registry, "2026-01"))[0].id == "au"
    stranger = cs.create("club", [BOARD.public_key], 1, "2099-01-01T00:00:00Z", 1)
    with pytest.raises(ValidationError, match="no member runs log"):
        open_monthly(stranger, sign_monthly(a.registry, "2026-01"))
    for bad in ("2026-13", "26-01", "2026-1"):
        with pytest.raises(ValidationError, match="not a month"):
            month_range(bad)


def test_reconciliation_names_the_unconfirmed_shipment_then_agrees(members: Any) -> None:  # noqa: F811
    a, b, certificate = members
    c = membership(a, b)
    before = reconcile_signed(c, sign_monthly(a.registry, "2026-01"), sign_monthly(b.registry, "2026-01"))
    assert before.certificates == 1 and not before.agree
    assert [f["issue"] for f in before.findings] == ["exported, not confirmed by the importer"]
    cid = certificate["credential"]["id"]
    assert before.findings[0]["certificate"] == cid
    # by form: the 300 kg of oxide is the difference, and the unconfirmed certificate explains it
    assert before.by_form == (FormBalance("separated_oxide", 300.0, 0.0, (cid,), False),)
    b.record("US-MAG", "import", certificate=certificate)
    after = reconcile_signed(c, sign_monthly(a.registry, "2026-01"), sign_monthly(b.registry, "2026-01"))
    assert after.agree and after.findings == ()
    assert after.by_form == (FormBalance("separated_oxide", 300.0, 300.0, (), False),)
    # the importer's summary by partner and form: the exporting facility is the Malaysian separator
    # that the Australian registry records
    [row] = open_monthly(c, sign_monthly(b.registry, "2026-01"))[1]["summary"]["imports"]
    assert (row["partner"], row["form"], row["certificates"], row["mass_kg"]) == (
        "MY",
        "separated_oxide",
        1,
        300.0,
    )
    # shipments to another member's country are not the importer's to confirm
    other = reconcile_signed(c, sign_monthly(b.registry, "2026-01"), sign_monthly(a.registry, "2026-01"))
    assert other.certificates == 0 and other.agree


def _shipment(cid: str, forms: dict[str, float]) -> dict[str, object]:
    return {"certificate": cid, "by_form": {f: {"mass_kg": kg} for f, kg in forms.items()}}


def test_totals_by_form_that_no_named_certificate_explains_are_a_mismatch() -> None:
    # the same 100 kg on both sides, but the importer's copy shows it as another form (its form was
    # concealed from it): the certificate-by-certificate check sees equal masses, the forms do not agree
    shipped = [_shipment("c1", {"metal": 100.0}), _shipment("c2", {"magnet": 5.0})]
    received = [_shipment("c1", {"undisclosed": 100.0}), _shipment("c2", {"magnet": 5.0})]
    balances = {b.form: b for b in _balances(shipped, received, set())}
    assert balances["metal"] == FormBalance("metal", 100.0, 0.0, (), True)
    assert balances["undisclosed"].unexplained and not balances["magnet"].unexplained
    # once c1 is named by a finding, its difference is explained
    named = {b.form: b for b in _balances(shipped, received, {"c1"})}
    assert named["metal"] == FormBalance("metal", 100.0, 0.0, ("c1",), False)


def test_cli_signed_stats_and_reconcile(
    members: Any,  # noqa: F811
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    a, b, certificate = members
    c = membership(a, b)
    folder = tmp_path / "consortium"
    folder.mkdir()
    # the consortium folder holds the chain of versions, each signed by the board
    one = cs.create("club", [BOARD.public_key], 1, "2099-01-01T00:00:00Z", 1)
    chain = [one]
    for m in c.members:
        chain.append(cs.add_member(chain[-1], cs.member_dict(m)))
    for v in chain:
        (folder / f"{v.version}.json").write_text(json.dumps(cs.sign(cs.document(v), BOARD)))
    ex, im = (
        Cli(tmp_path, capsysbinary, str(tmp_path / "a.db")),
        Cli(tmp_path, capsysbinary, str(tmp_path / "b.db")),
    )
    b.record("US-MAG", "import", certificate=certificate)
    code, out, err = ex("consortium", "member-keys", "--json")
    assert code == 0, err
    assert json.loads(out) == {
        "origin": a.registry.origin,
        "log_key": verifier_key_text(a.registry.origin, a.registry.signer.public_key),
        "witness_key": witness_key(a.registry),
    }
    assert ex("consortium", "stats", "--month", "2026-01", "--out", str(tmp_path / "au.json"))[0] == 0
    assert im("consortium", "stats", "--month", "2026-01", "--out", str(tmp_path / "us.json"))[0] == 0
    code, out, err = ex(
        "consortium",
        "reconcile",
        str(tmp_path / "au.json"),
        str(tmp_path / "us.json"),
        "--consortium",
        str(folder),
        "--json",
        db=False,
    )
    assert code == 0, err
    assert json.loads(out)["agree"] is True
    code, _, err = ex("consortium", "stats", "--month", "2026-1", "--out", str(tmp_path / "x.json"))
    assert code == 2 and "not a month" in err and not (tmp_path / "x.json").exists()
