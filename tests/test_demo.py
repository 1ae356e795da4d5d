"""The main job: `raretrace demo` builds a signed, audited chain and refuses to overwrite a registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from raretrace.demo import run_demo
from raretrace.errors import ValidationError
from raretrace.ledger.registry import Registry
from raretrace.store.db import make_engine


def test_demo_builds_both_chains(tmp_path: Path) -> None:
    db = str(tmp_path / "demo.db")
    summary = run_demo(db, console=None)
    assert summary["audit_ok"] is True
    assert summary["tree_size"] == 23
    registry = Registry(make_engine(db))
    us_magnet = registry.lot(summary["lots"]["us_magnet"])
    jp_magnet = registry.lot(summary["lots"]["jp_magnet"])
    assert (us_magnet.custodian, us_magnet.stage.value) == ("US-MP-INDEPENDENCE", "magnet")
    assert jp_magnet.custodian == "JP-MAGNET-WORKS"
    nd = jp_magnet.origin()["Nd"]["location"]
    assert nd["separation"] == {"CN": 1.0} and nd["magnet"] == {"JP": 1.0}
    assert us_magnet.origin()["Nd"]["location"]["mining"] == {"US": 1.0}
    # the Japanese magnets were made from metal shipped from Baotou
    assert registry.lot_details(jp_magnet.id)["inputs"][0]["lot"] == "urn:raretrace:lot:bo-metal-2026-0001"
    with pytest.raises(ValidationError, match="already exists"):
        run_demo(db, console=None)


def test_demo_prints_the_compliance_table_under_every_regime(tmp_path: Path) -> None:
    from io import StringIO

    from rich.console import Console

    out = StringIO()
    summary = run_demo(str(tmp_path / "demo.db"), console=Console(file=out, width=200))
    text = out.getvalue()
    for regime in (
        "cn-mofcom-18-2025",
        "cn-mofcom-61-2025",
        "us-dfars-252.225-7052",
        "consortium",
        "eu-crma-2030",
    ):
        assert text.count(regime) >= 3, regime  # two tables and an explanation line
    assert "for a military end use" in text
    verdicts = {(v["regime"], tuple(v["subject"])): v["outcome"] for v in summary["compliance"]}
    jp = (summary["lots"]["jp_magnet"],)
    us = (summary["lots"]["us_magnet"],)
    # Japanese magnets from Baotou metal: melted in China (DFARS) and outside the consortium.
    assert verdicts[("us-dfars-252.225-7052", jp)] == "fail" and verdicts[("consortium", jp)] == "fail"
    assert verdicts[("us-dfars-252.225-7052", us)] == "pass" and verdicts[("consortium", us)] == "pass"


def test_every_demo_certificate_verifies_offline_with_only_the_trusted_keys_file(tmp_path: Path) -> None:
    import json

    from raretrace.certify.verify import TrustedKeys, verify_certificate

    summary = run_demo(str(tmp_path / "demo.db"), console=None)
    folder = Path(summary["certificates"]["folder"])
    assert folder == tmp_path / "demo-certificates"
    trusted = TrustedKeys.from_dict(json.loads((folder / "trusted-keys.json").read_text()))
    files = sorted(folder.glob("??-2026-*.json"))
    assert len(files) == len(summary["certificates"]["issued"]) == 3
    for path in files:
        report = verify_certificate(json.loads(path.read_text()), trusted)
        assert report.ok and [s.ok for s in report.steps][:7] == [True] * 7, path  # 8: no status list
        status = json.loads((folder / "status-list.json").read_text())
        assert (
            verify_certificate(json.loads(path.read_text()), trusted, status_list=status).steps[-1].ok is True
        )
