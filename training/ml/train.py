"""Fine-tune a CTR model on train / valid / test tables; no database, no Django.

`train(...)` fits the feature spec on the train split, tokenizes each distinct text once, trains
with BCEWithLogitsLoss and AdamW (linear warmup and decay, decoupled weight decay), evaluates on
the valid split for early stopping, checkpoints so a killed job resumes where it was, and scores
the test split with the best state. While the encoder is frozen (the first
`freeze_encoder_steps`), text embeddings are computed once and the head trains on them alone.
After that first pass (and its linear blend, linear_blend.py), a fresh model is trained on train +
validation for as many epochs as the first pass needed and is the one kept (refit.py, `params.refit`).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch
import torch.nn.functional as F

from training.ml import device as devices
from training.ml.base_model import load_encoder, load_tokenizer, resolve_base_model
from training.ml.batches import (
    Batch,
    DeviceSplit,
    EncodedSplit,
    EpochPlan,
    concat_splits,
    encode_split,
)
from training.ml.ema import HeadAverage
from training.ml.features import FeatureSpec, SpecError
from training.ml.items import item_feature_table, item_level_columns
from training.ml.linear_blend import LinearBlend, apply_blend, fit_blend
from training.ml.metrics import binary_metrics, segment_auc
from training.ml.model import CTRModel, HeadConfig
from training.ml.neighbours import Neighbours, blend_neighbours, refit_neighbours, with_term
from training.ml.params import TrainParams
from training.ml.refit import RefitPlan, plan_refit, refit_possible
from training.ml.tables import TableLike, as_table
from training.ml.text import (
    TextPool,
    TokenStore,
    length_batches,
    length_groups,
    tokenize_texts,
)
from training.ml.wide import WideSpec, build_wide_spec

log = logging.getLogger(__name__)

ProgressFn = Callable[[dict[str, Any]], None]
StopFn = Callable[[], bool]

_EVAL_ROWS = 16_384


class TrainingCancelled(Exception):
    """`should_stop()` said stop; raised between steps."""


@dataclass
class TrainResult:
    model: CTRModel
    spec: FeatureSpec
    params: TrainParams
    head_config: HeadConfig
    tokenizer: Any | None
    base_model: str | None
    metrics: dict[str, Any]  # on the test split
    valid_metrics: dict[str, Any]
    segment_auc: list[dict[str, Any]] | None
    history: dict[str, list[dict[str, Any]]]
    test_predictions: np.ndarray
    item_table: pa.Table | None
    item_columns: list[str]
    device: str
    steps: int
    best_step: int
    stopped_early: bool
    resumed_from_step: int | None
    timings: dict[str, float] = field(default_factory=dict)
    wide_spec: WideSpec | None = None
    linear_blend: dict[str, Any] | None = None  # the regression blended into the linear terms (linear_blend.py)
    refit: dict[str, Any] | None = None  # the second pass on train + validation (refit.py); None: none ran
    neighbours: Neighbours | None = None  # the neighbourhood term in the final logit (neighbours.py)
    neighbours_info: dict[str, Any] | None = None  # how it was fitted and weighed; None: not tried


def train(
    *,
    train_table: TableLike,
    valid_table: TableLike,
    test_table: TableLike,
    spec: FeatureSpec,
    base_model: str | None = None,
    params: TrainParams | dict[str, Any] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    text_cache_dir: str | os.PathLike | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
    device: str | torch.device | None = None,
) -> TrainResult:
    t_start = time.perf_counter()
    params = params if isinstance(params, TrainParams) else TrainParams.from_dict(params)
    tables = {
        "train": as_table(train_table),
        "valid": as_table(valid_table),
        "test": as_table(test_table),
    }
    fitted = check_inputs(spec, tables, params)
    dev = devices.pick_device(device)
    devices.configure(dev)
    torch.manual_seed(params.seed)
    np.random.seed(params.seed)

    tokenizer = encoder = None
    resolved = None
    if fitted.text_columns:
        resolved = resolve_base_model(base_model)
        tokenizer = load_tokenizer(resolved)
        encoder = load_encoder(resolved)
        limit = getattr(encoder.config, "max_position_embeddings", None)
        if limit and params.max_seq_len > limit:
            raise SpecError(f"max_seq_len {params.max_seq_len} exceeds the base model's {limit}")

    t0 = time.perf_counter()
    item_level = {fitted.item_column, *item_level_columns(fitted, tables["train"])} if fitted.item_column else set()
    wide = build_wide_spec(
        buckets=params.wide_buckets,
        text_columns=fitted.text_columns,
        categorical_features=fitted.categorical_features,
        item_level=item_level,
        id_columns=[fitted.user_column, fitted.item_column],
    )
    pool = TextPool()
    encoded = {name: encode_split(fitted, t, pool, wide=wide) for name, t in tables.items()}
    store = None
    if tokenizer is not None:
        tokens = tokenize_texts(pool.texts, tokenizer, max_length=params.max_seq_len, cache_dir=text_cache_dir)
        store = TokenStore(tokens, dev)
    prep_s = time.perf_counter() - t0

    interaction, item_fields = _interaction(fitted, tables["train"], params)
    head = HeadConfig(
        vocab_sizes=[len(fitted.vocabularies[c]) + 1 for c in fitted.categorical_features],
        n_text=len(fitted.text_columns),
        n_numeric=len(fitted.numeric_columns),
        text_dim=int(encoder.config.hidden_size) if encoder is not None else 0,
        embedding_dim=params.embedding_dim,
        hidden_units=list(params.hidden_units),
        dropout=params.dropout,
        interaction=interaction,
        item_fields=item_fields,
        list_buckets=[fitted.list_buckets] * len(fitted.list_columns),
        **_list_head(fitted, params),
        wide_buckets=wide.buckets if wide is not None else 0,
    )
    model = CTRModel(encoder, head).to(dev)
    splits = {name: DeviceSplit(e, dev) for name, e in encoded.items()}
    threads = devices.Threads(dev)

    checkpoints = Path(checkpoint_dir) if checkpoint_dir else None
    fingerprint = _fingerprint(fitted, params, pool, encoded, resolved)
    will_refit = params.refit and refit_possible(encoded["valid"].labels)
    loop = _Loop(
        model=model,
        splits=splits,
        store=store,
        params=params,
        device=dev,
        checkpoint_dir=checkpoints,
        fingerprint=fingerprint,
        on_progress=_pass_events(on_progress, index=0, passes=2 if will_refit else 1),
        should_stop=should_stop,
        threads=threads,
        keep_pretrained_embeddings=will_refit,
    )
    refit: dict[str, Any] | None = None
    refit_loop: _Loop | None = None
    try:
        loop.run()
        # Final scoring with the best state, exactly as a loaded artifact scores.
        if loop.best_state is not None:
            model.load_state_dict(loop.best_state)
        elif loop.average is not None:  # no validation split, no evaluation: keep the average all the same
            loop.average.copy_to_model()
        model.eval()
        threads.small_ops(False)
        pool_emb = loop.split_embeddings(("valid", "test"), fresh=True)
        valid_pred = predict_split(model, splits["valid"], pool_emb, dev)
        blend = None
        if params.linear_blend:
            blend = fit_blend(model, encoded["train"], encoded["valid"], valid_pred, seed=params.seed)
            if blend is not None:  # alpha and the temperature change the scores
                valid_pred = predict_split(model, splits["valid"], pool_emb, dev)
        neighbours, neighbours_info = blend_neighbours(
            model, fitted, encoded["train"], encoded["valid"], valid_pred, k=params.neighbours_k, seed=params.seed
        )
        if neighbours is not None:  # its temperature changes the model's scores
            valid_pred = predict_split(model, splits["valid"], pool_emb, dev)
        valid_pred = with_term(valid_pred, neighbours, encoded["valid"], fitted)
        test_pred = with_term(predict_split(model, splits["test"], pool_emb, dev), neighbours, encoded["test"], fitted)
        plan = None
        if will_refit:
            plan = plan_refit(
                params,
                train_rows=len(encoded["train"]),
                rows=len(encoded["train"]) + len(encoded["valid"]),
                best_step=loop.best_step,
                finetune_start=loop.finetune_start,
                has_encoder=store is not None,
            )
        if plan is not None:
            first_pass_auc = _metrics(encoded["test"], test_pred, params).get("auc")
            merged = concat_splits(encoded.pop("train"), encoded["valid"])
            # The first pass's model, optimizer moments, weight average, pool embeddings and train and
            # validation splits are let go of before the refit allocates its own: one of each at a time.
            pretrained = loop.release()
            del model, encoder, pool_emb
            splits = {"test": splits["test"]}
            model, refit_loop, refit = _refit(
                plan,
                merged=merged,
                test=splits["test"],
                first_steps=loop.step,
                pretrained_embeddings=pretrained,
                store=store,
                head=head,
                resolved=resolved,
                blend=blend,
                device=dev,
                checkpoint_dir=checkpoints / "refit" if checkpoints else None,
                fingerprint=fingerprint,
                on_progress=on_progress,
                should_stop=should_stop,
                threads=threads,
                seed=params.seed,
            )
            threads.small_ops(False)
            if neighbours is not None:
                neighbours = refit_neighbours(neighbours, model, fitted, merged, seed=params.seed)
                neighbours_info = neighbours.info
            test_pred = predict_split(model, splits["test"], refit_loop.split_embeddings(("test",), fresh=True), dev)
            test_pred = with_term(test_pred, neighbours, encoded["test"], fitted)
            refit["first_pass_test_auc"] = first_pass_auc
    finally:
        threads.restore()
    valid_metrics = _metrics(encoded["valid"], valid_pred, params)
    test_metrics = _metrics(encoded["test"], test_pred, params)
    segments = None
    if params.segment_column:
        seg_values = tables["test"].column(params.segment_column).to_pylist()
        segments = segment_auc(encoded["test"].labels, test_pred, seg_values, min_count=params.segment_min_count)
    items, item_cols = (None, [])
    if fitted.item_column:
        items, item_cols = item_feature_table(fitted, list(tables.values()))

    wall = time.perf_counter() - t_start
    loops = [loop] if refit_loop is None else [loop, refit_loop]
    train_s = sum(lp.train_seconds for lp in loops)
    samples = sum(lp.samples for lp in loops)
    return TrainResult(
        model=model,
        spec=fitted,
        params=params,
        head_config=head,
        tokenizer=tokenizer,
        base_model=resolved,
        metrics=test_metrics,
        valid_metrics=valid_metrics,
        segment_auc=segments,
        history=loop.history,
        test_predictions=test_pred,
        item_table=items,
        item_columns=item_cols,
        device=devices.describe(dev),
        steps=loop.step,
        best_step=loop.best_step,
        refit=refit,
        stopped_early=loop.stopped_early,
        resumed_from_step=loop.resumed_from,
        wide_spec=wide,
        linear_blend=blend.to_dict() if blend is not None else None,
        neighbours=neighbours,
        neighbours_info=neighbours_info,
        timings={
            "wall_s": wall,
            "prepare_s": prep_s,
            "train_s": train_s,
            "train_samples_per_second": samples / max(train_s, 1e-9),
            "samples": float(samples),
        },
    )


def _refit(
    plan: RefitPlan,
    *,
    merged: EncodedSplit,
    test: DeviceSplit,
    first_steps: int,
    pretrained_embeddings: torch.Tensor | None,
    store: TokenStore | None,
    head: HeadConfig,
    resolved: str | None,
    blend: LinearBlend | None,
    device: torch.device,
    checkpoint_dir: Path | None,
    fingerprint: str,
    on_progress: ProgressFn | None,
    should_stop: StopFn | None,
    threads: devices.Threads,
    seed: int,
) -> tuple[CTRModel, _Loop, dict[str, Any]]:
    """A fresh model trained on `merged` (train + validation) as `plan` says (refit.py), blended as the
    first pass was; its steps continue the first pass's `first_steps` in the progress events."""
    t0 = time.perf_counter()
    model = CTRModel(load_encoder(resolved) if head.n_text else None, head).to(device)
    log.info("refit on train + validation: %d rows, %d steps", plan.rows, plan.steps)
    loop = _Loop(
        model=model,
        splits={
            "train": DeviceSplit(merged, device),
            "valid": DeviceSplit(merged.take(np.arange(0)), device),
            "test": test,
        },
        store=store,
        params=plan.params,
        device=device,
        checkpoint_dir=checkpoint_dir,
        fingerprint=f"{fingerprint}:refit:{json.dumps(plan.to_dict(), sort_keys=True)}",
        on_progress=_pass_events(on_progress, index=1, passes=2, offset=first_steps),
        should_stop=should_stop,
        threads=threads,
    )
    loop.use_pool_embeddings(pretrained_embeddings)  # the same encoder as loaded: no second pool pass
    loop.run()
    if loop.average is not None:
        loop.average.copy_to_model()
    model.eval()
    if blend is not None:
        apply_blend(model, merged, blend, seed=seed)
    info = {
        **plan.to_dict(),
        "train_s": round(loop.train_seconds, 3),
        "wall_s": round(time.perf_counter() - t0, 3),
        "resumed_from_step": loop.resumed_from,  # the refit's own step a lost worker's job resumed it from
    }
    return model, loop, info


