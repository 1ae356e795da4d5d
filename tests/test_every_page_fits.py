"""Every page of the web UI at 1400 px and 390 px in Debian's Chromium: no sideways scrolling of the
page (a wide lineage graph scrolls inside its own box), chart legends drawn inside the viewport, no
console error. With ``$RARETRACE_SCREENSHOTS`` set, each page is saved there as
``NAME-laptop.jpg`` / ``NAME-phone.jpg`` (how docs/screenshots/ is made)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from raretrace.ledger.certificates import issue
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.browser import BrowserPage, browser, log_in, page  # noqa: F401
from tests.test_server_support import JP_MAGNET, ServerWorld, running, server_world

WIDTHS = {"laptop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
PAGES = {
    "dashboard": "/",
    "lots": "/lots",
    "lot": f"/lots/{JP_MAGNET}",
    "search": "/search?form=magnet",
    "desk": f"/desk?lot={JP_MAGNET}&as_of=2026-06-01&end_use=military",
    "submit": "/submit",
    "scenario": "/scenario",
    "verify": "/verify",
    "login": "/login",
}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerWorld, str]]:
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'registry.db'}")
    with running(create_app(Settings(secure_cookies=False), registry=w.registry)) as url:
        yield w, url


def _check(page: BrowserPage, name: str, width: str) -> None:  # noqa: F811
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} at {width} scrolls sideways by {overflow}px"
    legends = page.evaluate(
        """() => [...document.querySelectorAll('.js-plotly-plot .legend')].map(l => {
            const r = l.getBoundingClientRect(); return [r.left, r.right, r.width];
        })"""
    )
    for left, right, size in legends:
        assert size > 0 and left >= -1 and right <= WIDTHS[width]["width"] + 1, (name, width, left, right)
    folder = os.environ.get("RARETRACE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(Path(folder) / f"{name}-{width}.jpg"), full_page=True, type="jpeg", quality=70
        )


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_every_page_fits_the_screen(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    width: str,
) -> None:
    w, url = served
    page.set_viewport_size(WIDTHS[width])
    log_in(page, url, w.tokens["jp"])
    for name, path in PAGES.items():
        page.goto(url + path)
        if name in ("dashboard", "lot"):
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 1")
        _check(page, name, width)
    # the answers of the forms: a verified certificate, a scenario run
    certificate = issue(w.registry, lots=[JP_MAGNET]).to_dict()
    page.goto(f"{url}/verify")
    page.fill("#certificate", json.dumps(certificate))
    page.click("button >> text=Verify")
    page.wait_for_selector("#certified")
    _check(page, "verify-result", width)
    page.goto(f"{url}/scenario")
    page.click("#own-form button")
    page.wait_for_selector("#scenario-result")
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=30_000
    )
    _check(page, "scenario-result", width)
    assert page.errors == []
