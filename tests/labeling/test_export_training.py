"""Export: a job that writes a labeled dataset version with a `label_export` lineage edge; the training API accepts
it as it is; the model trained on it then scores rows for active learning and pseudo-labels (the training app's
hook, a real artifact)."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from core.models import Job
from core.storage import local_path
from governance.catalog.models import DatasetVersion, LineageEdge
from governance.labeling.models import Task
from governance.labeling.services import annotation_submit, task_next
from tests.factories import add_tasks, search_csv

pytestmark = pytest.mark.django_db


@pytest.fixture
def labeled(scan_upload, make_project, annotators):
    """A relevance project on an 80-row search log, every row labeled by one annotator (clicked rows relevant)."""
    version = scan_upload(search_csv(80), name="search.csv", dataset="search-log")
    assert version.pii_status == "clean", version.pii_status
    project = make_project(
        version,
        name="search relevance",
        template="relevance",
        labels=None,
        overlap=1,
        display_columns=["query", "title"],
    )
    add_tasks(project)
    while (served := task_next(project=project, annotator=annotators[0])) is not None:
        task = Task.objects.select_related("project").get(pk=served["id"])
        label = "relevant" if served["row"] % 3 == 0 else "not_relevant"
        annotation_submit(task=task, annotator=annotators[0], label=label)
    return project


def test_export_writes_a_labeled_version_in_the_lineage_and_a_training_job_on_it_succeeds(
    labeled,
    run_api_job,
    steward_api,
    api_as,
    tiny_base_model,
):
    project = labeled
    job = run_api_job(lambda: steward_api.post(f"/api/v1/labeling/projects/{project.pk}/export/", {}, format="json"))
    exported = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert job.result["rows"] == 80 and job.result["sources"] == {"human": 80}
    assert exported.operation == "label_export" and exported.row_count == 80
    assert exported.column_names == [
        *project.dataset_version.column_names,
        "label",
        "label_name",
        "label_source",
        "label_agreement",
        "label_annotations",
    ]
    with local_path(exported.parquet) as path:
        table = pq.read_table(path)
    with local_path(project.dataset_version.parquet) as path:
        source = pq.read_table(path)
    assert table.column("label").to_pylist()[:4] == [1, 0, 0, 1]
    assert set(table.column("label_source").to_pylist()) == {"human"}
    assert set(table.column("label_agreement").to_pylist()) == {1.0}
    assert table.select(source.column_names).equals(source)  # the source rows, in their order

    edge = LineageEdge.objects.get(target_id=exported.pk, target_type="dataset_version")
    assert edge.source_id == project.dataset_version_id and edge.operation == "label_export"
    assert edge.params["project"] == project.pk and edge.params["project_name"] == "search relevance"
    graph = api_as("viewer").get(f"/api/v1/dataset-versions/{exported.pk}/lineage/").json()
    edge_out = next(e for e in graph["edges"] if e["target"] == f"dataset_version:{exported.pk}")
    assert edge_out["source"] == f"dataset_version:{project.dataset_version_id}"
    assert edge_out["operation"] == "label_export"

    exported.refresh_from_db()
    assert exported.pii_status == "clean"  # scan_upload like every new version: the training gate lets it through
    body = {
        "model_name": "search-relevance",
        "dataset_version": exported.pk,
        "label_column": "label",
        "text_columns": ["query", "title"],
        "categorical_columns": [],
        "numeric_columns": ["position"],
        "item_column": "item_id",
        "base_model": tiny_base_model,
        "params": {"epochs": 1, "batch_size": 16, "lr": 0.02, "embedding_dim": 8, "patience": 0},
        "split": {"strategy": "random", "fractions": [0.6, 0.2, 0.2], "seed": 0},
    }
    training = run_api_job(lambda: api_as("ml_engineer").post("/api/v1/training-jobs/", body, format="json"))
    assert training.result["model_version"] == {"model": "search-relevance", "version": 1}

    # The trained version scores the search log through the training app's hook: active learning ...
    from training.models import ModelVersion

    model_version = ModelVersion.objects.get().pk
    project.model_version = model_version
    project.save(update_fields=["model_version"])
    Task.objects.filter(project=project, row__gte=60).delete()
    tasks = run_api_job(
        lambda: steward_api.post(
            f"/api/v1/labeling/projects/{project.pk}/tasks/",
            {"strategy": "uncertainty", "count": 5, "model_version": model_version},
            format="json",
        )
    )
    assert tasks.result["created"] == 5
    queued = list(Task.objects.filter(project=project, row__gte=60).order_by("-priority"))
    assert len(queued) == 5 and queued[0].priority >= queued[-1].priority > 0
    assert queued[0].suggestion["source"] == f"model_version:{model_version}"

    # ... and pseudo-labels for rows no human labeled, flagged as such.
    pseudo = run_api_job(
        lambda: steward_api.post(
            f"/api/v1/labeling/projects/{project.pk}/export/",
            {"pseudo_labels": {"min_confidence": 0.5}, "output_dataset": "search-log-pseudo"},
            format="json",
        )
    )
    assert pseudo.result["sources"] == {"human": 60, "pseudo": 20}
    version = DatasetVersion.objects.get(pk=pseudo.result["dataset_version"])
    assert version.dataset.name == "search-log-pseudo"
    with local_path(version.parquet) as path:
        table = pq.read_table(path, columns=["label_source", "label_confidence"])
    flagged = [c for s, c in zip(*(table.column(i).to_pylist() for i in range(2)), strict=True) if s == "pseudo"]
    assert len(flagged) == 20 and all(c >= 0.5 for c in flagged)


def test_export_refuses_a_label_column_that_exists_and_a_project_with_nothing_labeled(
    scan_upload, make_project, steward_api
):
    version = scan_upload(search_csv(10), name="search.csv", dataset="search-log")
    project = make_project(version, template="relevance", labels=None, display_columns=["query"])
    nothing = steward_api.post(f"/api/v1/labeling/projects/{project.pk}/export/", {}, format="json")
    assert nothing.status_code == 409 and "Nothing to export" in nothing.json()["detail"]
    clash = steward_api.post(
        f"/api/v1/labeling/projects/{project.pk}/export/", {"label_column": "clicked"}, format="json"
    )
    assert clash.status_code == 400 and "clicked" in clash.json()["detail"]
    assert not Job.objects.filter(kind="labeling_export").exists()