def _pass_events(on_progress: ProgressFn | None, *, index: int, passes: int, offset: int = 0) -> ProgressFn | None:
    """Progress events of pass `index` of `passes` (the first pass, then the refit): marked with both, so
    the job's progress bar gives each pass its share, and the refit's steps and totals moved on by the
    first pass's `offset` steps, so its curve goes on where the first pass's ended."""
    if on_progress is None:
        return None
    if passes == 1:
        return on_progress
    marks: dict[str, Any] = {"pass": index, "passes": passes, "pass_offset": offset}
    if index:
        marks["phase"] = "refit"

    def report(event: dict[str, Any]) -> None:
        moved = {k: event[k] + offset for k in ("step", "total_steps") if k in event}
        on_progress({**event, **moved, **marks})

    return report


def _list_head(spec: FeatureSpec, params: TrainParams) -> dict[str, Any]:
    """The head's list-column settings (sequence.py): attention pools through the item column's table."""
    if not spec.list_columns or spec.list_pooling != "attention":
        return {}
    return {
        "list_pooling": "attention",
        "list_item_field": spec.categorical_features.index(spec.item_column),
        "list_dropout": params.list_dropout,
    }


def _interaction(spec: FeatureSpec, train_table: pa.Table, params: TrainParams) -> tuple[str, list[int]]:
    """The head's interaction mode and which field positions belong to the item side."""
    if params.interaction == "fm" or not spec.item_column:
        if params.interaction == "two_tower":
            raise SpecError("interaction 'two_tower' needs item_column")
        return "fm", []
    item_level = {spec.item_column, *item_level_columns(spec, train_table)}
    ordered = [*spec.categorical_features, *spec.text_columns, *spec.numeric_columns]
    fields = [i for i, col in enumerate(ordered) if col in item_level]
    if len(fields) == len(ordered):
        if params.interaction == "two_tower":
            raise SpecError("interaction 'two_tower' needs a user or context feature")
        return "fm", []
    return "two_tower", fields


