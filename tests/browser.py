"""A headless Chromium for browser tests: Debian's /usr/bin/chromium driven by Playwright.

Playwright's own browser downloads cannot be fetched on the project's machines, so tests launch the
Chromium that Debian installs (``.ci/run`` apt-installs it) through ``executable_path``. When it is missing
the test is skipped with the reason shown — except under ``CI=true``, where it fails instead, like the
PostgreSQL tests (see conftest.py).

Fixtures (import them into your test module so pytest sees them):

    from tests.browser import BrowserPage, browser, page  # noqa: F401

    def test_my_page(page: BrowserPage) -> None:
        page.goto("http://127.0.0.1:8000/")
        assert page.errors == []

``browser`` is one Chromium per test session; ``page`` is a fresh page per test that records console
errors and uncaught page errors in ``errors``. ``launch()`` is there for code outside pytest fixtures.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.shared_files import UNDER_CI

#: Where Debian puts Chromium; $RARETRACE_CHROMIUM overrides it.
CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
#: Flags for running as root in a container without a GPU.
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage")


def chromium_path() -> str | None:
    """The Chromium executable to drive, or None when none is installed."""
    env = os.environ.get("RARETRACE_CHROMIUM")
    candidates = [env] if env else []
    candidates += [*CHROMIUM_PATHS, shutil.which("chromium") or ""]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


def unavailable(reason: str) -> None:
    """Skip (or, under CI=true, fail) a test that needs a browser it cannot have."""
    if UNDER_CI:
        pytest.fail(reason + " (CI=true: browser tests must run; .ci/run installs Debian's chromium)")
    pytest.skip(reason)


def launch(playwright: Any, *, headless: bool = True) -> Any:
    """Launch Debian's Chromium through a started ``sync_playwright()``; skips/fails when it is absent."""
    path = chromium_path()
    if path is None:
        unavailable(f"no Chromium executable at {', '.join(CHROMIUM_PATHS)} (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=path, headless=headless, args=list(CHROMIUM_ARGS))


class BrowserPage:
    """A Playwright page that records console errors and uncaught exceptions as text in ``errors``."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console error: {message.text}")

    def __getattr__(self, name: str) -> Any:  # goto, evaluate, screenshot, locator ... of the page
        return getattr(self.page, name)


#: The one Chromium of this test process. Every module that imports ``browser`` gets a fixture of its own
#: (pytest keys fixtures by the module they are found in), and a second ``sync_playwright()`` in the same
#: process fails ("Sync API inside the asyncio loop"), so the first fixture to run launches it and the
#: others borrow it.
_LAUNCHED: list[Any] = []


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole test session, shared by every module that imports this."""
    if _LAUNCHED:
        yield _LAUNCHED[0]
        return
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - playwright is a test dependency
        unavailable(f"playwright is not installed: {e}")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        _LAUNCHED.append(chromium)
        try:
            yield chromium
        finally:
            _LAUNCHED.clear()
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[BrowserPage]:
    """A fresh page in its own context (no shared cookies or storage) that records errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield BrowserPage(context.new_page())
    finally:
        context.close()


def log_in(page: BrowserPage, url: str, token: str) -> None:
    """Log in through the login form with a participant's token, as a person does."""
    page.goto(f"{url}/login")
    page.fill("#token", token)
    page.click("button[type=submit] >> text=Log in")
    page.wait_for_url(f"{url}/lots")
