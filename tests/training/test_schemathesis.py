"""Schemathesis drives the training and registry endpoints with generated input, as an ML engineer:
whatever it sends, the answer is never a 5xx (bad input is a 400 naming the problem)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from governance.catalog.services import dataset_create, dataset_version_upload
from tests.factories import api_token, openapi_schema

pytestmark = pytest.mark.django_db(transaction=True)

TRAINING_PATHS = r"^/api/v1/(training-jobs|models)/"


def _schema() -> Any:
    loaded = openapi_schema()
    return loaded.include(path_regex=TRAINING_PATHS)


schema = _schema()


@pytest.fixture
def token(make_user: Any) -> str:
    engineer = make_user("ml_engineer")
    dataset = dataset_create(actor=engineer, name="clicks")
    source = io.BytesIO(b"user_id,item_id,label\n1,10,1\n2,11,0\n2,10,1\n")
    dataset_version_upload(actor=engineer, dataset=dataset, source=source, filename="clicks.csv")
    return api_token(engineer)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_training_endpoints_never_answer_5xx(case: Any, token: str) -> None:
    response = case.call(headers={"Authorization": f"Token {token}"})
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
