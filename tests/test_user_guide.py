"""The user guide runs as written: every command of every walk-through, with the output it promises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.doc_blocks import ROOT, bash_blocks, run_script

GUIDE = ROOT / "docs" / "guide"

#: guide -> what its "What you see" section promises, as text the commands print
PROMISED = {
    "compliance-officer.md": [
        "urn:raretrace:lot:US-DEFENSE-MAGNETS:ndfeb-magnet-006298 comes from 1 source lot(s)",
        "urn:raretrace:lot:CN-NORTHERN-BAOTOU:ndpr-oxide-003024 reached",
        "US-LM-FORT-WORTH:f35",
        "us-dfars-252.225-7052 2024-05-30 · lot 1: fail",
        "us-dfars-252.225-7052 2024-05-30 · lot 2: pass",
        "cn-mofcom-61-2025 2025-11-07 · lot 1: fail — Section II: overseas military end users",
        "(triggered by chinese-content-by-value)",
        "\n2026-12-31 pass - (b)(1)(i) until 2026: magnet melted or produced",
        "\n2027-01-01 fail - (b)(1)(i) from 2027: magnet material mined",
        "certificate ",
    ],
    "lab.md": [
        "MP-CONC-0112 (concentrate): most like Mountain Pass 100% — declared mountain-pass: consistent",
        "declared mountain-pass: inconsistent",
        "NDPR-OX-0032 (separated_oxide): most like none — declared mountain-pass: indeterminate",
        "fingerprint: pass — Upstream ore and concentrate fingerprint-consistent",
    ],
    "customs.md": [
        "8. revocation: ok",
        "certificate verified",
        "1. credential proof: FAILED",
        "certificate REJECTED\nrefused with exit code 6",
        "verified: True",
    ],
    "authority-secretariat.md": [
        "is already recorded",
        "refused with exit code 4",
        "audit passed: 2 leaves",
        "witnessed registry.example.gov/rare-earths at size 2",
        "8. revocation: FAILED — revoked",
        "suspended from 2026-11-11 to 2027-11-10",
        "added mp-materials (operator)",
    ],
    "analyst.md": ["unmet demand, t: 4100.4", "68.5%"],
}


def test_every_guide_is_listed_and_checked() -> None:
    guides = {p.name for p in GUIDE.glob("*.md")} - {"README.md"}
    assert guides == set(PROMISED)
    index = (GUIDE / "README.md").read_text(encoding="utf-8")
    assert all(f"({name})" in index for name in guides)


@pytest.mark.parametrize("guide", sorted(PROMISED))
def test_guide_runs_as_written(guide: str, tmp_path: Path) -> None:
    done = run_script(bash_blocks(GUIDE / guide), tmp_path, copy=("docs",), timeout=600)
    out = done.stdout + "\n" + done.stderr
    missing = [text for text in PROMISED[guide] if text not in out]
    assert not missing, f"{guide}: output lacks {missing}\n{out[-4000:]}"
    if guide == "authority-secretariat.md":
        token = json.loads((tmp_path / "mp-token.json").read_text(encoding="utf-8"))
        assert token["participant"] == "mp-materials" and token["token"].startswith("rt_")
    if guide == "customs.md":
        assert (tmp_path / "certificate.pdf").stat().st_size > 1000
    if guide == "analyst.md":
        assert json.loads((tmp_path / "ban.json").read_text(encoding="utf-8"))["unmet_t"] > 0
        assert (tmp_path / "exposure-report.html").stat().st_size > 1_000_000
