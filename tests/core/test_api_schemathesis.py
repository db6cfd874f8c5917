"""Schemathesis drives every operation of the OpenAPI schema with generated input, as every role (and anonymous):
whatever arrives, the answer is never a 5xx. Generated ids rarely exist, so each input is sent once more at real
objects (a dataset, a version with a scan and findings, a job, a labeling project with tasks, a recognizer)."""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import api_token, openapi_schema

# The WSGI app runs requests outside the test's transaction, so the rows it reads must really be committed.
pytestmark = pytest.mark.django_db(transaction=True)

ROLES = ("steward", "annotator", "ml_engineer", "viewer", "outsider", "admin", None)
CUSTOMERS = (
    b"customer,email,review,price\n"
    b"Maria Lopez,maria.lopez@example.com,Arrived fast call me on 212-555-0147,9.99\n"
    b"John Smith,john.smith@example.org,Great kettle and quick delivery,12.50\n"
    b"Anna Berg,anna.berg@example.net,Broken lid sadly,3.00\n"
)


@dataclass(frozen=True)
class World:
    users: dict[str, Any]
    tokens: dict[str | None, str | None]
    ids: dict[str, int]  # real object per path prefix


# The real object each {id} of a path prefix names.
PREFIXES = [
    (r"^/api/v1/dataset-versions/", "version"),
    (r"^/api/v1/datasets/", "dataset"),
    (r"^/api/v1/jobs/", "job"),
    (r"^/api/v1/labeling/projects/", "project"),
    (r"^/api/v1/labeling/tasks/", "task"),
    (r"^/api/v1/pii-findings/", "finding"),
    (r"^/api/v1/pii-scans/", "scan"),
    (r"^/api/v1/pii-recognizers/", "recognizer"),
]


@pytest.fixture
def world(personas: dict[str, Any]) -> World:
    from config.celery import app
    from core.jobs import job_create
    from governance.catalog.services import dataset_create, dataset_version_upload
    from governance.labeling.models import Task
    from governance.labeling.services import project_create
    from governance.privacy.models import CustomRecognizer, PiiFinding, PiiScan

    steward = personas["steward"]
    dataset = dataset_create(actor=steward, name="customers")
    app.conf.task_always_eager = True  # the automatic scan runs now, so findings exist
    try:
        version, _ = dataset_version_upload(
            actor=steward, dataset=dataset, source=io.BytesIO(CUSTOMERS), filename="customers.csv"
        )
    finally:
        app.conf.task_always_eager = False
    project = project_create(
        actor=steward,
        name="reviews",
        dataset_version=version,
        template="category",
        labels=["good", "bad"],
        display_columns=["review"],
        overlap=1,
    )
    task = Task.objects.create(project=project, row=0)
    recognizer = CustomRecognizer.objects.create(
        dataset=dataset, name="Vip", spec={"entity_type": "VIP_NAME", "deny_list": ["Zelda Quartermaine"]}
    )
    scan = PiiScan.objects.filter(version=version).latest("pk")
    ids = {
        "version": version.pk,
        "dataset": dataset.pk,
        "job": job_create(kind="transform", actor=steward).pk,
        "project": project.pk,
        "task": task.pk,
        "finding": PiiFinding.objects.filter(version=version).first().pk,
        "scan": scan.pk,
        "recognizer": recognizer.pk,
    }
    tokens = {role: api_token(personas[role]) if role else None for role in ROLES}
    return World(users=personas, tokens=tokens, ids=ids)


schema = openapi_schema()
OPERATIONS = [result.ok() for result in schema.get_all_operations()]
# Examples per operation (SCHEMATHESIS_EXAMPLES=20 for a deeper run). One test draws them all: a test per operation
# would rebuild the world 61 times. 3 examples x 61 operations x 7 callers, about 1.5 min on a loaded 2-core box.
EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "3"))


def _real(case: Any, world: World) -> dict[str, Any] | None:
    params = case.path_parameters or {}
    if "id" not in params:
        return None
    for prefix, name in PREFIXES:
        if re.match(prefix, case.path):
            return {**params, "id": world.ids[name]}
    return None


def _call_as_every_role(case: Any, world: World) -> list[str]:
    generated = dict(case.path_parameters or {})
    real = _real(case, world)
    failures = []
    revokes = case.path.startswith("/api/v1/auth/logout")
    for role in ROLES:
        token = world.tokens[role]
        headers = {"Authorization": f"Token {token}"} if token else {}
        for params in (generated, real) if real else (generated,):
            case.path_parameters = params
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{role or 'anonymous'}: {case.method} {case.formatted_path}: {response.text[:300]}")
    if revokes:
        # Logging out revoked the tokens (logout-all: every token of the user): new ones for what follows.
        world.tokens.update({role: api_token(world.users[role]) for role in ROLES if role})
    return failures


def test_the_schema_covers_every_api_operation() -> None:
    assert len(OPERATIONS) >= 60
    paths = {op.path for op in OPERATIONS}
    assert {"/api/v1/auth/token/", "/api/v1/pii/analyze/", "/api/v1/pii/decrypt/", "/api/v1/training-jobs/"} <= paths


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_operation_answers_5xx_to_any_role(data: Any, world: World) -> None:
    failures = []
    for operation in OPERATIONS:
        case = data.draw(operation.as_strategy(), label=operation.label)
        failures += _call_as_every_role(case, world)
    assert not failures, "\n".join(failures)