def field_penalty_weights(head: HeadConfig, params: TrainParams, device: torch.device) -> torch.Tensor:
    weights = torch.ones(head.n_fields, device=device)
    n_cat = len(head.vocab_sizes)
    weights[n_cat : n_cat + head.n_text] = params.text_l2_factor
    return weights * params.embedding_l2


def check_inputs(spec: FeatureSpec, tables: dict[str, pa.Table], params: TrainParams) -> FeatureSpec:
    """Every check that can refuse a job before it runs; returns the spec fitted on train."""
    spec.check_definition()
    for name, table in tables.items():
        try:
            spec.check_columns(table.column_names)
        except SpecError as exc:
            raise SpecError(f"{name} split: {exc}") from exc
    for name in ("train", "test"):
        if tables[name].num_rows == 0:
            raise SpecError(f"the {name} split is empty")
    if params.segment_column and params.segment_column not in tables["test"].column_names:
        raise SpecError(f"segment column '{params.segment_column}' not found")
    for table in tables.values():
        spec.labels(table)
    train_labels = spec.labels(tables["train"])
    if len(np.unique(train_labels)) < 2:
        raise SpecError("the train split has only one label class; a CTR model needs both")
    return spec.fit(tables["train"], min_count=params.min_count, max_vocab_size=params.max_vocab_size)


