"""The web UI in Debian's Chromium (Playwright), against a real server on loopback: open the
dashboard, log in, submit an event, open a lot and follow its lineage, verify a good and a tampered
certificate, run a scenario; on a laptop and a phone viewport. Screenshots go to
``$RARETRACE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from raretrace.ledger.certificates import issue
from raretrace.ledger.scripted import US_CHAIN
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.browser import BrowserPage, browser, page  # noqa: F401
from tests.test_server_support import JP_MAGNET, JP_METAL, ServerWorld, running, server_world

PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerWorld, str]]:
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('web') / 'registry.db'}")
    app = create_app(Settings(secure_cookies=False), registry=w.registry)  # plain http on loopback
    with running(app) as url:
        yield w, url


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RARETRACE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _login(page: BrowserPage, url: str, token: str) -> None:  # noqa: F811
    page.goto(f"{url}/login")
    page.fill("#token", token)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{url}/lots")


def _charts_drawn(page: BrowserPage, at_least: int) -> None:  # noqa: F811
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {at_least}", timeout=20_000
    )


def test_dashboard(served: tuple[ServerWorld, str], page: BrowserPage, shots: Path) -> None:  # noqa: F811
    w, url = served
    page.goto(f"{url}/")
    assert page.text_content("#tree-size").strip() == str(w.registry.tree_size())
    assert w.registry.origin in page.text_content("#checkpoint")
    _charts_drawn(page, 1)
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)
    assert page.errors == []


def test_submit_open_a_lot_and_follow_its_lineage(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    shots: Path,
) -> None:
    w, url = served
    _login(page, url, w.tokens["jp"])
    assert JP_MAGNET in page.text_content("#lots")
    # submit a signed event through the form
    size = w.registry.tree_size()
    assay = w.chain.envelope(
        "JP-MAG", "transfer", to="US-MAG", lots=[JP_MAGNET], details={"hs_code": "8505.11"}
    )
    page.goto(f"{url}/submit")
    page.fill("#envelopes", assay.decode())
    page.click("button >> text=Record")
    page.wait_for_selector("#submit-result")
    assert w.registry.tree_size() == size + 1
    page.screenshot(path=str(shots / "submit.png"), full_page=True)
    # open the lot from the list, then follow its lineage to the metal it was made from
    page.goto(f"{url}/lots")
    page.click(f"a[href='/lots/{JP_MAGNET}']")
    page.wait_for_selector("#lineage-graph")
    assert page.text_content("#lot-id").strip() == JP_MAGNET
    assert "in transit to US-MAG" in page.text_content("main")
    assert page.locator("#compliance tbody tr").count() >= 4
    _charts_drawn(page, 1)  # the origin Sankey
    page.screenshot(path=str(shots / "lot.png"), full_page=True)
    page.click(f"#lineage-graph a[data-lot='{JP_METAL}']")
    page.wait_for_url(f"{url}/lots/{JP_METAL}")
    assert page.text_content("#lot-id").strip() == JP_METAL
    # the Chinese lots upstream are another participant's: shown, not named, not linked
    assert "hidden-" in page.text_content("#lineage-graph")
    assert "jp-ox" not in page.content()
    page.screenshot(path=str(shots / "lot-lineage.png"), full_page=True)
    assert page.errors == []


def _verify(page: BrowserPage, url: str, certificate: dict[str, Any]) -> str:  # noqa: F811
    page.goto(f"{url}/verify")
    page.fill("#certificate", json.dumps(certificate))
    page.click("button >> text=Verify")
    page.wait_for_selector("#verdict")
    return str(page.text_content("#verdict"))


def test_verify_a_good_and_a_tampered_certificate(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    shots: Path,
) -> None:
    w, url = served
    good = issue(w.registry, lots=[US_CHAIN.magnet]).to_dict()
    assert "Certificate verified" in _verify(page, url, good)
    assert page.locator("#steps li").count() == 8
    assert page.locator("#steps li[data-ok='False']").count() == 0
    page.screenshot(path=str(shots / "verify-good.png"), full_page=True)
    tampered = copy.deepcopy(good)
    tampered["credential"]["credentialSubject"]["certificateNumber"] += "-X"
    assert "REJECTED" in _verify(page, url, tampered)
    failed = page.locator("#steps li[data-ok='False']")
    assert failed.count() >= 1 and "credential proof" in failed.first.text_content()
    page.screenshot(path=str(shots / "verify-tampered.png"), full_page=True)
    assert page.errors == []


def test_scenario_page_draws_its_charts(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    shots: Path,
) -> None:
    w, url = served
    _login(page, url, w.tokens["auditor"])
    page.goto(f"{url}/scenario")
    page.click("#own-form button")
    page.wait_for_selector("#scenario-result")
    _charts_drawn(page, 2)
    page.screenshot(path=str(shots / "scenario.png"), full_page=True)
    assert page.errors == []


@pytest.mark.parametrize("path", ["/", "/verify", f"/lots/{JP_MAGNET}"])
def test_readable_on_a_phone(
    served: tuple[ServerWorld, str],
    browser: Any,  # noqa: F811
    shots: Path,
    path: str,
) -> None:
    w, url = served
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(f"{url}/login")
        phone.fill("#token", w.tokens["jp"])
        phone.click("button[type=submit] >> text=Log in")
        phone.wait_for_url(f"{url}/lots")
        phone.goto(url + path)
        phone.wait_for_load_state("networkidle")
        # nothing but wide figures (graph, tables, which scroll inside their card) widens the page
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} is {overflow}px wider than a phone"
        name = "phone-" + (path.strip("/").split("/")[0] or "dashboard") + ".png"
        phone.screenshot(path=str(shots / name), full_page=True)
    finally:
        context.close()
