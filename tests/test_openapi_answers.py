"""Issue #18: every API route declares its answer, so the OpenAPI document describes every response
and the schema tests (schemathesis) have something to check each body against."""

from __future__ import annotations

from pathlib import Path

from raretrace.ledger.registry import Registry
from raretrace.server.app import create_app
from raretrace.server.settings import Settings
from raretrace.store.db import make_engine

METHODS = {"get", "post", "put", "patch", "delete"}


def _described(response: dict[str, object]) -> bool:
    content = response.get("content")
    if not isinstance(content, dict):
        return False
    for body in content.values():
        schema = body.get("schema", {}) if isinstance(body, dict) else {}
        if any(key in schema for key in ("$ref", "type", "anyOf", "oneOf", "allOf", "items", "properties")):
            return True
    return False


def test_every_api_operation_describes_its_success_body(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    registry = Registry.init(make_engine(url), "openapi.example/log")
    spec = create_app(Settings(dev=True), registry=registry).openapi()
    operations = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items() if m in METHODS]
    assert len(operations) >= 50  # the whole API, not a corner of it
    undescribed = [
        f"{method.upper()} {path}"
        for method, path, op in operations
        if not any(
            code == "204" or _described(response)
            for code, response in op["responses"].items()
            if code.startswith("2")
        )
    ]
    assert not undescribed, "routes without a declared answer: " + ", ".join(undescribed)


def test_every_api_operation_that_reads_the_registry_declares_503(tmp_path: Path) -> None:
    """A database failing under a request answers 503 problem+json (docs/server.md, "A database
    restart"), so every operation under /api/ says so, with the problem shape."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    registry = Registry.init(make_engine(url), "openapi.example/log")
    spec = create_app(Settings(dev=True), registry=registry).openapi()
    api = [(m, p, op) for p, ops in spec["paths"].items() for m, op in ops.items() if m in METHODS]
    api = [(m, p, op) for m, p, op in api if p.startswith("/api/")]
    assert len(api) >= 40
    missing = [
        f"{method.upper()} {path}"
        for method, path, op in api
        if "application/problem+json" not in op["responses"].get("503", {}).get("content", {})
    ]
    assert not missing, "operations without a 503 problem: " + ", ".join(missing)