def make_optimizer(model: CTRModel, params: TrainParams, device: torch.device) -> torch.optim.AdamW:
    """AdamW with decoupled weight decay on weights only (not biases or LayerNorm)."""
    groups: dict[tuple[bool, bool], list[torch.nn.Parameter]] = {}
    encoder_ids = {id(p) for p in model.encoder_parameters()}
    wide = model.wide.weight if model.wide is not None else None
    for name, p in model.named_parameters():
        if p is wide:
            continue
        no_decay = p.ndim < 2 or "norm" in name.lower() or name.endswith(".bias")
        groups.setdefault((id(p) in encoder_ids, no_decay), []).append(p)
    param_groups = []
    for (is_encoder, no_decay), ps in sorted(groups.items()):
        param_groups.append(
            {
                "params": ps,
                "lr": params.encoder_lr if is_encoder else params.lr,
                "weight_decay": 0.0 if no_decay else params.weight_decay,
                "is_encoder": is_encoder,
            }
        )
    if wide is not None:
        # Sparse features each get few updates: the wide part learns faster, held by wide_l2.
        param_groups.append(
            {"params": [wide], "lr": params.wide_lr, "weight_decay": 0.0, "is_encoder": False, "is_wide": True}
        )
    return torch.optim.AdamW(param_groups, fused=device.type == "cuda")


def lr_schedule(start: int, end: int, warmup_ratio: float) -> Callable[[int], float]:
    """Factor of a group's lr at a step: 0 before `start`, linear warmup, then linear decay to 0
    at `end`."""
    span = max(end - start, 1)
    warm = max(math.ceil(warmup_ratio * span), 1) if warmup_ratio else 0

    def factor(step: int) -> float:
        local = step - start
        if local < 0:
            return 0.0
        if warm and local < warm:
            return (local + 1) / warm
        return max(0.0, (span - local) / max(span - warm, 1))

    return factor


