"""Annotators working at once, from threads with their own database connections: no label is lost or counted twice,
no task gets more than its overlap, and the last slot of a task goes to one annotator only.

Run it on PostgreSQL too (DATABASE_URL=postgres://...): SQLite serializes writers, which hides races.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from core.errors import ServiceError
from governance.labeling.models import Annotation, Assignment, Task
from governance.labeling.services import annotation_submit, task_next
from tests.factories import CATEGORIES, add_tasks, items_csv

pytestmark = pytest.mark.django_db(transaction=True)


def _in_threads(n: int, work: Callable[[int], Any]) -> list[Any]:
    """Run work(i) in n threads released together; returns results (or the exception raised) in order."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001  (the test inspects what each thread got)
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


@pytest.fixture
def version(upload):
    return upload(items_csv(12), name="items.csv", dataset="items")


def test_six_annotators_at_once_give_every_task_exactly_its_overlap(version, make_project, make_user):
    project = make_project(version, overlap=3)
    add_tasks(project, list(range(12)))
    users = [make_user("annotator", f"a{i}") for i in range(6)]

    def annotate(i: int) -> int:
        rng = random.Random(i)
        done = 0
        while (served := task_next(project=project, annotator=users[i])) is not None:
            task = Task.objects.select_related("project").get(pk=served["id"])
            annotation_submit(task=task, annotator=users[i], label=rng.choice(CATEGORIES))
            done += 1
        return done

    results = _in_threads(6, annotate)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) == 36 == Annotation.objects.count()
    per_task = Counter(Annotation.objects.values_list("task_id", flat=True))
    assert set(per_task.values()) == {3}
    for task in Task.objects.all():
        assert task.annotation_count == task.slots_taken == 3
        assert task.status in ("done", "review")
    assert not Assignment.objects.filter(status="leased").exists()


def test_the_last_slot_goes_to_one_annotator_only(version, make_project, make_user):
    project = make_project(version, overlap=1)
    add_tasks(project, [0])
    users = [make_user("annotator", f"b{i}") for i in range(8)]
    results = _in_threads(8, lambda i: task_next(project=project, annotator=users[i]))
    served = [r for r in results if isinstance(r, dict)]
    assert len(served) == 1 and results.count(None) == 7, results
    assert Task.objects.get().slots_taken == 1
    assert Assignment.objects.count() == 1


def test_the_same_submission_sent_eight_times_at_once_counts_once(version, make_project, make_user):
    project = make_project(version, overlap=2)
    add_tasks(project, [0])
    user = make_user("annotator", "c0")
    served = task_next(project=project, annotator=user)
    task = Task.objects.select_related("project").get(pk=served["id"])
    results = _in_threads(8, lambda i: annotation_submit(task=task, annotator=user, label="Books"))
    created = [r for r in results if isinstance(r, Annotation)]
    refused = [r for r in results if isinstance(r, ServiceError)]
    assert len(created) == 1 and len(refused) == 7, results
    assert {r.status_code for r in refused} == {409}
    assert Annotation.objects.count() == 1
    assert Task.objects.get().annotation_count == 1
