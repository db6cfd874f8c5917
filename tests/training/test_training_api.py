from __future__ import annotations

import numpy as np
import pytest

from core.models import Job
from governance.catalog.models import LineageEdge
from tests.factories import interactions, table_csv
from training.ml import load_artifact
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_training_job_produces_a_model_version_with_test_metrics(payload, start_training, api_as):
    response = start_training(payload)
    assert response.status_code == 202, response.json()
    job = api_as("ml_engineer").get(f"/api/v1/jobs/{response.json()['id']}/").json()
    assert job["status"] == "succeeded", job["error"]
    assert job["result"] == {"model_version": {"model": "ctr", "version": 1}}
    assert job["details"]["curves"]["loss"] and job["details"]["curves"]["val_auc"]

    versions = api_as("viewer").get("/api/v1/models/ctr/versions/").json()["results"]
    assert len(versions) == 1
    v1 = versions[0]
    assert v1["version"] == 1 and v1["aliases"] == [] and v1["dataset_versions"] == [payload["dataset_version"]]
    assert set(v1["metrics"]) >= {"auc", "logloss", "accuracy", "precision", "recall", "f1"}
    assert 0.0 <= v1["metrics"]["auc"] <= 1.0 and v1["created_at"]
    models = api_as("viewer").get("/api/v1/models/").json()["results"]
    assert [m["name"] for m in models] == ["ctr"] and models[0]["latest_version"] == 1


def test_model_version_is_traced_in_the_dataset_lineage(payload, start_training, api_as):
    start_training(payload)
    mv = ModelVersion.objects.get()
    edge = LineageEdge.objects.get(target_type="model_version", target_id=mv.pk)
    assert edge.source_id == payload["dataset_version"] and edge.operation == "train"
    graph = api_as("viewer").get(f"/api/v1/dataset-versions/{payload['dataset_version']}/lineage/").json()
    keys = {n["key"] for n in graph["nodes"]}
    assert f"model_version:{mv.pk}" in keys
    assert {
        "source": f"dataset_version:{payload['dataset_version']}",
        "target": f"model_version:{mv.pk}",
        "operation": "train",
    }.items() <= next(e for e in graph["edges"] if e["target"] == f"model_version:{mv.pk}").items()


def test_version_loads_from_its_artifact_alone_and_predicts_like_training(payload, start_training):
    start_training(payload)
    mv = ModelVersion.objects.get()
    path = mv.artifact_path()
    predictor = load_artifact(path, device="cpu")
    saved = np.load(path / "test_predictions.npy")
    assert mv.metrics["count"] == len(saved)
    assert predictor.item_ids() and predictor.spec.item_column == "item_id"
    config = mv.config
    assert config["versions"]["torch"] and config["code_version"] and config["device"].startswith("cpu")
    assert config["split"]["strategy"] == "random" and sum(config["split_rows"].values()) == 240


def test_second_job_adds_version_two_and_aliases_move_with_history(payload, start_training, api_as):
    start_training(payload)
    start_training({**payload, "params": {**payload["params"], "seed": 1}})
    assert sorted(ModelVersion.objects.values_list("version", flat=True)) == [1, 2]
    engineer = api_as("ml_engineer")
    # force: tiny models may not beat their baseline; the guard has its own tests (test_production_guard.py)
    first = engineer.put("/api/v1/models/ctr/aliases/production/", {"version": 1, "force": True}, format="json")
    assert first.status_code == 200
    moved = engineer.put("/api/v1/models/ctr/aliases/production/", {"version": 2, "force": True}, format="json")
    assert moved.status_code == 200 and moved.json()["version"] == 2
    assert api_as("viewer").get("/api/v1/models/ctr/aliases/production/").json()["version"] == 2
    history = api_as("viewer").get("/api/v1/models/ctr/aliases/").json()["results"]
    assert [(e["from_version"], e["to_version"]) for e in history] == [(1, 2), (None, 1)]
    versions = {v["version"]: v for v in api_as("viewer").get("/api/v1/models/ctr/versions/").json()["results"]}
    assert versions[2]["aliases"] == ["production"] and versions[1]["aliases"] == []


def test_alias_to_a_missing_version_is_refused(payload, start_training, api_as):
    start_training(payload)
    response = api_as("ml_engineer").put("/api/v1/models/ctr/aliases/production/", {"version": 9}, format="json")
    assert response.status_code == 400 and "no version 9" in response.json()["detail"]


def test_viewer_may_read_models_but_not_train_or_move_aliases(payload, start_training, api_as):
    assert start_training(payload, role="viewer").status_code == 403
    assert not Job.objects.filter(kind="training").exists()
    start_training(payload)
    assert (
        api_as("viewer").put("/api/v1/models/ctr/aliases/production/", {"version": 1}, format="json").status_code == 403
    )


