"""Schemathesis sends generated bodies to the serving endpoints: whatever arrives, never a 5xx."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.factories import api_token, openapi_schema

# The WSGI app runs outside the test's transaction, so the rows it reads must be committed.
pytestmark = pytest.mark.django_db(transaction=True)


def _serving_schema() -> Any:
    loaded = openapi_schema()
    return loaded.include(path_regex=r"^/api/v1/serving/")


schema = _serving_schema()


@pytest.fixture
def token(shop: Any, personas: dict[str, Any]) -> str:
    return api_token(personas["ml_engineer"])


@schema.parametrize()
@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_serving_endpoints_never_answer_5xx(case: Any, token: str) -> None:
    case.path_parameters = {**(case.path_parameters or {}), "model_name": "shop"}
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
