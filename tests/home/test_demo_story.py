"""The demo story (`demo_story` job): the whole governed chain on tiny demo data, run eagerly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User

from core.models import AuditEvent, Job
from governance.catalog.models import DatasetVersion
from governance.catalog.selectors import lineage_graph
from governance.catalog.services import dataset_get_or_create, dataset_version_upload
from governance.labeling.models import Annotation, Project
from governance.privacy.models import PiiFinding
from home import story
from home.demo_data import write_demo_data, write_search_log
from home.selectors import demo_story_progress
from home.services import demo_story_start
from serving.models import ServingStat
from training.models import ModelAlias

pytestmark = pytest.mark.django_db(transaction=True)

TINY = {"n_users": 40, "n_items": 30}


@pytest.fixture
def admin(settings: Any, tiny_base_model: str, run_tasks_eagerly: None) -> User:
    """The admin of a fresh `make run` with tiny demo datasets registered (and scanned, eagerly)."""
    from core.services import roles_ensure

    settings.STEWARD_BASE_MODEL = tiny_base_model
    settings.STEWARD_SERVING_BACKGROUND_WRITES = False
    roles_ensure()
    return User.objects.create_superuser("admin", "admin@localhost", "pw-admin-123")


def _register(admin: User, out: Path) -> dict[str, DatasetVersion]:
    files = write_demo_data(out, n_interactions=600, **TINY)
    files["search_log"] = write_search_log(out, n_searches=30, **TINY)
    names = {"users": "demo-users", "items": "demo-items", "interactions": "demo-interactions"}
    names["search_log"] = "demo-search-log"
    versions = {}
    for key, name in names.items():
        dataset = dataset_get_or_create(actor=admin, name=name, kind="other")
        with files[key].open("rb") as fh:
            versions[key], _ = dataset_version_upload(actor=admin, dataset=dataset, source=fh, filename=files[key].name)
    return versions


def test_the_story_traces_a_production_model_back_to_the_raw_uploads(admin: User, tmp_path: Path) -> None:
    from serving.loader import reset_cache

    raw = _register(admin, tmp_path)
    job, started = demo_story_start(actor=admin)
    job.refresh_from_db()
    reset_cache()
    assert started
    assert job.status == Job.Status.SUCCEEDED, job.error
    result = job.result

    # Lineage: from each raw upload through join, label, mask and split to the model version in production.
    train_version = DatasetVersion.objects.get(pk=result["split"][0])
    graph = lineage_graph(version=train_version)
    keys = {node["key"] for node in graph["nodes"]}
    assert {f"dataset_version:{raw[k].pk}" for k in ("users", "items", "interactions")} <= keys
    operations = {edge["operation"] for edge in graph["edges"]}
    assert {"join", "label", "mask", "split"} <= operations
    model_nodes = [node for node in graph["nodes"] if node["type"] == "model_version"]
    assert len(model_nodes) == 1
    production = ModelAlias.objects.get(model__name=story.MODEL, name="production")
    assert production.version.version == result["train"]["version"] == 1

    # The steward's decisions are in the audit log, under the admin's name, and the masked data has no e-mail.
    label_version = DatasetVersion.objects.get(pk=result["label"])
    accepted = set(
        label_version.pii_findings.filter(decision=PiiFinding.Decision.ACCEPTED).values_list("column", flat=True)
    )
    assert "email" in accepted
    decisions = AuditEvent.objects.filter(action__startswith="pii.finding", actor=admin)
    assert decisions.count() >= len(accepted)
    assert AuditEvent.objects.filter(action="pii.mask.start", actor=admin).exists()
    policy = AuditEvent.objects.get(action="demo_story.pii_policy")
    assert policy.actor == admin and policy.object_id == str(label_version.pk)
    assert set(policy.summary["accepted"]) == accepted
    masked = DatasetVersion.objects.get(pk=result["mask"])
    assert not {"email", "name", "phone", "street_address", "review_text"} & set(masked.column_names)

    # Monitoring has traffic; the labeling project has annotations; the dashboard shows every step done.
    assert sum(stat.requests for stat in ServingStat.objects.filter(model_name=story.MODEL)) == story.RANK_REQUESTS
    project = Project.objects.get(pk=result["labeling"]["project"])
    assert Annotation.objects.filter(task__project=project).count() == story.ANNOTATIONS
    progress = demo_story_progress()
    assert progress is not None and [s["status"] for s in progress["steps"]] == ["done"] * len(story.STEPS)
    assert progress["links"]["monitoring"] == f"/models/{story.MODEL}/monitoring/"

    # A second `make run` finds the finished story and does nothing.
    jobs_before = Job.objects.count()
    again, started_again = demo_story_start(actor=admin)
    assert (again.pk, started_again) == (job.pk, False)
    assert Job.objects.count() == jobs_before


def test_a_story_without_the_raw_uploads_fails_naming_the_step(admin: User) -> None:
    job, _ = demo_story_start(actor=admin)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert "find the three raw demo uploads" in job.error and "steward_setup" in job.error
    progress = demo_story_progress()
    assert progress["steps"][0]["status"] == "failed"
    # A failed story is started anew by the next `make run`.
    retry, started = demo_story_start(actor=admin)
    assert started and retry.pk != job.pk


def test_the_dashboard_shows_each_step_of_the_story(admin: User, client: Any) -> None:
    job, _ = demo_story_start(actor=admin)  # no raw uploads: the first step fails
    client.force_login(admin)
    page = client.get("/").content.decode()
    assert f"job #{job.pk}" in page
    assert (
        'data-step="raw">find the three raw demo uploads: <span class="step-status job-status status-failed">failed'
        in page
    )
    assert (
        'data-step="train">train a small CTR model on CPU: <span class="step-status job-status status-waiting">waiting'
        in page
    )


def test_make_run_starts_the_story_once_the_site_answers_and_only_once(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from home.management.commands.steward_run import Command

    command = Command(stdout=io.StringIO(), stderr=io.StringIO())
    answers = iter([False, True])
    monkeypatch.setattr(command, "_web_answers", lambda host, port: next(answers))
    deadline = 1e12
    assert command.demo_tick("127.0.0.1", "8000", deadline) == deadline  # not answering yet: keep waiting
    assert not Job.objects.filter(kind=story.KIND).exists()
    assert command.demo_tick("127.0.0.1", "8000", deadline) is None
    assert "The demo story is running as job" in command.stdout.getvalue()
    # STEWARD_DEMO=0 gives no deadline: nothing is ever started.
    monkeypatch.setattr(command, "_web_answers", lambda host, port: True)
    assert command.demo_tick("127.0.0.1", "8000", None) is None
    assert Job.objects.filter(kind=story.KIND).count() == 1
    # The next `make run` (the first story failed: no raw uploads here) starts it anew; a running one is left alone.
    Job.objects.filter(kind=story.KIND).update(status=Job.Status.RUNNING)
    command.demo_tick("127.0.0.1", "8000", deadline)
    assert "already ran" in command.stdout.getvalue()
    assert Job.objects.filter(kind=story.KIND).count() == 1


def test_one_worker_process_cannot_run_the_story_so_it_is_not_started(
    admin: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from home.management.commands.steward_run import Command

    monkeypatch.setenv("STEWARD_WORKER_CONCURRENCY", "1")
    command = Command(stdout=io.StringIO(), stderr=io.StringIO())
    monkeypatch.setattr(command, "_web_answers", lambda host, port: True)
    assert command.demo_tick("127.0.0.1", "8000", 1e12) is None
    assert "needs STEWARD_WORKER_CONCURRENCY >= 2" in command.stderr.getvalue()
    assert not Job.objects.filter(kind=story.KIND).exists()
