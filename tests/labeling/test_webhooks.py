"""Outgoing webhooks: HMAC-SHA256 signed bodies, retried with exponential backoff by a Celery task, every attempt
logged; the secret is shown once."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from governance.labeling.models import Task, WebhookDelivery
from governance.labeling.services import annotation_submit, task_next
from tests.factories import add_tasks, items_csv


@pytest.fixture(autouse=True)
def allow_private_webhooks(settings) -> None:
    """The test receivers listen on loopback, which webhooks may only reach with this setting on."""
    settings.STEWARD_WEBHOOK_ALLOW_PRIVATE = True


def _complete_one_task(project, annotator) -> Task:
    served = task_next(project=project, annotator=annotator)
    task = Task.objects.select_related("project").get(pk=served["id"])
    annotation_submit(task=task, annotator=annotator, label="Books")
    return task


@pytest.mark.django_db
def test_deliveries_are_signed_retried_and_logged_and_the_secret_is_shown_once(
    upload, make_project, annotators, steward_api, receiver, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    hook = receiver([500, 503, 200])
    project = make_project(upload(items_csv(2), name="items.csv"), overlap=1)
    add_tasks(project, [0])
    created = steward_api.put(f"/api/v1/labeling/projects/{project.pk}/webhook/", {"url": hook.url}, format="json")
    assert created.status_code == 200
    secret = created.json()["secret"]
    assert len(secret) == 64
    shown = steward_api.get(f"/api/v1/labeling/projects/{project.pk}/webhook/").json()
    assert "secret" not in shown and shown["events"] == ["task.completed", "project.completed", "export.finished"]

    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])

    # task.completed (3 attempts: 500, 503, 200) and project.completed (1 attempt).
    assert [json.loads(body)["event"] for _, body, _ in hook.requests] == ["task.completed"] * 3 + ["project.completed"]
    for headers, body, _ in hook.requests:
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Steward-Signature"] == expected
    payload = json.loads(hook.requests[0][1])
    assert payload["data"]["final_label"] == "Books" and payload["project"] == project.pk
    delivery = WebhookDelivery.objects.get(event="task.completed")
    assert (delivery.status, delivery.attempts) == ("succeeded", 3)
    assert [(a.number, a.status_code) for a in delivery.attempt_log.all()] == [(1, 500), (2, 503), (3, 200)]
    assert all(a.duration_ms > 0 for a in delivery.attempt_log.all())

    listed = steward_api.get(f"/api/v1/labeling/projects/{project.pk}/webhook/deliveries/").json()["results"]
    assert {d["event"]: d["attempts"] for d in listed} == {"task.completed": 3, "project.completed": 1}


@pytest.mark.django_db
def test_a_delivery_that_keeps_failing_ends_failed_after_the_retries(
    upload,
    make_project,
    annotators,
    steward_api,
    receiver,
    settings,
    run_tasks_eagerly,
    django_capture_on_commit_callbacks,
):
    settings.STEWARD_LABELING_WEBHOOK_RETRIES = 2
    hook = receiver([500])
    project = make_project(upload(items_csv(2), name="items.csv"), overlap=1)
    add_tasks(project, [0, 1])
    steward_api.put(
        f"/api/v1/labeling/projects/{project.pk}/webhook/",
        {"url": hook.url, "events": ["task.completed"]},
        format="json",
    )
    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", 3)  # the first attempt and two retries
    assert all(a.error == "HTTP 500" for a in delivery.attempt_log.all())


@pytest.mark.django_db
def test_an_unreachable_receiver_is_logged_with_the_error(
    upload, make_project, annotators, steward_api, settings, run_tasks_eagerly, django_capture_on_commit_callbacks
):
    settings.STEWARD_LABELING_WEBHOOK_RETRIES = 0
    project = make_project(upload(items_csv(2), name="items.csv"), overlap=1)
    add_tasks(project, [0, 1])
    steward_api.put(f"/api/v1/labeling/projects/{project.pk}/webhook/", {"url": "http://127.0.0.1:9/"}, format="json")
    with django_capture_on_commit_callbacks(execute=True):
        _complete_one_task(project, annotators[0])
    attempt = WebhookDelivery.objects.get().attempt_log.get()
    assert attempt.status_code is None and "refused" in attempt.error.lower()


@pytest.mark.django_db
def test_only_stewards_manage_webhooks_and_bad_urls_are_refused(upload, make_project, api_as):
    project = make_project(upload(items_csv(2), name="items.csv"))
    url = f"/api/v1/labeling/projects/{project.pk}/webhook/"
    assert api_as("annotator").put(url, {"url": "http://127.0.0.1:9/"}, format="json").status_code == 403
    assert api_as("steward").put(url, {"url": "ftp://example.com/"}, format="json").status_code == 400
    assert api_as("steward").put(url, {"url": "http://x/", "events": ["everything"]}, format="json").status_code == 400
    assert api_as("steward").get(url).status_code == 404


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_retries_with_exponential_backoff(upload, make_project, make_user, receiver):
    from tests.worker import start_worker, wait_for

    hook = receiver([500, 500, 204])
    annotator = make_user("annotator", "ann-w")
    steward = make_user("steward", "st-w")
    project = make_project(upload(items_csv(2), name="items.csv"), overlap=1)
    add_tasks(project, [0, 1])
    from governance.labeling.services import webhook_set

    webhook_set(actor=steward, project=project, url=hook.url, events=["task.completed"])
    with start_worker(
        "default", extra_env={"STEWARD_LABELING_WEBHOOK_BACKOFF_S": "1", "STEWARD_WEBHOOK_ALLOW_PRIVATE": "1"}
    ) as proc:
        _complete_one_task(project, annotator)
        wait_for(lambda: WebhookDelivery.objects.filter(status="succeeded").exists(), timeout=90, proc=proc)
    times = [t for _, _, t in hook.requests]
    assert len(times) == 3
    # countdown 1 s, then 2 s: each wait at least the backoff.
    assert times[1] - times[0] >= 0.9 and times[2] - times[1] >= 1.9
    assert WebhookDelivery.objects.get().attempts == 3