def _refused(start_training, body, fragment):
    response = start_training(body)
    assert response.status_code == 400, response.json()
    assert fragment in response.json()["detail"]
    assert not Job.objects.filter(kind="training").exists()


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"label_column": "price", "numeric_columns": []}, "must be binary"),
        ({"text_columns": ["synopsis"]}, "'synopsis' not found"),
        ({"base_model": "/no/such/model"}, "does not exist"),
        ({"params": {"lr": -1}}, "'lr' = -1.0 is out of range"),
        ({"params": {"epochs": 0}}, "'epochs' = 0 is out of range"),
        ({"numeric_columns": ["genre"], "categorical_columns": ["gender"]}, "numeric column 'genre'"),
        ({"dataset_version": 999999}, "Dataset version 999999 does not exist"),
        ({"model_name": "bad name!"}, "model_name must be"),
        ({"split": {"strategy": "time"}}, "time split needs time_column"),
        ({"split": {"strategy": "random", "fractions": [0.5, 0.5]}}, "three numbers"),
        ({"params": {"segment_column": "nope"}}, "segment column 'nope' not found"),
        ({"list_columns": ["genre"], "categorical_columns": ["gender"]}, "list column 'genre' has type string"),
        ({"list_columns": ["history"]}, "'history' not found"),
        ({"list_columns": ["genre"], "categorical_columns": [], "list_buckets": 1}, "list_buckets must be"),
        (
            {"list_columns": ["genre"], "categorical_columns": [], "list_pooling": "attention", "item_column": None},
            "name item_column",
        ),
        ({"list_columns": ["genre"], "list_pooling": "sum"}, "not a valid choice"),
    ],
)
def test_bad_input_is_a_400_naming_the_problem_and_creates_no_job(payload, start_training, change, fragment):
    _refused(start_training, {**payload, **change}, fragment)


def test_version_never_scanned_for_pii_is_refused(payload, start_training, upload):
    fresh = upload(table_csv(interactions(40)), name="fresh.csv", dataset="fresh")  # no scan ran
    _refused(start_training, {**payload, "dataset_version": fresh.pk}, "has not been scanned for PII")


@pytest.fixture
def emails(payload, scan_upload):
    """A scanned version with an email column (flagged, awaiting review) and a request to train on it."""
    text = "user_id,email,label\n" + "".join(f"{i},person{i}@example.com,{i % 2}\n" for i in range(30))
    flagged = scan_upload(text, name="emails.csv", dataset="emails")
    params = {k: v for k, v in payload["params"].items() if not k.startswith("segment")}
    body = {
        **payload,
        "dataset_version": flagged.pk,
        "text_columns": [],
        "categorical_columns": [],
        "numeric_columns": [],
        "item_column": None,
        "params": params,
    }
    return flagged, body


def test_version_with_unreviewed_pii_is_refused_with_the_reasons(emails, start_training):
    flagged, body = emails
    assert flagged.pii_status == "pii_unresolved"
    _refused(start_training, body, "column 'email': EMAIL_ADDRESS finding awaits a steward's review")


def test_pii_reviewed_by_a_steward_unlocks_training(emails, start_training, api_as):
    from governance.privacy.models import PiiFinding

    flagged, body = emails
    for finding in PiiFinding.objects.filter(version=flagged):
        reviewed = api_as("steward").patch(
            f"/api/v1/pii-findings/{finding.pk}/", {"decision": "rejected"}, format="json"
        )
        assert reviewed.status_code == 200, reviewed.json()
    response = start_training(body)
    assert response.status_code == 202, response.json()


def test_version_failing_blocking_quality_rules_is_refused_naming_them(
    payload, start_training, trainable, steward, django_capture_on_commit_callbacks
):
    from governance.quality.services import quality_rule_create

    with django_capture_on_commit_callbacks(execute=True):  # an active rule checks the version at once
        quality_rule_create(
            actor=steward, dataset=trainable.dataset, kind="range", columns=["price"], params={"max": 1.0}
        )
        quality_rule_create(
            actor=steward, dataset=trainable.dataset, kind="not_null", columns=["title"], severity="warning"
        )
    trainable.refresh_from_db()
    assert trainable.quality_status == "failed"
    _refused(start_training, payload, "fails its blocking quality rules: range(price in (-inf, 1.0])")


def test_version_failing_only_warning_quality_rules_may_be_trained_on(
    payload, start_training, trainable, steward, django_capture_on_commit_callbacks
):
    from governance.quality.services import quality_rule_create

    with django_capture_on_commit_callbacks(execute=True):
        quality_rule_create(
            actor=steward,
            dataset=trainable.dataset,
            kind="range",
            columns=["price"],
            params={"max": 1.0},
            severity="warning",
        )
    trainable.refresh_from_db()
    assert trainable.quality_status == "warning"
    assert start_training(payload).status_code == 202


def test_explicit_train_valid_test_versions(payload, start_training, scan_upload):

    table = interactions(240)
    parts = [
        scan_upload(table_csv(table.slice(a, b)), name=f"{n}.csv", dataset=f"clicks-{n}")
        for n, a, b in (("train", 0, 160), ("valid", 160, 40), ("test", 200, 40))
    ]
    body = {
        **payload,
        "dataset_version": parts[0].pk,
        "valid_version": parts[1].pk,
        "test_version": parts[2].pk,
        "split": {},
    }
    response = start_training(body)
    assert response.status_code == 202, response.json()
    mv = ModelVersion.objects.get()
    assert sorted(v.pk for v in mv.dataset_versions.all()) == sorted(p.pk for p in parts)
    assert mv.metrics["count"] == 40
    roles = dict(
        LineageEdge.objects.filter(target_type="model_version", target_id=mv.pk).values_list(
            "params__role", "source_id"
        )
    )
    assert roles == {"train": parts[0].pk, "valid": parts[1].pk, "test": parts[2].pk}
