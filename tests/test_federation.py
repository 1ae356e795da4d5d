"""Two members' registries: mining and separation in registry A (Australia, Malaysia), metal and magnets
in registry B (United States). B accepts A's oxide only by verifying A's certificate, and the magnet's
origin in B equals what one registry holding the whole chain computes."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from raretrace.certify.disclosure import make_disclosure, parse_disclosure
from raretrace.crypto.dataintegrity import add_proof
from raretrace.crypto.keys import Ed25519Signer
from raretrace.crypto.multikey import did_key, did_key_verification_method
from raretrace.custody.namespaces import namespaced
from raretrace.errors import AuthorizationError, ProofError, ValidationError
from raretrace.ledger.certificates import issue, trusted_keys
from raretrace.ledger.registry import Registry
from raretrace.ledger.scripted import ScriptedChain, lot
from raretrace.ledger.trust import trust_registry
from raretrace.store.db import make_engine
from tests.chain_fixtures import snapshot

CONC, OXIDE, METAL, MAGNET = (
    namespaced("lot", maker, n)
    for maker, n in (
        ("AU-MINE", "au-conc"),
        ("MY-SEP", "my-oxide"),
        ("US-MAG", "us-metal"),
        ("US-MAG", "us-magnet"),
    )
)
ISSUED = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _mine_and_separate(chain: ScriptedChain) -> None:
    chain.add_facility("AU-MINE", country="AU", stages=["mining"])
    chain.add_facility("MY-SEP", country="MY", stages=["separation"], technology={"separation": "AU"})
    chain.record(
        "AU-MINE",
        "extract",
        deposit="Mount Weld",
        outputs=[lot(CONC, "concentrate", 1000.0, {"Nd": 0.2, "Pr": 0.06, "Dy": 0.01, "La": 0.1})],
    )
    chain.ship("AU-MINE", "MY-SEP", [CONC])
    chain.record(
        "MY-SEP",
        "process",
        stage="separation",
        inputs=[{"lot": CONC, "mass_kg": 1000.0}],
        additions=[
            {"material": "untraced NdPr oxide", "mass_kg": 50.0, "composition": {"Nd": 0.6, "Pr": 0.2}}
        ],
        outputs=[
            lot(
                OXIDE,
                "separated_oxide",
                300.0,
                {"Nd": 0.6, "Pr": 0.18, "Dy": 0.03},
                declared_value={"amount": 30_000.0, "currency": "USD"},
            )
        ],
    )


def _metal_and_magnets(chain: ScriptedChain) -> None:
    chain.record(
        "US-MAG",
        "process",
        stage="metallization",
        inputs=[{"lot": OXIDE, "mass_kg": 300.0}],
        outputs=[lot(METAL, "metal", 240.0, {"Nd": 0.75, "Pr": 0.225, "Dy": 0.025})],
    )
    chain.record(
        "US-MAG",
        "process",
        stage="magnet",
        inputs=[{"lot": METAL, "mass_kg": 240.0}],
        additions=[{"material": "iron and boron", "mass_kg": 560.0, "composition": {"Fe": 0.98, "B": 0.02}}],
        outputs=[lot(MAGNET, "magnet", 800.0, {"Nd": 0.225, "Pr": 0.0675, "Dy": 0.0075, "Fe": 0.69})],
    )


@pytest.fixture
def members(tmp_path: Path) -> tuple[ScriptedChain, ScriptedChain, dict[str, Any]]:
    a = ScriptedChain(Registry.init(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), "registry.au.example/log"))
    _mine_and_separate(a)
    a.add_facility("US-MAG", country="US", stages=["metallization", "magnet"])  # A knows its customer
    a.ship("MY-SEP", "US-MAG", [OXIDE], hs_code="2846.90")
    transfer = next(e for e in _events(a.registry) if ":transfer-" in e)
    certificate = issue(a.registry, transfer=transfer, now=ISSUED).to_dict()
    b = ScriptedChain(
        Registry.init(make_engine(f"sqlite:///{tmp_path / 'b.db'}"), "registry.us.example/log"),
        time="2026-01-06T08:00:00Z",
    )
    b.add_facility("US-MAG", country="US", stages=["metallization", "magnet"])
    trust_registry(b.registry.engine, trusted_keys(a.registry))
    return a, b, certificate


def _events(registry: Registry) -> list[str]:
    from sqlalchemy import select

    from raretrace.store import schema as t

    with registry.engine.connect() as conn:
        return list(conn.execute(select(t.events.c.event_id).order_by(t.events.c.seq.desc())).scalars())


def test_origin_across_two_registries_equals_one_registry(members: Any, tmp_path: Path) -> None:
    _, b, certificate = members
    b.record("US-MAG", "import", certificate=certificate)
    imported = b.registry.lot(OXIDE)
    assert imported.custodian == "US-MAG" and imported.spec.mass_kg == 300.0
    _metal_and_magnets(b)
    # The same chain in one registry.
    whole = ScriptedChain(
        Registry.init(make_engine(f"sqlite:///{tmp_path / 'one.db'}"), "registry.one.example/log")
    )
    _mine_and_separate(whole)
    whole.add_facility("US-MAG", country="US", stages=["metallization", "magnet"])
    whole.ship("MY-SEP", "US-MAG", [OXIDE])
    _metal_and_magnets(whole)
    assert b.registry.lot(MAGNET).origin() == whole.registry.lot(MAGNET).origin()
    nd = b.registry.lot(MAGNET).origin()["Nd"]["location"]
    # 200 kg Nd from the concentrate, 30 kg in untraced oxide added at separation
    assert nd["mining"]["AU"] == pytest.approx(200 / 230) and nd["separation"] == {"MY": 1.0}
    assert nd["magnet"] == {"US": 1.0}


def _forged(certificate: dict[str, Any]) -> dict[str, Any]:
    """Signed by a key nobody trusts, claiming the same issuer."""
    forger = Ed25519Signer.generate()
    body = {k: v for k, v in certificate["credential"].items() if k != "proof"}
    body["issuer"] = {"id": did_key(forger.public_key), "name": "registry.au.example/log"}
    signed = add_proof(
        body,
        forger,
        verification_method=did_key_verification_method(forger.public_key),
        created="2026-01-05T09:00:00Z",
    )
    return {"credential": signed, "disclosures": certificate["disclosures"]}


def _tampered_mass(certificate: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(certificate)
    for i, text in enumerate(out["disclosures"]):
        name, value = parse_disclosure(text)
        if name == "massKg" and value == 300:
            out["disclosures"][i] = make_disclosure(name, 3000)
    return out


@pytest.mark.parametrize(
    ("spoil", "error", "message"),
    [
        (_forged, ProofError, "step 1 (credential proof)"),
        (_tampered_mass, ValidationError, "match no digest"),
        (
            lambda c: {
                **c,
                "disclosures": [d for d in c["disclosures"] if parse_disclosure(d)[0] != "massKg"],
            },
            ValidationError,
            "massKg",
        ),
    ],
    ids=["forged", "tampered", "mass hidden"],
)
def test_a_forged_or_tampered_certificate_is_refused_and_nothing_is_written(
    members: Any, spoil: Any, error: type[Exception], message: str
) -> None:
    _, b, certificate = members
    before = snapshot(b.registry)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        b.record("US-MAG", "import", certificate=spoil(certificate))
    assert snapshot(b.registry) == before


def _importer(path: Path, time: str) -> ScriptedChain:
    chain = ScriptedChain(
        Registry.init(make_engine(f"sqlite:///{path}"), f"{path.stem}.example/log"), time=time
    )
    chain.add_facility("US-MAG", country="US", stages=["magnet"])
    return chain


def test_import_rules(members: Any, tmp_path: Path) -> None:
    a, b, certificate = members
    b.add_facility("US-OTHER", country="US", stages=["magnet"])
    with pytest.raises(AuthorizationError, match="not the importing facility"):
        b.record("US-OTHER", "import", certificate=certificate)
    b.record("US-MAG", "import", certificate=certificate)
    with pytest.raises(Exception, match="already exists"):
        b.record("US-MAG", "import", certificate=certificate)
    lonely = _importer(tmp_path / "c.db", "2026-01-06T08:00:00Z")
    with pytest.raises(AuthorizationError, match="trusts no other registry"):
        lonely.record("US-MAG", "import", certificate=certificate)
    # a certificate valid one day, imported a month later (event times stay within the registry's
    # window around its clock, docs/security.md, so the expiry is reached by a short validity)
    transfer = next(e for e in _events(a.registry) if ":transfer-" in e)
    short = issue(a.registry, transfer=transfer, now=ISSUED, valid_days=1).to_dict()
    b2 = _importer(tmp_path / "d.db", "2026-02-06T08:00:00Z")
    trust_registry(b2.registry.engine, trusted_keys(a.registry))
    with pytest.raises(ProofError, match="expired"):
        b2.record("US-MAG", "import", certificate=short)


def test_statistics_confirmations_and_reconciliation(members: Any) -> None:
    from datetime import date

    from raretrace.certify.reconcile import reconcile
    from raretrace.ledger.certificates import issuer_did
    from raretrace.ledger.federation import confirmations, statistics

    a, b, certificate = members
    year = (date(2026, 1, 1), date(2026, 12, 31))
    exported = statistics(a.registry, *year)
    assert exported["production_kg"]["Nd"] == pytest.approx(200.0)  # 1000 kg concentrate x 0.2
    assert len(exported["exports"]) == 1 and exported["exports"][0]["mass_kg"] == 300.0
    assert reconcile(exported, statistics(b.registry, *year)) == [
        {
            "certificate": certificate["credential"]["id"],
            "number": certificate["credential"]["credentialSubject"]["certificateNumber"],
            "issue": "exported, not confirmed by the importer",
        }
    ]
    b.record("US-MAG", "import", certificate=certificate)
    [confirmation] = confirmations(b.registry, issuer_did(a.registry))
    assert confirmation["confirmed_by"] == "US-MAG" and confirmation["parcels"] == 1
    imported = statistics(b.registry, *year)
    assert imported["imports"][0]["element_kg"]["Nd"] == pytest.approx(180.0)  # 300 kg oxide x 0.6
    assert reconcile(exported, imported) == []
    assert reconcile(exported, statistics(b.registry, date(2025, 1, 1), date(2025, 12, 31)))[0]["issue"] == (
        "exported, not confirmed by the importer"
    )
    doctored = copy.deepcopy(imported)
    doctored["imports"][0]["mass_kg"] = 250.0
    doctored["imports"][0]["element_kg"]["Nd"] = 150.0
    issues = [f["issue"] for f in reconcile(exported, doctored)]
    assert issues == ["mass_kg differs", "Nd mass differs"]
    stray = copy.deepcopy(imported)
    stray["imports"][0]["certificate"] = "urn:raretrace:certificate:unknown"
    assert "not among the exporter's certificates" in reconcile(exported, stray)[-1]["issue"]


def test_cli_import_stats_reconcile(
    members: Any, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    import json

    from raretrace.crypto.keys import write_key_pair
    from tests.test_cli import Cli

    _, b, certificate = members
    a_db, b_db = f"sqlite:///{tmp_path / 'a.db'}", f"sqlite:///{tmp_path / 'b.db'}"
    cli_a, cli_b = Cli(tmp_path, capsysbinary, a_db), Cli(tmp_path, capsysbinary, b_db)
    cert = tmp_path / "cert.json"
    cert.write_text(json.dumps(certificate))
    write_key_pair(b.signers["US-MAG"], tmp_path / "us-mag.key")
    code, event, err = cli_b(
        "import-event", str(cert), "--facility", "US-MAG", "--time", "2026-01-06T09:00:00Z", db=False
    )
    assert code == 0, err
    (tmp_path / "import.json").write_bytes(event)
    code, envelope, err = cli_b(
        "sign", str(tmp_path / "import.json"), "--key", str(tmp_path / "us-mag.key"), db=False
    )
    assert code == 0, err
    (tmp_path / "import.dsse").write_bytes(envelope)
    code, _, err = cli_b("record", str(tmp_path / "import.dsse"))
    assert code == 0, err
    assert b.registry.lot(OXIDE).custodian == "US-MAG"
    for cli, name in ((cli_a, "a"), (cli_b, "b")):
        code, _, err = cli(
            "stats", "--from", "2026-01-01", "--to", "2026-12-31", "--out", str(tmp_path / f"{name}.json")
        )
        assert code == 0, err
    code, out, _ = cli_a("reconcile", str(tmp_path / "a.json"), str(tmp_path / "b.json"), db=False)
    assert code == 0 and b"agree" in out
    found = cli_a.json("confirmations", "--log", b_db)["confirmations"]
    assert [c["confirmed_by"] for c in found] == ["US-MAG"]
    doctored = json.loads((tmp_path / "b.json").read_text())
    doctored["imports"] = []
    (tmp_path / "b.json").write_text(json.dumps(doctored))
    code, out, _ = cli_a("reconcile", str(tmp_path / "a.json"), str(tmp_path / "b.json"), db=False)
    assert code == 8 and b"exported, not confirmed" in out
    code, _, err = cli_b("trust-registry", "--trusted-keys", str(cert))
    assert code == 2 and "issuers" in err
