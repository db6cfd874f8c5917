"""Schemathesis drives the quality endpoints of the OpenAPI schema with generated input, as a steward: whatever it
sends, the answer is never a 5xx. (The dataset and dataset-version routes are also driven by the catalog's run.)"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import pytest
from django.contrib.auth.models import User
from hypothesis import HealthCheck, settings

from governance.catalog.services import dataset_create, dataset_version_upload
from governance.quality.models import QualityRule
from tests.factories import api_token, openapi_schema

pytestmark = pytest.mark.django_db(transaction=True)

QUALITY_PATHS = r"^/api/v1/(quality-rules/|datasets/\{id\}/quality-rules/|dataset-versions/\{id\}/quality)"


@dataclass(frozen=True)
class Objects:
    token: str
    dataset_id: int
    version_id: int
    rule_id: int


@pytest.fixture
def objects(make_user: Any) -> Objects:
    steward: User = make_user("steward")
    dataset = dataset_create(actor=steward, name="clicks")
    source = io.BytesIO(b"user_id,item_id,rating,title\n1,10,5,mug\n2,11,3,cup\n2,10,4,bowl\n")
    version, _ = dataset_version_upload(actor=steward, dataset=dataset, source=source, filename="clicks.csv")
    rule = QualityRule.objects.create(dataset=dataset, kind="range", columns=["rating"], params={"max": 5})
    return Objects(token=api_token(steward), dataset_id=dataset.pk, version_id=version.pk, rule_id=rule.pk)


schema = openapi_schema().include(path_regex=QUALITY_PATHS)


@schema.parametrize()
@settings(max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_quality_endpoints_never_answer_5xx(case: Any, objects: Objects) -> None:
    headers = {"Authorization": f"Token {objects.token}"}
    response = case.call(headers=headers)
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
    if case.path_parameters and "id" in case.path_parameters:
        if case.path.startswith("/api/v1/quality-rules/"):
            if case.method.upper() == "DELETE":
                return  # deleting the real rule would leave the next examples nothing to change
            real = objects.rule_id
        elif case.path.startswith("/api/v1/datasets/"):
            real = objects.dataset_id
        else:
            real = objects.version_id
        case.path_parameters = {**case.path_parameters, "id": real}
        response = case.call(headers=headers)
        assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.text[:500]}"
        assert response.status_code != 404, f"{case.method} {case.formatted_path} missed the real object"
