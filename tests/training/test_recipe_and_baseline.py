"""Every training job runs the recipe that fits its device and registers a baseline beside the model."""

from __future__ import annotations

import pytest
import torch

from core.models import Job
from training.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_api_defaults_run_the_cpu_recipe_and_the_version_and_job_page_say_so(payload, start_training, api_as, personas):
    explicit = {"epochs": 2, "batch_size": 32, "embedding_dim": 8, "patience": 0, "checkpoint_every_steps": 0}
    assert start_training({**payload, "params": explicit}).status_code == 202
    job = Job.objects.get(kind="training")
    assert job.status == "succeeded", job.error
    assert job.params["explicit_params"] == explicit
    mv = ModelVersion.objects.get()
    recipe = mv.recipe
    assert recipe["name"] == "cpu_frozen_then_finetune" and recipe["device"] == "cpu"
    assert recipe["overridden"] == ["batch_size", "embedding_dim", "epochs", "patience"]  # explicit params win
    # what the CPU recipe filled in ran: 168 train rows / 32 = 6 steps x 2 epochs, all but the last 30 frozen
    assert mv.config["params"]["encoder_texts_per_step"] == 64 and mv.config["params"]["max_seq_len"] == 32
    assert mv.config["params"]["freeze_encoder_steps"] == 0 and mv.config["params"]["epochs"] == 2
    assert mv.config["recipe"]["name"] == recipe["name"]
    assert job.details["recipe"]["name"] == recipe["name"]

    from django.test import Client

    client = Client()
    client.force_login(personas["viewer"])
    page = client.get(f"/training-jobs/{job.pk}/").content.decode()
    assert "cpu_frozen_then_finetune" in page and "no CUDA device" in page
    version_page = client.get("/models/ctr/versions/1/").content.decode()
    assert (
        "cpu_frozen_then_finetune" in version_page
        and "explicit parameters win: batch_size, embedding_dim, epochs, patience" in version_page
    )
    # The version is the refit on train + validation (refit.py); the page says so, with the first pass's AUC.
    refit = mv.config["refit"]
    assert refit["rows"] == 168 + mv.config["split_rows"]["valid"]
    assert refit["steps"] == refit["epochs"] * -(-refit["rows"] // 32)
    assert f"Refit on train + validation: {refit['rows']} rows, {refit['steps']} steps" in version_page
    assert f"Test AUC of the first pass {refit['first_pass_test_auc']:.4f}" in version_page
    # What was blended into the final logit, as validation picked it (linear_blend.py, neighbours.py).
    neighbours = mv.config["neighbours"]
    assert neighbours["k"] == 50 and neighbours["rows"] == 168
    assert 'id="neighbours"' in version_page and 'id="blend"' in version_page
    if neighbours["weight"]:
        assert neighbours["refit_rows"] == refit["rows"]  # fitted again on train + validation
        assert f"weight {neighbours['weight']:.2f} in the final logit" in version_page
    else:
        assert "Neighbourhood term: none (validation AUC did not improve with it)" in version_page


def test_the_cuda_recipe_is_chosen_when_the_worker_has_a_cuda_device(payload, start_training, monkeypatch):
    # Inject the device the recipe sees (training itself still runs on this machine's CPU).
    monkeypatch.setattr("training.ml.recipes.pick_device", lambda requested=None: torch.device("cuda"))
    start_training({**payload, "params": {"epochs": 1, "batch_size": 64, "embedding_dim": 4}})
    mv = ModelVersion.objects.get()
    assert mv.recipe["name"] == "cuda_full_finetune" and mv.recipe["device"] == "cuda"
    assert mv.config["params"]["freeze_encoder_steps"] == 0 and mv.config["params"]["encoder_texts_per_step"] == 0


def test_every_version_carries_its_baseline_on_the_same_test_rows_and_the_api_shows_lift(
    payload, start_training, api_as
):
    start_training(payload)
    mv = ModelVersion.objects.get()
    assert mv.baseline_metrics["count"] == mv.metrics["count"]  # the same test rows
    assert 0.0 <= mv.baseline_metrics["auc"] <= 1.0
    assert (
        mv.baseline["name"] == "tfidf_onehot_logreg" and "TF-IDF word 1-2-grams of title" in mv.baseline["description"]
    )
    assert mv.lift == pytest.approx(mv.metrics["auc"] - mv.baseline_metrics["auc"])

    listed = api_as("viewer").get("/api/v1/models/ctr/versions/").json()["results"][0]
    assert listed["baseline_metrics"]["auc"] == mv.baseline_metrics["auc"]
    assert listed["lift"] == pytest.approx(mv.lift)
    assert listed["recipe"]["name"] == "cpu_frozen_then_finetune"
    detail = api_as("viewer").get("/api/v1/models/ctr/versions/1/").json()
    assert detail["baseline"]["C"] in (0.1, 0.3, 1.0, 3.0) and detail["full_recipe"]["params"]["epochs"] == 2


def test_version_and_compare_pages_show_baseline_and_lift(payload, start_training, personas):
    from django.test import Client

    start_training(payload)
    start_training({**payload, "params": {**payload["params"], "seed": 2}})
    client = Client()
    client.force_login(personas["viewer"])
    mv1, mv2 = ModelVersion.objects.order_by("version")
    page = client.get("/models/ctr/versions/1/").content.decode()
    assert "Baseline (test)" in page and f"{mv1.baseline_metrics['auc']:.4f}" in page
    assert f"Lift over the baseline: <strong>{mv1.lift:+.4f}</strong>" in page
    compare = client.get("/models/ctr/compare/?v=1&v=2").content.decode()
    assert "baseline auc" in compare and f"{mv2.lift:+.4f}" in compare and f"{mv1.lift:+.4f}" in compare
    listing = client.get("/models/ctr/").content.decode()
    assert "lift" in listing and f"{mv2.lift:+.4f}" in listing
