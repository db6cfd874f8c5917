"""`next` and submitting are what annotators call back to back: each runs a fixed, small number of SQL statements,
whatever the project's size (a regression here is what made the labeling benchmark's p99 miss its target)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from governance.labeling.models import Annotation, Assignment, Task
from tests.factories import add_tasks, api_token, items_csv

pytestmark = pytest.mark.django_db

# next: the project (with the annotator-list check), the caller's open lease, the claim (one UPDATE ... RETURNING),
# the lease (one upsert), and the version's hidden columns (latest scan with its in-flight state, its findings).
NEXT_STATEMENTS = 6
# submit: the task (with its project and the list check), the lease turned into a submission (UPDATE ...
# RETURNING), the annotation, the task's count (UPDATE ... RETURNING); where the database has row locks
# (PostgreSQL), the task's row is locked first, as undo and review lock it.
SUBMIT_STATEMENTS = 4


def submit_statements() -> int:
    return SUBMIT_STATEMENTS + (1 if connection.features.has_select_for_update else 0)


def _statements(captured: CaptureQueriesContext) -> list[str]:
    # Savepoints are the test's transaction showing through (in production they are BEGIN/COMMIT).
    return [q["sql"] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]


@pytest.fixture
def token_client(annotators: list[Any]) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(annotators[0])}")  # the real token path
    return client


@pytest.mark.parametrize("tasks", [5, 60])
def test_next_and_submit_run_a_fixed_number_of_statements(
    scan_upload: Any, make_project: Any, annotators: list[Any], token_client: APIClient, tasks: int
) -> None:
    version = scan_upload(items_csv(max(tasks, 12)), name="items.csv", dataset="items")
    project = make_project(
        version, display_columns=["title", "category"], overlap=3, annotators=[a.username for a in annotators[:2]]
    )
    add_tasks(project, list(range(tasks)))
    token_client.get(f"/api/v1/labeling/projects/{project.pk}/next/")  # the token is looked up once per process
    Assignment.objects.all().delete()
    Task.objects.update(slots_taken=0)
    for _ in range(3):
        with CaptureQueriesContext(connection) as next_queries:
            got = token_client.get(f"/api/v1/labeling/projects/{project.pk}/next/")
        assert got.status_code == 200, got.content
        with CaptureQueriesContext(connection) as submit_queries:
            sent = token_client.post(
                f"/api/v1/labeling/tasks/{got.json()['id']}/annotations/", {"label": "Electronics"}, format="json"
            )
        assert sent.status_code == 201, sent.content
        assert len(_statements(next_queries)) == NEXT_STATEMENTS, _statements(next_queries)
        assert len(_statements(submit_queries)) == submit_statements(), _statements(submit_queries)
    assert Annotation.objects.filter(annotator=annotators[0]).count() == 3
    assert sorted(Task.objects.filter(annotation_count=1).values_list("slots_taken", flat=True)) == [1, 1, 1]


def test_an_expired_lease_is_taken_again_by_the_one_upsert(
    scan_upload: Any, make_project: Any, annotators: list[Any], token_client: APIClient
) -> None:
    version = scan_upload(items_csv(12), name="items.csv", dataset="items")
    project = make_project(version, overlap=1)
    add_tasks(project, [0])
    first = token_client.get(f"/api/v1/labeling/projects/{project.pk}/next/").json()
    lease = Assignment.objects.get(task_id=first["id"])
    Assignment.objects.filter(pk=lease.pk).update(status=Assignment.Status.EXPIRED)
    Task.objects.filter(pk=first["id"]).update(slots_taken=0)
    again = token_client.get(f"/api/v1/labeling/projects/{project.pk}/next/").json()
    assert again["id"] == first["id"]
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.LEASED and Assignment.objects.count() == 1
    sent = token_client.post(
        f"/api/v1/labeling/tasks/{again['id']}/annotations/", {"label": "Electronics"}, format="json"
    )
    assert sent.status_code == 201, sent.content
    task = Task.objects.get(pk=again["id"])
    assert (task.status, task.annotation_count, task.final_label) == ("done", 1, "Electronics")
    assert 0 <= Annotation.objects.get().seconds < 60


@pytest.mark.parametrize("held", [Assignment.Status.LEASED, Assignment.Status.SUBMITTED, Assignment.Status.SKIPPED])
def test_the_lease_upsert_never_overwrites_an_assignment_that_has_not_expired(
    scan_upload: Any, make_project: Any, annotators: list[Any], held: str
) -> None:
    """The claim's snapshot can predate the annotator's own parallel claim of the same task (PostgreSQL, read
    committed): its lease must then fail, rolling back the slot it took, not turn their submitted (or skipped,
    or live) assignment back into a fresh lease and count the slot twice."""
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    from governance.labeling.services import _lease

    version = scan_upload(items_csv(12), name="items.csv", dataset="items")
    project = make_project(version, overlap=2)
    add_tasks(project, [0])
    task = Task.objects.get(project=project)
    earlier = timezone.now() - timezone.timedelta(minutes=5)
    Assignment.objects.create(
        task=task, project=project, annotator=annotators[0], status=held, leased_at=earlier, expires_at=earlier
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        _lease(task, annotators[0], timezone.now())
    kept = Assignment.objects.get(task=task, annotator=annotators[0])
    assert (kept.status, kept.leased_at) == (held, earlier)
