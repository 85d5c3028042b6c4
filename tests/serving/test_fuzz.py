"""Schemathesis drives the OpenAPI schema against the app in process: no 500, every error is
JSON with a code and a message, every 2xx matches its declared response model."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def schema(app):
    return schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)


@pytest.mark.parametrize("user", ["mgr", "cw1"])
def test_no_server_errors(schema, auth, user):
    headers = auth(user)
    failures: list[str] = []
    for op in schema.get_all_operations():
        operation = op.ok()

        @settings(max_examples=25, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(headers=headers)
            where = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.status_code >= 500:
                failures.append(where)
                return
            if response.status_code >= 400:
                err = response.json().get("error", {})
                assert err.get("code") and err.get("message"), where
            else:
                case.validate_response(response, checks=(response_schema_conformance,))

        run()
    assert failures == []
