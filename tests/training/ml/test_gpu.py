"""CUDA-only checks (skipped without a GPU): bf16 training, artifact parity, resume on the device."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.factories import cancel_and_resume, splits
from training.ml import load_artifact, save_artifact, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_cuda_training_uses_bf16_and_its_artifact_predicts_the_same(
    tiny_base_model, table, spec, fast_params, tmp_path
):
    result = train(
        **splits(table),
        spec=spec,
        base_model=tiny_base_model,
        params={**fast_params, "epochs": 4, "freeze_encoder_steps": 8},
        device="cuda",
    )
    assert result.device.startswith("cuda") and "bf16" in result.device
    assert result.metrics["auc"] > 0.85
    path = save_artifact(result, tmp_path / "v1")
    test = splits(table)["test_table"]
    on_gpu = load_artifact(path, device="cuda").predict(test)
    np.testing.assert_allclose(on_gpu, result.test_predictions, atol=2e-3)
    on_cpu = load_artifact(path, device="cpu").predict(test)  # fp32 on CPU vs bf16 on GPU
    np.testing.assert_allclose(on_cpu, result.test_predictions, atol=5e-2)


def test_cuda_job_resumes_from_its_checkpoint(tiny_base_model, table, spec, fast_params, tmp_path):
    params = {**fast_params, "checkpoint_every_steps": 4, "progress_every_steps": 1, "freeze_encoder_steps": 6}
    resumed, straight = cancel_and_resume(
        table=table, spec=spec, base_model=tiny_base_model, params=params, device="cuda", checkpoint_dir=tmp_path
    )
    assert resumed.resumed_from_step == 8 and resumed.steps == straight.steps
    np.testing.assert_allclose(resumed.test_predictions, straight.test_predictions, atol=5e-3)


def test_cuda_data_path_needs_no_host_sync_per_step(tiny_base_model, table, spec):
    """Planned batches and the token store give a step its tensors without waiting for the GPU."""
    from training.ml.base_model import load_tokenizer
    from training.ml.batches import DeviceSplit, EpochPlan, encode_split
    from training.ml.text import TextPool, TokenStore, tokenize_texts

    device = torch.device("cuda")
    fitted = spec.fit(table)
    pool = TextPool()
    split = DeviceSplit(encode_split(fitted, table, pool), device)
    store = TokenStore(tokenize_texts(pool.texts, load_tokenizer(tiny_base_model), max_length=16), device)
    plan = EpochPlan(split, batch_size=64, seed=0, epoch=0, dedupe_texts=True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i in range(len(plan)):
            batch = plan.batch(i)
            input_ids, _mask = store.batch(batch.unique_texts, batch.unique_texts_device)
            cat = split.categorical.index_select(0, batch.rows)
            rows_text = batch.text_index
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert input_ids.shape[0] == len(batch.unique_texts)
    assert cat.shape[0] == rows_text.shape[0] == len(batch.rows)