def make_scheduler(
    optimizer: torch.optim.Optimizer,
    params: TrainParams,
    total_steps: int,
    *,
    encoder_window: tuple[int, int] | None = None,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup then linear decay; the encoder's warmup starts when it is unfrozen.

    `encoder_window` (start, end) is the encoder's fine-tuning phase; by default from
    `freeze_encoder_steps` to the last step.
    """
    start, end = encoder_window or (min(params.freeze_encoder_steps, total_steps), total_steps)
    windows = [(start, end) if g["is_encoder"] else (0, total_steps) for g in optimizer.param_groups]
    lambdas = [lr_schedule(a, b, params.warmup_ratio) for a, b in windows]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def set_encoder_window(scheduler: torch.optim.lr_scheduler.LambdaLR, params: TrainParams, start: int, end: int) -> None:
    """Move the encoder groups' warmup and decay to a fine-tuning phase that starts at `start`."""
    for i, group in enumerate(scheduler.optimizer.param_groups):
        if group["is_encoder"]:
            scheduler.lr_lambdas[i] = lr_schedule(start, end, params.warmup_ratio)


def batch_loss(
    model: torch.nn.Module,
    split: DeviceSplit,
    batch: Batch,
    store: TokenStore | None,
    frozen_embeddings: torch.Tensor | None,
    device: torch.device,
    penalty_weights: torch.Tensor | None = None,
    *,
    fresh_positions: np.ndarray | None = None,
    wide_l2: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss to minimize, BCE alone) of one batch: mean BCE-with-logits plus the field-vector L2
    penalty. This is the platform's whole per-step data path.

    Text embeddings come from `frozen_embeddings` (pool-sized, no gradient) while the encoder is
    frozen; otherwise the batch's distinct texts go through the encoder. With `fresh_positions`,
    only those of the batch's distinct texts do, and the rest take `frozen_embeddings` (the cache:
    validation texts as of the last evaluation, the others as of the last whole-pool pass, i.e.
    from before the fine-tuning phase), which bounds the encoder's cost per step.
    """
    rows = batch.rows
    cat = split.categorical.index_select(0, rows)
    num = split.numeric.index_select(0, rows)
    y = split.labels.index_select(0, rows)
    lists = None if split.lists is None else split.lists.index_select(0, rows)
    wide = split.wide.index_select(0, rows) if split.wide is not None else None
    core = model._orig_mod if hasattr(model, "_orig_mod") else model
    with devices.autocast(device):
        if not core.head_config.n_text:
            logits, fields = core.score_from_parts(None, cat, num, wide, lists=lists, return_fields=True)
        elif frozen_embeddings is not None and fresh_positions is None:
            text_emb = frozen_embeddings[split.text_ids.index_select(0, rows)]
            logits, fields = core.score_from_parts(text_emb, cat, num, wide, lists=lists, return_fields=True)
        elif fresh_positions is not None:
            assert store is not None and batch.unique_texts is not None
            assert frozen_embeddings is not None
            fresh = _encode(core, store, batch.unique_texts[fresh_positions], device)
            unique = frozen_embeddings.index_select(0, batch.unique_texts_device)
            unique = unique.index_put((torch.from_numpy(fresh_positions).to(device),), fresh)
            logits, fields = core.score_from_parts(
                unique[batch.text_index], cat, num, wide, lists=lists, return_fields=True
            )
        elif device.type == "cpu":
            assert store is not None and batch.unique_texts is not None
            unique = _encode(core, store, batch.unique_texts, device)
            logits, fields = core.score_from_parts(
                unique[batch.text_index], cat, num, wide, lists=lists, return_fields=True
            )
        else:
            # One padded batch through the (possibly compiled) full model: what GPUs like.
            assert store is not None and batch.unique_texts is not None
            input_ids, mask = store.batch(batch.unique_texts, batch.unique_texts_device)
            logits, fields = model(input_ids, mask, batch.text_index, cat, num, wide, lists)
    bce = F.binary_cross_entropy_with_logits(logits.float(), y)
    loss = bce
    if penalty_weights is not None:
        per_field = fields.float().pow(2).sum(dim=2)  # [b, fields]
        loss = bce + (per_field * penalty_weights).sum(dim=1).mean()
    if wide_l2 and wide is not None and core.wide is not None:
        # The int32 ids widened per batch ([b, L]): int64 is the index type advanced indexing and its
        # backward (index_put) take on every device.
        used = core.wide.weight.squeeze(-1)[wide.long()]  # [b, L]; padding's weight is 0
        loss = loss + wide_l2 * used.float().pow(2).sum(dim=1).mean()
    return loss, bce.detach()


def _encode(core: CTRModel, store: TokenStore, ids: np.ndarray, device: torch.device) -> torch.Tensor:
    """Pooled embeddings (with gradient) of pool positions `ids`, in their order."""
    grouped = length_groups(store.lengths[ids]) if device.type == "cpu" else None
    if grouped is None:
        return core.encode_texts(*store.batch(ids))
    # On CPU padding costs in proportion; short and long texts go in separate runs.
    runs, inverse = grouped
    parts = [core.encode_texts(*store.batch(ids[r])) for r in runs]
    return torch.cat(parts)[torch.from_numpy(inverse).to(device)]


def optimize(
    loss: torch.Tensor,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    max_grad_norm: float,
) -> None:
    """One optimizer step: backward, gradient clipping, AdamW, schedule."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if max_grad_norm:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()
    scheduler.step()


