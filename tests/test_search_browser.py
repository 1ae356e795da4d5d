"""The search page in Debian's Chromium at 1400 px and 390 px: no sideways scrolling, a facet clicked
narrows the results to exactly the lots the API gives for the same filters, and both downloads open.
Screenshots go to ``$RARETRACE_SCREENSHOTS`` (default: the test's temporary folder)."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.browser import BrowserPage, browser, log_in, page  # noqa: F401
from tests.test_server_support import ServerWorld, running, server_world

WIDTHS = {"laptop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerWorld, str]]:
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('search') / 'registry.db'}")
    with running(create_app(Settings(secure_cookies=False), registry=w.registry)) as url:
        yield w, url


def _no_sideways_scroll(page: BrowserPage) -> None:  # noqa: F811
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px"


def _shown(page: BrowserPage) -> set[str]:  # noqa: F811
    return set(page.eval_on_selector_all("#results tbody a", "links => links.map(a => a.textContent.trim())"))


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_facets_narrow_to_the_apis_lots_and_downloads_open(
    served: tuple[ServerWorld, str],
    page: BrowserPage,  # noqa: F811
    width: str,
    tmp_path: Path,
) -> None:
    w, url = served
    page.set_viewport_size(WIDTHS[width])
    log_in(page, url, w.tokens["auditor"])
    page.goto(f"{url}/search")
    headers = {"Authorization": f"Bearer {w.tokens['auditor']}"}
    every = httpx.get(f"{url}/api/v1/search/lots", headers=headers).json()
    assert _shown(page) == {h["id"] for h in every["lots"]}
    _no_sideways_scroll(page)
    page.screenshot(path=str(_shots(tmp_path) / f"search-{width}.png"), full_page=True)
    page.click("ul[data-facet=producer_country] a[data-value=CN]")
    page.wait_for_url("**producer_country=CN**")
    narrowed = httpx.get(f"{url}/api/v1/search/lots?producer_country=CN", headers=headers).json()
    assert _shown(page) == {h["id"] for h in narrowed["lots"]} and narrowed["total"] == 3
    assert page.text_content("#total").strip().startswith("3 lots match")
    _no_sideways_scroll(page)
    for link, kind in (("#download-csv", "text/csv"), ("#download-json", "application/json")):
        href = page.get_attribute(link, "href")
        assert href is not None
        answer = page.request.get(url + href)  # with the page's session cookie
        assert answer.ok and answer.headers["content-type"].startswith(kind)
        if kind == "text/csv":
            rows = list(csv.DictReader(io.StringIO(answer.text())))
            assert {r["id"] for r in rows} == {h["id"] for h in narrowed["lots"]}
    assert page.errors == []


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RARETRACE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder
