from __future__ import annotations

import pytest

from core.models import Job
from tests.worker import start_worker, wait_for
from training.ml import load_artifact
from training.models import ModelVersion
from training.serializers import as_request
from training.services.jobs import training_job_start

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_real_gpu_queue_worker_trains_a_tiny_model(payload, personas):
    body = {"valid_version": None, "test_version": None, "time_limit_s": None, **payload}
    job = training_job_start(actor=personas["ml_engineer"], request=as_request(body))
    with start_worker("gpu", extra_env={"OMP_NUM_THREADS": "1"}) as proc:
        wait_for(lambda: Job.objects.get(pk=job.pk).is_finished, timeout=180, proc=proc)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    mv = ModelVersion.objects.get(job=job)
    assert job.result == {"model_version": {"model": "ctr", "version": mv.version}}
    assert mv.metrics["auc"] is not None and job.details["curves"]["loss"]
    predictor = load_artifact(mv.artifact_path(), device="cpu")
    assert predictor.score({"user_id": 1, "gender": "M"}, [0, 1]).shape == (2,)
