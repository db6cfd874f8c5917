"""Training jobs: start one (everything that can be checked before training, the governance gate
included, then queue it on "gpu"), and run it in the worker (train, save the artifact, register the
version through training.services.registry)."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction

from core.audit import audit_log
from core.errors import ServiceError
from core.jobs import JobCancelled, Reporter, job_output, job_start
from core.models import Job
from core.roles import has_capability
from core.storage import local_path, scratch_dir
from governance.catalog.models import DatasetVersion
from training.artifacts import artifact_delete, artifact_store
from training.models import MODEL_NAME_RULE, ModelVersion, is_model_name
from training.selectors import training_gate_reasons
from training.services.registry import model_version_create

if TYPE_CHECKING:
    from training.ml import FeatureSpec

log = logging.getLogger(__name__)

JOB_KIND = "training"
SPLIT_STRATEGIES = ("random", "time", "user")


@dataclass
class TrainingRequest:
    """What a caller asks to train: the API's body, the train page's form."""

    model_name: str
    dataset_version: int
    spec: FeatureSpec  # the columns by role (a definition: not fitted)
    base_model: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    split: dict[str, Any] = field(default_factory=dict)
    valid_version: int | None = None
    test_version: int | None = None
    time_limit_s: int | None = None


# ---------------------------------------------------------------------------------------------
# Starting a job
# ---------------------------------------------------------------------------------------------


def training_job_start(*, actor: Any, request: TrainingRequest) -> Job:
    """Validate everything that can be known before training, then queue the job on "gpu".

    Any problem is a ServiceError (400) naming it, and no job is created.
    """
    from training.ml import SpecError, TrainParams
    from training.ml.base_model import resolve_base_model

    name = _check_model_name(request.model_name)
    versions = _versions(actor, request)
    _gate(list(versions.values()))
    spec = request.spec
    base_model = request.base_model or settings.STEWARD_BASE_MODEL
    try:
        params = TrainParams.from_dict(request.params)
        spec.check_definition()
        for role, version in versions.items():
            _check_version_columns(spec, version, role)
        split = _check_split(request, spec, versions, params)
        scored = versions.get("test") or versions["source"]
        if params.segment_column and params.segment_column not in scored.column_names:
            raise SpecError(f"segment column '{params.segment_column}' not found")
        resolved = resolve_base_model(base_model) if spec.text_columns else None
        if resolved is not None:
            _check_seq_len(resolved, params.max_seq_len)
    except SpecError as exc:
        raise ServiceError(str(exc)) from None
    time_limit = _check_time_limit(request.time_limit_s)

    job_params = {
        "model_name": name,
        "dataset_versions": {role: v.pk for role, v in versions.items()},
        "spec": spec.to_dict(),
        "base_model": base_model if spec.text_columns else None,
        "params": params.to_dict(),
        # What the caller set; the worker fills in the rest from its device's recipe.
        "explicit_params": {k: getattr(params, k) for k in request.params},
        "split": split,
        "time_limit_s": time_limit,
    }
    with transaction.atomic():
        source = versions.get("source") or versions["train"]
        job = job_start(
            kind=JOB_KIND,
            task="training.train",
            actor=actor,
            params=job_params,
            queue="gpu",
            subject_type="dataset_version",
            subject_id=source.pk,
            message="waiting for a GPU worker",
        )
        audit_log(
            actor=actor,
            action="training.start",
            obj=job,
            summary={
                "model": name,
                "dataset_versions": job_params["dataset_versions"],
                "base_model": job_params["base_model"],
            },
        )
    return job


def _check_model_name(name: str) -> str:
    name = (name or "").strip()
    if not is_model_name(name):
        raise ServiceError(f"model_name must be {MODEL_NAME_RULE}", field="model_name")
    return name


def _versions(actor: Any, request: TrainingRequest) -> dict[str, DatasetVersion]:
    if not has_capability(actor, "catalog.read"):
        raise ServiceError("You may not read dataset versions, so you may not train on them.", field="dataset_version")
    wanted = {"source": request.dataset_version}
    if request.valid_version is not None or request.test_version is not None:
        if request.valid_version is None or request.test_version is None:
            raise ServiceError("Give both valid_version and test_version, or neither.", field="valid_version")
        wanted = {"train": request.dataset_version, "valid": request.valid_version, "test": request.test_version}
    found = DatasetVersion.objects.select_related("dataset").in_bulk(list(wanted.values()))
    out = {}
    for role, pk in wanted.items():
        if pk not in found:
            field_name = "dataset_version" if role in ("source", "train") else f"{role}_version"
            raise ServiceError(f"Dataset version {pk} does not exist.", field=field_name)
        out[role] = found[pk]
    return out


def _gate(versions: list[DatasetVersion]) -> None:
    reasons = [r for v in dict.fromkeys(versions) for r in training_gate_reasons(v)]
    if reasons:
        raise ServiceError("Training refused: " + "; ".join(reasons), field="dataset_version", code="gate")


def _check_version_columns(spec: Any, version: DatasetVersion, role: str) -> None:
    from training.ml import SpecError
    from training.ml.features import binary_labels

    try:
        spec.check_columns(version.column_names)
    except SpecError as exc:
        raise SpecError(f"dataset version {version.pk}: {exc}") from None
    with local_path(version.parquet) as path:
        schema = pq.read_schema(path)
        try:
            spec.check_list_types(schema)  # a list column training cannot pool (nested, floats, not a list)
        except SpecError as exc:
            raise SpecError(f"{exc} (dataset version {version.pk})") from None
        for col in spec.numeric_columns:
            typ = schema.field(col).type
            if not (
                pa.types.is_integer(typ)
                or pa.types.is_floating(typ)
                or pa.types.is_boolean(typ)
                or pa.types.is_decimal(typ)
            ):
                raise SpecError(f"numeric column '{col}' has type {typ} in dataset version {version.pk}")
        # The label decides everything; read it (one column) rather than trust the profile.
        label = pq.read_table(path, columns=[spec.label_column]).column(0)
    binary_labels(spec.label_column, label)


def _check_split(
    request: TrainingRequest, spec: Any, versions: dict[str, DatasetVersion], params: Any
) -> dict[str, Any]:
    from training.ml import SpecError
    from training.ml.splits import check_fractions

    if "source" not in versions:
        if request.split:
            raise SpecError("give either split or explicit valid/test versions, not both")
        return {"strategy": "explicit"}
    split = dict(request.split or {})
    unknown = set(split) - {"strategy", "fractions", "seed", "time_column"}
    if unknown:
        raise SpecError(f"unknown split option(s): {', '.join(sorted(unknown))}")
    strategy = split.get("strategy", "random")
    if strategy not in SPLIT_STRATEGIES:
        raise SpecError(f"split strategy must be one of {', '.join(SPLIT_STRATEGIES)}")
    fractions = list(check_fractions(split.get("fractions", [0.8, 0.1, 0.1])))
    seed = split.get("seed", params.seed)
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise SpecError("split seed must be a non-negative integer")
    out: dict[str, Any] = {"strategy": strategy, "fractions": fractions, "seed": seed}
    if strategy == "time":
        time_column = split.get("time_column")
        if not time_column or time_column not in versions["source"].column_names:
            raise SpecError("a time split needs time_column, a column of the dataset version")
        out["time_column"] = time_column
    if strategy == "user" and not spec.user_column:
        raise SpecError("a by-user split needs user_column")
    return out


def _check_seq_len(base_model: str, max_seq_len: int) -> None:
    from transformers import AutoConfig

    from training.ml import SpecError

    config = AutoConfig.from_pretrained(base_model, local_files_only=True)
    limit = getattr(config, "max_position_embeddings", None)
    if limit and max_seq_len > limit:
        raise SpecError(f"max_seq_len {max_seq_len} exceeds the base model's {limit}")


def _check_time_limit(value: int | None) -> int:
    ceiling = int(settings.CELERY_TASK_SOFT_TIME_LIMIT)
    default = int(getattr(settings, "STEWARD_TRAINING_TIME_LIMIT_S", ceiling))
    if value is None:
        return min(default, ceiling)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= ceiling:
        raise ServiceError(f"time_limit_s must be an integer in 1..{ceiling}", field="time_limit_s")
    return value


# ---------------------------------------------------------------------------------------------
# Running a job (in the worker)
# ---------------------------------------------------------------------------------------------


def checkpoint_dir(job_id: int) -> Path:
    return Path(settings.DATA_DIR) / "checkpoints" / f"training-job-{job_id}"


def training_run(*, job: Job, reporter: Reporter) -> dict[str, Any]:
    """Train, save the artifact, register the version. Resumes from the job's last checkpoint
    when a worker died mid-way and the job was delivered again."""
    from training.ml import FeatureSpec, SpecError, TrainingCancelled, save_artifact, train
    from training.ml.artifact import read_config
    from training.ml.splits import split_table

    done = ModelVersion.objects.filter(job=job).select_related("model").first()
    if done is not None:  # registered before the worker died; nothing left to do
        return {"model_version": {"model": done.model.name, "version": done.version}}

    p = job.params
    ids = p["dataset_versions"]
    found = DatasetVersion.objects.select_related("dataset").in_bulk(list(ids.values()))
    missing = [pk for pk in ids.values() if pk not in found]
    if missing:
        raise ServiceError(f"dataset version(s) {missing} no longer exist")
    versions = {role: found[pk] for role, pk in ids.items()}
    # The gate is checked again: a finding may have been reopened since the job was queued.
    _gate(list(versions.values()))

    spec = FeatureSpec.from_dict(p["spec"])
    columns = _needed_columns(spec, p["params"], p["split"])
    reporter.progress(0.01, "reading data")
    if "source" in versions:
        table = _read(versions["source"], columns)
        split = p["split"]
        try:
            tables = split_table(
                table,
                strategy=split["strategy"],
                fractions=split["fractions"],
                seed=split["seed"],
                time_column=split.get("time_column"),
                user_column=spec.user_column,
            )
        except SpecError as exc:
            raise ServiceError(str(exc)) from None
    else:
        tables = tuple(_read(versions[r], columns) for r in ("train", "valid", "test"))

    recipe = job_recipe(p, spec, train_rows=tables[0].num_rows)
    params = recipe["params"]
    reporter.progress(0.015, f"recipe {recipe['name']}: {recipe['reason']}", recipe=recipe)

    progress = _ProgressWriter(reporter)
    deadline = time.monotonic() + float(p.get("time_limit_s") or 6 * 3600)

    def should_stop() -> bool:
        if time.monotonic() > deadline:
            raise ServiceError(f"time limit of {p.get('time_limit_s')} s exceeded")
        return progress.cancel_requested()

    ckpt = checkpoint_dir(job.pk)
    try:
        result = train(
            train_table=tables[0],
            valid_table=tables[1],
            test_table=tables[2],
            spec=spec,
            base_model=p.get("base_model"),
            params=params,
            checkpoint_dir=ckpt,
            text_cache_dir=Path(settings.DATA_DIR) / "cache" / "tokens",
            on_progress=progress,
            should_stop=should_stop,
        )
    except TrainingCancelled:
        shutil.rmtree(ckpt, ignore_errors=True)
        raise JobCancelled() from None
    except SpecError as exc:
        shutil.rmtree(ckpt, ignore_errors=True)
        raise ServiceError(str(exc)) from None
    except Exception:
        # The job fails for good (failures are not retried); only a dead worker, which runs no
        # code here, leaves its checkpoint behind for the redelivery.
        shutil.rmtree(ckpt, ignore_errors=True)
        raise

    reporter.progress(0.97, "fitting the baseline (TF-IDF / one-hot + logistic regression)", **progress.details())
    baseline = _baseline(tables, spec, params)
    reporter.progress(0.98, "saving the model version", **progress.details())
    work = scratch_dir() / f"artifact-{uuid.uuid4().hex}"
    work.mkdir(parents=True)
    stored = None
    try:
        artifact_dir = save_artifact(
            result,
            work / "artifact",
            extra_config={
                "model_name": p["model_name"],
                "base_model": p.get("base_model"),
                "job": job.pk,
                "attempts": job.attempts,
                "dataset_versions": ids,
                "split": p["split"],
                "recipe": recipe,
                "baseline": baseline,
                "split_rows": {role: t.num_rows for role, t in zip(("train", "valid", "test"), tables, strict=True)},
            },
        )
        np.save(artifact_dir / "test_predictions.npy", result.test_predictions)
        config = read_config(artifact_dir)  # the registry keeps the run config the artifact holds
        stored = artifact_store(artifact_dir, f"models/{p['model_name']}/job-{job.pk}-{uuid.uuid4().hex[:8]}")
        registered: list[ModelVersion] = []

        def register() -> dict[str, Any]:
            mv = model_version_create(
                actor=job.actor,
                model_name=p["model_name"],
                job=job,
                artifact=stored,
                result=result,
                versions=versions,
                config=config,
                baseline=baseline,
                recipe=recipe,
            )
            registered.append(mv)
            return {"model": mv.model.name, "version": mv.version}

        # Once per job, fenced by this attempt: an attempt whose lease was taken over registers nothing.
        ref = job_output(job, "model_version", register)
        if not registered:
            artifact_delete(stored)  # an earlier attempt registered the version; this artifact is not needed
    except BaseException:
        if stored is not None:
            artifact_delete(stored)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(ckpt, ignore_errors=True)
    return {"model_version": ref}


def job_recipe(p: dict[str, Any], spec: Any, *, train_rows: int) -> dict[str, Any]:
    """The parameters the job runs with: its explicit ones over the device's recipe. A job queued
    before recipes existed (no explicit_params) runs with the parameters it was queued with."""
    from training.ml import SpecError
    from training.ml.recipes import choose_recipe

    if "explicit_params" not in p:
        return {
            "name": "as_queued",
            "device": None,
            "reason": "queued before device recipes: the parameters stored with the job",
            "applied": {},
            "overridden": [],
            "params": p["params"],
        }
    try:
        chosen = choose_recipe(p["explicit_params"], train_rows=train_rows, has_text=bool(spec.text_columns))
    except SpecError as exc:
        raise ServiceError(str(exc)) from None
    return chosen.to_dict()


def _baseline(tables: tuple[pa.Table, ...], spec: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The baseline on the same split and columns; a failure is recorded, not fatal: the model
    version still registers, and shows why it has no baseline."""
    from training.ml.baseline import fit_baseline

    try:
        result = fit_baseline(
            train_table=tables[0],
            valid_table=tables[1],
            test_table=tables[2],
            spec=spec,
            threshold=float(params.get("threshold", 0.5)),
            seed=int(params.get("seed", 0)),
        )
    except Exception as exc:  # noqa: BLE001 - the model is worth keeping even if its baseline fails
        # Only the exception's type: its message could quote a value of a PII-flagged column.
        log.error("baseline failed: %s", type(exc).__name__)
        return {"error": f"the baseline failed ({type(exc).__name__})"}
    return result.to_dict()