@torch.no_grad()
def embed_texts(
    model: CTRModel,
    store: TokenStore,
    ids: np.ndarray,
    device: torch.device,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Pooled embeddings of pool positions `ids`, in length-sorted batches to keep padding small.

    Written into `out` (pool-sized) at those positions, or a new [pool, hidden] tensor.
    """
    was_training = model.training
    model.eval()
    hidden = model.head_config.text_dim
    if out is None:
        out = torch.zeros(len(store), hidden, device=device)
    max_tokens = 262_144 if device.type == "cuda" else 8_192
    ids = np.asarray(ids, dtype=np.int64)
    for part in length_batches(store.lengths[ids], max_tokens=max_tokens):
        chosen = ids[part]
        input_ids, mask = store.batch(chosen)
        with devices.autocast(device):
            emb = model.encode_texts(input_ids, mask)
        out[torch.from_numpy(chosen).to(device)] = emb.float()
    model.train(was_training)
    return out


@torch.no_grad()
def predict_split(
    model: CTRModel,
    split: DeviceSplit,
    pool_embeddings: torch.Tensor | None,
    device: torch.device,
) -> np.ndarray:
    """Probabilities for every row of a split, from precomputed pool text embeddings."""
    was_training = model.training
    model.eval()
    outs = []
    for s in range(0, len(split), _EVAL_ROWS):
        rows = slice(s, s + _EVAL_ROWS)
        text_emb = None
        if model.head_config.n_text:
            assert pool_embeddings is not None
            text_emb = pool_embeddings[split.text_ids[rows]]
        wide = split.wide[rows] if split.wide is not None else None
        with devices.autocast(device):
            lists = None if split.lists is None else split.lists[rows]
            logits = model.score_from_parts(text_emb, split.categorical[rows], split.numeric[rows], wide, lists=lists)
        outs.append(torch.sigmoid(logits.double()).cpu())  # float32 rounds large logits to 1.0: ties
    model.train(was_training)
    if not outs:
        return np.zeros(0, dtype=np.float64)
    return torch.cat(outs).numpy().astype(np.float64)


def _metrics(split: EncodedSplit, pred: np.ndarray, params: TrainParams) -> dict[str, Any]:
    if len(split) == 0:
        return {}
    return binary_metrics(split.labels, pred, threshold=params.threshold)


def _fingerprint(
    spec: FeatureSpec,
    params: TrainParams,
    pool: TextPool,
    encoded: dict[str, EncodedSplit],
    base_model: str | None,
) -> str:
    """Identifies the job's inputs, so a checkpoint is resumed only by the same job."""
    h = hashlib.sha256()
    h.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    h.update(json.dumps(params.to_dict(), sort_keys=True).encode())
    h.update(pool.fingerprint().encode())
    h.update(str(base_model).encode())
    for name in sorted(encoded):
        e = encoded[name]
        for arr in (e.categorical, e.numeric, e.text_ids, e.labels, e.wide):
            if arr is not None:
                h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


class _Loop:
    def __init__(
        self,
        *,
        model: CTRModel,
        splits: dict[str, DeviceSplit],
        store: TokenStore | None,
        params: TrainParams,
        device: torch.device,
        checkpoint_dir: Path | None,
        fingerprint: str,
        on_progress: ProgressFn | None,
        should_stop: StopFn | None,
        threads: devices.Threads | None = None,
        keep_pretrained_embeddings: bool = False,
    ) -> None:
        self.model = model
        self.splits = splits
        self.store = store
        self.params = params
        self.device = device
        self.checkpoint_dir = checkpoint_dir
        self.fingerprint = fingerprint
        self.on_progress = on_progress or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)

        self.steps_per_epoch = math.ceil(len(splits["train"]) / params.batch_size)
        self.total_steps = self.steps_per_epoch * params.epochs
        # The encoder's fine-tuning phase: planned from freeze_encoder_steps to the last step. When
        # validation AUC stops improving while the encoder is still frozen (and it has text to
        # fine-tune), the phase starts there instead and lasts as long as planned: early stopping
        # never ends a run before its fine-tuning steps ("freeze until plateau, then fine-tune"),
        # and the phase a plateau started runs in full; the best validation state is kept.
        self.finetune_start = min(params.freeze_encoder_steps, self.total_steps)
        self.finetune_steps = self.total_steps - self.finetune_start if store is not None else 0
        self.end_step = self.total_steps
        self.optimizer = make_optimizer(model, params, device)
        self.scheduler = make_scheduler(self.optimizer, params, self.total_steps)
        self.step_fn = torch.compile(model) if params.compile and device.type == "cuda" else model
        self.penalty = field_penalty_weights(model.head_config, params, device)

        self.step = 0
        self.history: dict[str, list[dict[str, Any]]] = {"loss": [], "val": []}
        self.best_auc = -math.inf
        self.best_step = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.bad_evals = 0
        self.stopped_early = False
        self.resumed_from: int | None = None
        self.samples = 0
        self.train_seconds = 0.0
        self._clock: float | None = None
        self._pool_emb: torch.Tensor | None = None
        self._encoder_changed = True
        # The pool's embeddings by the encoder as loaded, kept for a refit (refit.py) that starts
        # from the same encoder; only while the encoder is still untouched.
        self.keep_pretrained = keep_pretrained_embeddings
        self.pretrained_embeddings: torch.Tensor | None = None
        self._encoder_tuned = False
        self.finished = False  # the run reached its end (or early stop); a resume has nothing to do
        self._threads = threads or devices.Threads(device)
        self.average = HeadAverage(model, params.ema_decay) if params.ema_decay else None

    # -- text embeddings of the whole pool, valid until the encoder changes ---------------------

    def pool_embeddings(self, *, fresh: bool = False) -> torch.Tensor | None:
        if self.store is None:
            return None
        if fresh or self._pool_emb is None or self._encoder_changed:
            ids = np.arange(len(self.store))
            self._pool_emb = embed_texts(self.model, self.store, ids, self.device)
            self._encoder_changed = False
            if self.keep_pretrained and not self._encoder_tuned and self.pretrained_embeddings is None:
                # The same tensor until split_embeddings writes into the cache: no copy while frozen.
                self.pretrained_embeddings = self._pool_emb
        return self._pool_emb

    def use_pool_embeddings(self, embeddings: torch.Tensor | None) -> None:
        """Start from these pool embeddings (those of this loop's encoder as it is now)."""
        if embeddings is not None and self.store is not None:
            self._pool_emb = embeddings
            self._encoder_changed = False

    def split_embeddings(self, names: tuple[str, ...], *, fresh: bool = False) -> torch.Tensor | None:
        """Pool embeddings whose rows for the texts of the named splits are current (`fresh`: recomputed
        even if the encoder did not change, e.g. after loading the best state); the other rows are the
        cache. While the encoder is fine-tuned, evaluation embeds the validation texts only instead of the
        whole pool (on CPU the pool pass is most of a text-heavy run's time); the pool stays marked as
        changed, so the next full pass still recomputes every text."""
        if self.store is None:
            return None
        if self._pool_emb is None or not (fresh or self._encoder_changed):
            return self.pool_embeddings()
        ids = np.unique(np.concatenate([self.splits[n].host.text_ids.ravel() for n in names]))
        if self._pool_emb is self.pretrained_embeddings:  # the kept embeddings stay as the encoder loaded made them
            self._pool_emb = self._pool_emb.clone()
        return embed_texts(self.model, self.store, ids, self.device, out=self._pool_emb)

    def cached_pool_embeddings(self) -> torch.Tensor | None:
        """The last computed pool embeddings, even if the encoder moved on since (a cache)."""
        if self._pool_emb is None:
            return self.pool_embeddings()
        return self._pool_emb

    def release(self) -> torch.Tensor | None:
        """Let go of what only this pass's training and scoring needed, the device's share above all: the
        model (its encoder too), the optimizer's moments, the weight average, the best state, the pool
        embeddings and the train and validation splits, so that a refit does not hold a second copy of
        each. The step counts, history and timings stay. Returns the embeddings kept for the refit."""
        kept, self.pretrained_embeddings = self.pretrained_embeddings, None
        self._pool_emb = self.best_state = self.average = None
        del self.model, self.step_fn, self.optimizer, self.scheduler, self.penalty
        self.splits = {name: split for name, split in self.splits.items() if name == "test"}
        return kept

    # -- main loop ------------------------------------------------------------------------------

    def run(self) -> None:
        self._run()

    def _plan(self, epoch: int) -> EpochPlan:
        frozen_whole_epoch = (epoch + 1) * self.steps_per_epoch <= self.finetune_start
        return EpochPlan(
            self.splits["train"],
            batch_size=self.params.batch_size,
            seed=self.params.seed,
            epoch=epoch,
            dedupe_texts=self.store is not None and not frozen_whole_epoch,
        )

    def _start_finetuning(self) -> None:
        """Validation AUC stopped improving with the encoder frozen: fine-tune it from here."""
        self.finetune_start = self.step
        self.end_step = self.step + self.finetune_steps
        self.bad_evals = 0
        set_encoder_window(self.scheduler, self.params, self.finetune_start, self.end_step)
        log.info("validation AUC plateaued at step %d: fine-tuning the encoder until step %d", self.step, self.end_step)

    def _run(self) -> None:
        p = self.params
        self._resume()
        if self.finished:
            return
        train = self.splits["train"]
        start_epoch = self.step // self.steps_per_epoch
        has_valid = len(self.splits["valid"]) > 0
        eval_every = p.eval_every_steps or self.steps_per_epoch
        window_loss = torch.zeros((), device=self.device)
        window_steps = 0
        window_t = time.perf_counter()
        self.model.train()
        self._threads.small_ops(False)  # the first pool embedding: one thread on a loaded machine
        self._resume_clock()
        for epoch in range(start_epoch, p.epochs):
            if self.step >= self.end_step:
                break
            plan = self._plan(epoch)
            first = self.step - epoch * self.steps_per_epoch
            for i in range(first, len(plan)):
                if self.should_stop():
                    raise TrainingCancelled(f"cancelled at step {self.step}")
                frozen = self.step < self.finetune_start
                if not frozen and not plan.dedupe and self.store is not None:
                    plan = self._plan(epoch)  # the fine-tuning phase began mid-epoch: batches need their texts
                frozen_emb = None
                fresh = None
                batch = plan.batch(i)
                if self.store is not None and frozen:
                    frozen_emb = self.pool_embeddings()
                    if self.model.encoder is not None:
                        self.model.encoder.eval()
                elif self.model.encoder is not None:
                    self.model.encoder.train()
                    n_unique = len(batch.unique_texts) if batch.unique_texts is not None else 0
                    if p.encoder_texts_per_step and n_unique > p.encoder_texts_per_step:
                        frozen_emb = self.cached_pool_embeddings()
                        rng = np.random.default_rng([p.seed, self.step])
                        fresh = np.sort(rng.choice(n_unique, p.encoder_texts_per_step, replace=False))
                # The head alone is a few small ops per step: on CPU one thread does them faster
                # than two that wait on each other (and on other processes) at every op.
                self._threads.small_ops(frozen or self.store is None)
                loss, bce = batch_loss(
                    self.step_fn,
                    train,
                    batch,
                    self.store,
                    frozen_emb,
                    self.device,
                    self.penalty,
                    fresh_positions=fresh,
                    wide_l2=p.wide_l2,
                )
                optimize(loss, self.model, self.optimizer, self.scheduler, p.max_grad_norm)
                if self.average is not None:
                    self.average.update()
                if not frozen and self.store is not None:
                    self._encoder_changed = self._encoder_tuned = True
                self.step += 1
                self.samples += len(batch.rows)
                window_loss += bce
                window_steps += 1
                last = self.step >= self.end_step

                if self.step % p.progress_every_steps == 0 or i == len(plan) - 1 or last:
                    self._pause_clock()
                    mean_loss = float(window_loss.item()) / window_steps
                    elapsed = time.perf_counter() - window_t
                    point = {"step": self.step, "epoch": epoch, "loss": mean_loss}
                    self.history["loss"].append(point)
                    self.on_progress(
                        {
                            "event": "step",
                            **point,
                            "total_steps": self.end_step,
                            "progress": self.step / self.end_step,
                            **self._learning_rates(),
                            "encoder_frozen": frozen,
                            "samples_per_second": window_steps * p.batch_size / max(elapsed, 1e-9),
                        }
                    )
                    window_loss.zero_()
                    window_steps = 0
                    window_t = time.perf_counter()
                    self._resume_clock()

                if has_valid and (self.step % eval_every == 0 or i == len(plan) - 1 or last):
                    self._pause_clock()
                    stop = self._evaluate(epoch)
                    if stop and self.step < self.finetune_start and self.finetune_steps:
                        self._start_finetuning()
                    # Patience ends the run, except in a phase a plateau started: it runs in full.
                    elif stop and self.end_step == self.total_steps:
                        self.stopped_early = self.finished = True
                        self._checkpoint(epoch)
                        return
                    self._resume_clock()
                if last:
                    self._pause_clock()
                    self.stopped_early = self.step < self.total_steps
                    self.finished = True
                    self._checkpoint(epoch)
                    return
                if p.checkpoint_every_steps and self.step % p.checkpoint_every_steps == 0:
                    self._pause_clock()
                    self._checkpoint(epoch)
                    self._resume_clock()
            self._pause_clock()
            self._checkpoint(epoch)
            self._resume_clock()
        self._pause_clock()

    # Training time excludes evaluation, checkpoints and progress reports; the device is synced
    # first, since queued GPU work would otherwise be counted in whichever block waits for it.

    def _pause_clock(self) -> None:
        if self._clock is not None:
            if self.device.type == "cuda":
                torch.cuda.synchronize(self.device)
            self.train_seconds += time.perf_counter() - self._clock
            self._clock = None

    def _resume_clock(self) -> None:
        self._clock = time.perf_counter()

    def _learning_rates(self) -> dict[str, float]:
        rates = {}
        for group, lr in zip(self.optimizer.param_groups, self.scheduler.get_last_lr(), strict=True):
            key = "wide_lr" if group.get("is_wide") else "encoder_lr" if group["is_encoder"] else "lr"
            rates[key] = float(lr)
        return rates

    def _evaluate(self, epoch: int) -> bool:
        """Validation metrics into the history; True when early stopping says stop."""
        valid = self.splits["valid"]
        with self.average.swapped_in() if self.average is not None else contextlib.nullcontext():
            pred = predict_split(self.model, valid, self.split_embeddings(("valid",)), self.device)
            m = binary_metrics(valid.host.labels, pred, threshold=self.params.threshold)
            score = m["auc"] if m["auc"] is not None else -float(m["logloss"] or 0.0)
            improved = score > self.best_auc + 1e-6
            if improved:  # the evaluated (averaged) weights, copied only when they are the best so far
                self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in self._state().items()}
        point = {"step": self.step, "epoch": epoch, "auc": m["auc"], "logloss": m["logloss"]}
        self.history["val"].append(point)
        self.on_progress({"event": "eval", **point, "total_steps": self.end_step, "metrics": m})
        if improved:
            self.best_auc = score
            self.best_step = self.step
            self.bad_evals = 0
            if self.checkpoint_dir is not None:
                _atomic_save(
                    {"fingerprint": self.fingerprint, "model": self.best_state}, self.checkpoint_dir / "best.pt"
                )
        else:
            self.bad_evals += 1
        return bool(self.params.patience) and self.bad_evals >= self.params.patience

    def _state(self) -> dict[str, torch.Tensor]:
        return self.model.state_dict()

    # -- checkpoints ----------------------------------------------------------------------------

    def _checkpoint(self, epoch: int) -> None:
        if self.checkpoint_dir is None:
            return
        state = {
            "fingerprint": self.fingerprint,
            "step": self.step,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "history": copy.deepcopy(self.history),
            "best_auc": self.best_auc,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "finetune_start": self.finetune_start,
            "end_step": self.end_step,
            "finished": self.finished,
            "stopped_early": self.stopped_early,
            "samples": self.samples,
            "train_seconds": self.train_seconds,
            "average": self.average.state_dict() if self.average is not None else None,
            "rng_cpu": torch.get_rng_state(),
            "rng_cuda": torch.cuda.get_rng_state_all() if self.device.type == "cuda" else None,
        }
        _atomic_save(state, self.checkpoint_dir / "last.pt")

    def _resume(self) -> None:
        if self.checkpoint_dir is None:
            return
        last = self.checkpoint_dir / "last.pt"
        if not last.is_file():
            return
        # On the CPU: RNG states must stay CPU tensors; load_state_dict moves the rest over.
        state = torch.load(last, map_location="cpu", weights_only=False)
        if state.get("fingerprint") != self.fingerprint:
            log.warning("checkpoint %s belongs to other inputs; starting fresh", last)
            return
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])
        self.history = state["history"]
        self.best_auc = float(state["best_auc"])
        self.best_step = int(state["best_step"])
        self.bad_evals = int(state["bad_evals"])
        if state.get("end_step", self.total_steps) != self.end_step:
            self.finetune_start, self.end_step = int(state["finetune_start"]), int(state["end_step"])
            set_encoder_window(self.scheduler, self.params, self.finetune_start, self.end_step)
        self.finished = bool(state.get("finished", False))
        self.stopped_early = bool(state.get("stopped_early", False))
        self.samples = int(state["samples"])
        self.train_seconds = float(state["train_seconds"])
        if self.average is not None and state.get("average") is not None:
            self.average.load_state_dict(state["average"])
        torch.set_rng_state(state["rng_cpu"])
        if state.get("rng_cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        best = self.checkpoint_dir / "best.pt"
        if best.is_file():
            saved = torch.load(best, map_location="cpu", weights_only=False)
            if saved.get("fingerprint") == self.fingerprint:
                self.best_state = saved["model"]
        self._encoder_changed = self._encoder_tuned = True
        self.resumed_from = self.step
        self.on_progress({"event": "resumed", "step": self.step, "total_steps": self.end_step})


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)  # a worker killed mid-save leaves the previous checkpoint intact
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
