"""schemathesis against the server's OpenAPI document: generated requests to every operation never
get a 500, and every response matches the document (status code, content type, body schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.test_server_support import (
    ServerWorld,
    shared_fixture,  # noqa: F401 (fixtures)
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(shared: ServerWorld) -> object:
    return schemathesis.openapi.from_asgi("/openapi.json", shared.client.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_conforming_responses(case: object, shared: ServerWorld) -> None:
    """Each generated request is sent by the secretariat (who may call everything), an operator and the
    public, so the refusals are checked against the document too."""
    for who in ("secretariat", "jp", None):
        case.call_and_validate(headers=shared.as_(who), checks=CHECKS)  # type: ignore[attr-defined]
