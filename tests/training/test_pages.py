from __future__ import annotations

import pytest
from django.test import Client

from core.models import Job
from tests.factories import interactions, table_csv
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(personas):
    def as_role(role: str) -> Client:
        client = Client()
        client.force_login(personas[role])
        return client

    return as_role


@pytest.fixture
def two_versions(payload, start_training):
    start_training(payload)
    start_training({**payload, "params": {**payload["params"], "seed": 3, "embedding_dim": 4}})
    return list(ModelVersion.objects.order_by("version"))


def test_model_pages_show_versions_metrics_and_curves(two_versions, browser):
    viewer = browser("viewer")
    listing = viewer.get("/models/").content.decode()
    assert 'href="/models/ctr/"' in listing
    page = viewer.get("/models/ctr/").content.decode()
    assert "v1" in page and "v2" in page and "<svg" in page and "Compare selected" in page
    version = viewer.get("/models/ctr/versions/1/").content.decode()
    auc = two_versions[0].metrics["auc"]
    assert f"{auc:.4f}" in version and "AUC per segment" in version and "<polyline" in version


def test_compare_page_puts_versions_side_by_side(two_versions, browser):
    page = browser("viewer").get("/models/ctr/compare/?v=1&v=2").content.decode()
    for mv in two_versions:
        assert f"{mv.metrics['logloss']:.4f}" in page
    assert "embedding_dim" in page  # the parameter that differs
    assert browser("viewer").get("/models/ctr/compare/?v=1").status_code == 400


def test_alias_form_moves_production_for_engineers_only(two_versions, browser):
    # force: tiny models may not beat their baseline; the guard has its own tests (test_production_guard.py)
    engineer = browser("ml_engineer")
    response = engineer.post("/models/ctr/", {"alias": "production", "version": 2, "force": "on"})
    assert response.status_code == 302
    assert ModelVersion.objects.get(version=2).aliases.get().name == "production"
    # A first production: the page says what serving did before the move (here no serving process was running).
    assert (
        "production points to version 2. No serving process was running"
        in engineer.get("/models/ctr/").content.decode()
    )
    assert browser("viewer").post("/models/ctr/", {"alias": "production", "version": 1}).status_code == 403


def test_training_job_page_draws_live_curves(two_versions, browser):
    job = Job.objects.filter(kind="training").first()
    page = browser("viewer").get(f"/training-jobs/{job.pk}/").content.decode()
    assert f'data-job-id="{job.pk}"' in page and "job-update" in page and "Validation AUC" in page
    assert "/models/ctr/versions/" in page


def test_training_job_curves_are_a_server_drawn_fragment_the_job_page_fetches(two_versions, browser):
    job = Job.objects.filter(kind="training").first()
    page = browser("viewer").get(f"/training-jobs/{job.pk}/").content.decode()
    assert f'data-src="/training-jobs/{job.pk}/curves/"' in page and "createElementNS" not in page
    fragment = browser("viewer").get(f"/training-jobs/{job.pk}/curves/")
    assert fragment.status_code == 200
    html = fragment.content.decode()
    assert html.count("<svg") == 2 and "<polyline" in html and "<html" not in html
    assert f"of {job.details['training']['total_steps']}" in html
    # The job ended with its refit on train + validation (refit.py); the fragment says which pass the steps are.
    training = job.details["training"]
    assert training["phase"] == "refit"
    assert f"refit on train + validation: step {training['step']} of {training['total_steps']}" in html
    assert browser("outsider").get(f"/training-jobs/{job.pk}/curves/").status_code == 403
    assert browser("viewer").get("/training-jobs/999999/curves/").status_code == 404


def test_lineage_node_links_to_the_version_page(two_versions, browser):
    mv = two_versions[0]
    response = browser("viewer").get(f"/model-versions/{mv.pk}/")
    assert response.status_code == 302 and response["Location"] == "/models/ctr/versions/1/"


def test_train_form_starts_a_job_and_an_unscanned_version_shows_why_not(trainable, upload, browser, tiny_base_model):

    engineer = browser("ml_engineer")
    fresh = upload(table_csv(interactions(30)), name="fresh.csv", dataset="fresh")
    page = engineer.get(f"/dataset-versions/{fresh.pk}/train/").content.decode()
    assert "has not been scanned for PII" in page
    form = {
        "model_name": "from-form",
        "label_column": "label",
        "text_columns": "title",
        "categorical_columns": "gender, genre",
        "numeric_columns": "price",
        "user_column": "user_id",
        "item_column": "item_id",
        "base_model": tiny_base_model,
        "split": "random",
        "params": '{"epochs": 1, "batch_size": 32}',
    }
    response = engineer.post(f"/dataset-versions/{trainable.pk}/train/", form)
    assert response.status_code == 302
    job = Job.objects.get(kind="training")
    assert response["Location"] == f"/training-jobs/{job.pk}/"
    refused = engineer.post(f"/dataset-versions/{fresh.pk}/train/", {**form, "model_name": "x"})
    assert refused.status_code == 400 and Job.objects.filter(kind="training").count() == 1


def test_admin_lists_versions_with_their_metrics(two_versions, personas):
    admin = Client()
    admin.force_login(personas["admin"])
    page = admin.get("/admin/training/modelversion/").content.decode()
    assert "ctr v1" in page and f"{two_versions[1].metrics['auc']:.4f}" in page


def test_admin_model_page_inlines_versions_with_auc(two_versions, personas):
    from training.models import RegisteredModel

    admin = Client()
    admin.force_login(personas["admin"])
    model = RegisteredModel.objects.get(name="ctr")
    page = admin.get(f"/admin/training/registeredmodel/{model.pk}/change/").content.decode()
    assert f"{two_versions[0].metrics['auc']:.4f}" in page
