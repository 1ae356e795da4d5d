"""``/docs`` works on an air-gapped registry: the page and everything it loads come from the server,
and in Chromium, with every request off the server refused, it draws the API's operations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from tests.browser import BrowserPage, browser, page  # noqa: F401
from tests.test_server_support import ServerWorld, running, server_world, shared_fixture  # noqa: F401


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_load_nothing_from_elsewhere(shared: ServerWorld, path: str) -> None:
    html = shared.client.get(path)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    loaded = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    assert loaded and all(url.startswith("/docs/assets/") for url in loaded), loaded
    assert "<script>" not in html.text  # no inline script: every script is a file served here
    for url in loaded:
        asset = shared.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 0, url


def test_the_assets_are_the_real_scripts(shared: ServerWorld) -> None:
    bundle = shared.client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("application/javascript")
    assert b"SwaggerUIBundle" in bundle.content and len(bundle.content) > 500_000
    redoc = shared.client.get("/docs/assets/redoc.standalone.js")
    assert b"Redoc" in redoc.content and len(redoc.content) > 500_000


@pytest.mark.parametrize("path", ["/docs/assets/../app.py", "/docs/assets/index.html", "/docs/assets/x.py"])
def test_nothing_else_is_served_under_docs(shared: ServerWorld, path: str) -> None:
    assert shared.client.get(path).status_code == 404


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    w = server_world(f"sqlite:///{tmp_path_factory.mktemp('docs') / 'registry.db'}")
    with running(create_app(Settings(secure_cookies=False), registry=w.registry)) as url:
        yield url


def test_the_docs_page_draws_every_operation_offline(served: str, page: BrowserPage) -> None:  # noqa: F811
    elsewhere: list[str] = []

    def only_here(route: Any) -> None:
        if route.request.url.startswith(served):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.goto(f"{served}/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    spec = page.evaluate("fetch('/openapi.json').then(r => r.json())")
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert page.locator(".opblock").count() == operations
    assert elsewhere == []
    assert page.errors == []