def _needed_columns(spec: Any, params: dict[str, Any], split: dict[str, Any]) -> list[str]:
    cols = [spec.label_column, *spec.feature_columns]
    for extra in (params.get("segment_column"), split.get("time_column")):
        if extra:
            cols.append(extra)
    return list(dict.fromkeys(cols))


def _read(version: DatasetVersion, columns: list[str]) -> pa.Table:
    with local_path(version.parquet) as path:
        return pq.read_table(path, columns=columns)


class _ProgressWriter:
    """Turns training events into Job progress and live curves, writing at most once a second
    (evaluations always), and answers cancellation at most every two seconds.

    The loop reports a step event every `progress_every_steps` steps, which on slow steps (a text encoder on CPU)
    is minutes apart. It also asks `should_stop` once before each step, so between step events the writer counts
    those calls and, once STEWARD_TRAINING_PROGRESS_S passed since the last write, reports the step reached by
    time. `clock` is injectable for tests."""

    MAX_POINTS = 400

    def __init__(
        self, reporter: Reporter, *, clock: Callable[[], float] = time.monotonic, interval_s: float | None = None
    ) -> None:
        self.reporter = reporter
        self.clock = clock
        self.interval_s = settings.STEWARD_TRAINING_PROGRESS_S if interval_s is None else interval_s
        self.loss: list[list[float]] = []
        self.val_auc: list[list[float]] = []
        self.last: dict[str, Any] = {}
        self._written = float("-inf")  # the first step event is always written
        self._quiet_since = clock()  # the last write, or the start: what the time-based report counts from
        self._checked = float("-inf")
        self._cancel = False
        self._fraction = 0.02
        # should_stop calls since the last step event: the loop asks once before each step it starts.
        self._started = 0
        # With a refit (training/ml/refit.py) the first pass is pass 0 of 2 and the refit pass 1, whose
        # steps go on from the first pass's (pass_offset): each pass has its half of the bar.
        self._pass = (0, 1, 0)

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if "passes" in event:
            self._pass = (int(event.get("pass") or 0), int(event["passes"]), int(event.get("pass_offset") or 0))
        if kind in ("step", "resumed"):
            self._started = 0
        if kind == "step":
            self.loss.append([event["step"], round(float(event["loss"]), 5)])
            self.last = {
                k: event[k]
                for k in ("step", "total_steps", "epoch", "encoder_frozen", "samples_per_second", "phase")
                if k in event
            }
        elif kind == "eval" and event.get("auc") is not None:
            self.val_auc.append([event["step"], round(float(event["auc"]), 5)])
        elif kind == "resumed":
            self.last = {k: event[k] for k in ("step", "total_steps", "phase") if k in event}
            self.loss.clear()
            self.val_auc.clear()
        self._thin()
        now = self.clock()
        if kind == "step" and now - self._written < 1.0:
            return
        self._written = self._quiet_since = now
        total = max(int(self.last.get("total_steps") or event.get("total_steps") or 1), 1)
        step = int(event.get("step") or 0)
        fraction = self._fraction = self._fraction_at(step, total)
        if kind == "eval" and event.get("auc") is not None:
            message = f"step {step}/{total}: validation AUC {event['auc']:.4f}"
        elif kind == "resumed":
            message = f"resumed from the checkpoint at step {step}"
        else:
            message = f"step {step}/{total}, loss {event.get('loss', 0):.4f}"
        if event.get("phase") == "refit":
            message = f"refit on train + validation: {message}"
        self.reporter.progress(fraction, message, **self.details())

    def details(self) -> dict[str, Any]:
        return {"curves": {"loss": self.loss, "val_auc": self.val_auc}, "training": self.last}

    def _thin(self) -> None:
        # Long runs keep every other point once a curve is long; the page needs a shape, not all.
        for curve in (self.loss, self.val_auc):
            if len(curve) > self.MAX_POINTS:
                del curve[1:-1:2]

    def _fraction_at(self, step: int, total: int) -> float:
        """The job's progress at `step` of `total` in the current pass: 0.02 to 0.97 over all passes."""
        index, passes, offset = self._pass
        within = min(max(step - offset, 0) / max(total - offset, 1), 1.0)
        return 0.02 + 0.95 * (index + within) / max(passes, 1)

    def _report_by_time(self, now: float) -> None:
        """A step is running and no step event came for interval_s: say which step the loop reached."""
        step = int(self.last.get("step") or 0) + self._started - 1
        total = self.last.get("total_steps")
        self._written = self._quiet_since = now
        if total:
            self._fraction = self._fraction_at(step, max(int(total), 1))
        message = f"step {step}/{total}" if total else f"step {step}"
        if self.loss:
            message += f", last loss {self.loss[-1][1]:.4f} at step {int(self.loss[-1][0])}"
        if self.last.get("phase") == "refit":
            message = f"refit on train + validation: {message}"
        self.reporter.progress(self._fraction, message, training={**self.last, "step": step})

    def cancel_requested(self) -> bool:
        now = self.clock()
        self._started += 1
        if self._started > 1 and now - self._quiet_since >= self.interval_s:
            self._report_by_time(now)
        if now - self._checked >= 2.0:
            self._checked = now
            self._cancel = self.reporter.cancelled()
        return self._cancel
