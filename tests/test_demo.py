"""The main job: `raretrace demo` builds the demo world, shows what the checks find, certifies
shipments that verify offline, refuses to overwrite a registry, and serves what it built."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from raretrace.certify.verify import TrustedKeys, verify_certificate
from raretrace.demo import expected_lots, run_demo
from raretrace.errors import ValidationError
from raretrace.ledger.registry import Registry
from raretrace.render.jsonable import jsonable
from raretrace.store.db import make_engine

Demo = tuple[Path, dict[str, Any], str]
REGIMES = ("cn-mofcom-18-2025", "cn-mofcom-61-2025", "us-dfars-252.225-7052", "consortium", "eu-crma-2030")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    folder = tmp_path_factory.mktemp("demo")
    out = StringIO()
    summary = jsonable(run_demo(str(folder / "demo.db"), console=Console(file=out, width=200), scale=0.2))
    assert isinstance(summary, dict)  # what `raretrace demo --json` prints
    return folder, summary, out.getvalue()


def test_demo_builds_an_audited_world_and_every_case_is_caught(
    demo: Demo,
) -> None:
    folder, summary, text = demo
    assert summary["audit_ok"] is True
    assert summary["world"]["lots"] > 1000 and summary["tree_size"] == summary["world"]["events"]
    cases = {c["case"]: c for c in summary["findings"]["cases"]}
    assert set(cases) == {"a", "b", "c", "d"} and all(c["caught"] for c in cases.values())
    assert all(s["within"] for s in summary["findings"]["shares"])
    assert "audit passed" in text and "What a user must catch" in text
    with pytest.raises(ValidationError, match="already exists") as refused:
        run_demo(str(folder / "demo.db"), console=None, scale=0.2)
    assert f"raretrace --db {folder / 'demo.db'} serve --dev" in str(refused.value)  # how to serve it
    # the progress bar's total is an estimate from the lots measured at scale 1
    assert abs(summary["world"]["lots"] - expected_lots(0.2)) <= 0.1 * expected_lots(0.2)


def test_demo_prints_the_compliance_of_featured_lots_under_every_regime(
    demo: Demo,
) -> None:
    folder, summary, text = demo
    for regime in REGIMES:
        assert text.count(regime) >= 3, regime  # two tables and an explanation line
    assert "for a military end use" in text
    featured = summary["featured"]
    today = {(v["regime"], tuple(v["subject"])): v["outcome"] for v in summary["compliance"]}
    later = {(v["regime"], tuple(v["subject"])): v["outcome"] for v in summary["compliance_military_2027"]}
    defense = (featured["US defense magnets from Chinese oxide (case c)"],)
    allied = (featured["US magnets, Mountain Pass to Fort Worth"],)
    vietnam = (featured["Vietnam magnets, Chinese technology (case b)"],)
    dfars = "us-dfars-252.225-7052"
    # Chinese-separated oxide in a US magnet: allowed until the end of 2026, barred from 2027-01-01
    assert today[(dfars, defense)] == "pass" and later[(dfars, defense)] == "fail"
    assert today[(dfars, allied)] == later[(dfars, allied)] == "pass"
    assert today[("consortium", allied)] == "pass" and today[("consortium", defense)] == "fail"
    assert today[("cn-mofcom-61-2025", vietnam)] == "licence_required"
    registry = Registry(make_engine(f"sqlite:///{folder / 'demo.db'}"))
    nd = registry.lot(defense[0]).origin()["Nd"]["location"]
    assert nd["separation"] == {"CN": 1.0} and nd["magnet"] == {"US": 1.0}


def test_every_demo_certificate_verifies_offline_and_the_tampered_ones_do_not(
    demo: Demo,
) -> None:
    folder, summary, _ = demo
    certificates = Path(summary["certificates"]["folder"])
    assert certificates == folder / "demo-certificates"
    trusted = TrustedKeys.from_dict(json.loads((certificates / "trusted-keys.json").read_text()))
    status = json.loads((certificates / "status-list.json").read_text())
    files = sorted(certificates.glob("??-2026-*.json"))
    assert files and len(files) == len(summary["certificates"]["issued"])
    for path in [*files, certificates / "certificate.json"]:
        report = verify_certificate(json.loads(path.read_text()), trusted, status_list=status)
        assert report.ok, (path, [s.to_dict() for s in report.steps if not s.ok])
    tampered = [t for t in summary["certificates"]["tampered"] if t["copy"] != "genuine"]
    assert tampered and all(not t["verified"] and t["failed_step"] in (1, 2) for t in tampered)
    for item in tampered:
        report = verify_certificate(json.loads(Path(item["file"]).read_text()), trusted)
        assert not report.ok


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_what_it_built_and_prints_the_url(tmp_path: Path) -> None:
    port = _free_port()
    command = [sys.executable, "-m", "raretrace", "demo", "--db", str(tmp_path / "d.db"), "--scale", "0.05"]
    server = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        body = ""
        while time.monotonic() < deadline:
            if server.poll() is not None:
                pytest.fail(f"the demo exited: {server.stderr.read() if server.stderr else ''}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/checkpoint", timeout=2) as response:
                    body = response.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert body.startswith("demo.raretrace.example/registry\n"), body
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            assert response.status == 200 and "<html" in response.read().decode().lower()
    finally:
        server.terminate()
        out, err = server.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out + err
