"""The training job's lifecycle in the worker: cancellation, resume after a lost worker, time limit."""

from __future__ import annotations

import pytest

from core.jobs import JobCancelled, Reporter, job_claim, run_job
from core.models import Job
from tests.factories import expire_lease
from training.models import ModelVersion
from training.serializers import as_request
from training.services.jobs import checkpoint_dir, job_recipe, training_job_start, training_run

pytestmark = pytest.mark.django_db


def _start(actor, payload, **changes) -> Job:
    body = {**payload, **changes}
    body.setdefault("user_column", None)
    return training_job_start(
        actor=actor,
        request=as_request(
            {
                "text_columns": [],
                "categorical_columns": [],
                "numeric_columns": [],
                "item_column": None,
                "base_model": None,
                "params": {},
                "split": {},
                "valid_version": None,
                "test_version": None,
                "time_limit_s": None,
                **body,
            }
        ),
    )


def test_cancel_request_stops_training_between_steps(payload, personas):
    job = _start(personas["ml_engineer"], payload)
    claimed = job_claim(job.pk)
    assert claimed is not None
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    with pytest.raises(JobCancelled):
        training_run(job=claimed, reporter=Reporter(job.pk))
    assert not ModelVersion.objects.exists()
    assert not checkpoint_dir(job.pk).exists()


def test_redelivered_job_resumes_from_its_checkpoint(payload, personas):
    """A worker that dies leaves the job running with a checkpoint; the redelivery resumes it."""
    from training.ml import FeatureSpec, TrainingCancelled, train
    from training.ml.splits import split_table
    from training.services.jobs import _read

    params = {**payload["params"], "epochs": 3, "checkpoint_every_steps": 3, "progress_every_steps": 1}
    job = _start(personas["ml_engineer"], payload, params=params)
    claimed = job_claim(job.pk)
    # The first attempt, as the dead worker ran it: same inputs, stopped after 7 steps.
    p = claimed.params
    spec = FeatureSpec.from_dict(p["spec"])
    from governance.catalog.models import DatasetVersion

    table = _read(
        DatasetVersion.objects.get(pk=p["dataset_versions"]["source"]),
        list(dict.fromkeys([spec.label_column, *spec.feature_columns, "genre"])),
    )
    parts = split_table(table, strategy="random", fractions=p["split"]["fractions"], seed=0)
    seen = []
    with pytest.raises(TrainingCancelled):
        train(
            train_table=parts[0],
            valid_table=parts[1],
            test_table=parts[2],
            spec=spec,
            base_model=p["base_model"],
            params=job_recipe(p, spec, train_rows=parts[0].num_rows)["params"],  # as the worker runs it
            checkpoint_dir=checkpoint_dir(job.pk),
            on_progress=lambda e: seen.append(e) if e["event"] == "step" else None,
            should_stop=lambda: len(seen) >= 7,
        )
    assert (checkpoint_dir(job.pk) / "last.pt").is_file()

    expire_lease(job)  # the first attempt's worker died: its lease ran out
    run_job(job.pk, lambda j, r: training_run(job=j, reporter=r))
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    assert job.attempts == 2
    mv = ModelVersion.objects.get(job=job)
    assert mv.config["resumed_from_step"] == 6
    assert not checkpoint_dir(job.pk).exists()


def test_job_over_its_time_limit_fails_with_the_reason(payload, personas):
    job = _start(
        personas["ml_engineer"], payload, time_limit_s=1, params={**payload["params"], "epochs": 500, "patience": 0}
    )
    run_job(job.pk, lambda j, r: training_run(job=j, reporter=r))
    job.refresh_from_db()
    assert job.status == "failed" and "time limit of 1 s exceeded" in job.error
    assert not ModelVersion.objects.exists()
    assert not checkpoint_dir(job.pk).exists()  # a failed job is not retried: nothing to resume


def test_a_registered_version_is_not_trained_again_on_redelivery(payload, start_training):
    start_training(payload)
    job = Job.objects.get(kind="training")
    Job.objects.filter(pk=job.pk).update(status="running", attempts=1)
    expire_lease(job)
    run_job(job.pk, lambda j, r: training_run(job=j, reporter=r))
    assert ModelVersion.objects.count() == 1
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result["model_version"]["version"] == 1
