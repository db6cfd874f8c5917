"""OpenLineage run events for Steward's jobs, emitted from the one job lifecycle (core.jobs).

Every job of a kind in STEWARD_OPENLINEAGE_KINDS (transforms, masking, labeling exports, training) sends a START
event when a worker claims it and COMPLETE / FAIL / ABORT when it ends, through the `openlineage-python` client.
Datasets are named `<dataset>:<version>` in the namespace STEWARD_OPENLINEAGE_NAMESPACE and carry a schema facet;
model versions are outputs named `models/<model>:<version>`; the job's parameters travel as an
ExecutionParametersRunFacet. The transport comes from settings: HTTP to OPENLINEAGE_URL (Marquez, DataHub,
OpenMetadata), else JSON lines in DATA_DIR/openlineage/events.jsonl, or nothing with STEWARD_OPENLINEAGE=off.

Core knows no datasets: apps register how to name a reference (`register_dataset_resolver(ref_type, fn)`, fn(ref)
-> (name, [(column, type)]) or None) and which of its columns a reader without pii.manage may not see raw
(`register_hidden_columns_resolver(ref_type, fn)`, fn(ref) -> set of names or None) in their AppConfig.ready().
A receiver is not the job's owner: parameters that quote a hidden column's values are withheld
(core.selectors.job_params_for_receiver), and a job whose inputs' hidden columns are unknown sends only what
job_params_for shows an outsider. Emission never fails a job: every error is logged and dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.models import Job
from core.selectors import job_error_for, job_params_for, job_params_for_receiver

log = logging.getLogger(__name__)

PRODUCER = "https://github.com/steward-platform/steward"
# ref -> (dataset name, [(column, type), ...]) or None when the reference no longer exists
DatasetResolver = Callable[[Any], "tuple[str, list[tuple[str, str]]] | None"]

HiddenColumnsResolver = Callable[[Any], "set[str] | None"]

_resolvers: dict[str, DatasetResolver] = {}
_hidden_resolvers: dict[str, HiddenColumnsResolver] = {}
_clients: dict[tuple[Any, ...], Any] = {}
_lock = threading.Lock()


def register_dataset_resolver(ref_type: str, fn: DatasetResolver) -> None:
    """`ref_type` is "dataset_version" (an id), "model_version" ({"model", "version"}) or a job subject type
    (e.g. "labeling_project": an id whose job reads that project's version)."""
    _resolvers[ref_type] = fn


def register_hidden_columns_resolver(ref_type: str, fn: HiddenColumnsResolver) -> None:
    """fn(ref) -> the columns of that reference whose raw values a reader without pii.manage may not see, or None
    when the reference no longer exists."""
    _hidden_resolvers[ref_type] = fn


def run_id(job_id: int) -> str:
    """A stable UUID per job, so START and its COMPLETE/FAIL share a run (and a retried attempt stays that run)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{settings.STEWARD_OPENLINEAGE_NAMESPACE}/jobs/{job_id}"))


def _transport_key() -> tuple[Any, ...]:
    mode = "off" if not settings.STEWARD_OPENLINEAGE else ("http" if settings.OPENLINEAGE_URL else "file")
    return (mode, settings.OPENLINEAGE_URL, str(settings.STEWARD_OPENLINEAGE_FILE), settings.OPENLINEAGE_API_KEY)


def _client() -> Any | None:
    key = _transport_key()
    if key[0] == "off":
        return None
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _make_client(key)
    return client


def _make_client(key: tuple[Any, ...]) -> Any:
    from openlineage.client import OpenLineageClient
    from openlineage.client.transport.file import FileConfig, FileTransport
    from openlineage.client.transport.http import ApiKeyTokenProvider, HttpConfig, HttpTransport, TokenProvider

    mode, url, path, api_key = key
    if mode == "http":
        auth = ApiKeyTokenProvider({"apiKey": api_key}) if api_key else TokenProvider({})
        # No retries: a catalog that is down must not hold a job up for minutes; the event is logged as lost.
        config = HttpConfig(url=url, timeout=settings.OPENLINEAGE_TIMEOUT_S, auth=auth, retry={"total": 0})
        return OpenLineageClient(transport=HttpTransport(config))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=path, append=True)))


def _job_name(job: Job) -> str:
    params = job.params or {}
    if job.kind == "transform" and params.get("operation"):
        return f"transform.{params['operation']}"
    if job.kind == "training" and params.get("model_name"):
        return f"training.{params['model_name']}"
    return job.kind


def _input_refs(job: Job) -> list[tuple[str, Any]]:
    params = job.params or {}
    refs: list[tuple[str, Any]] = []
    if isinstance(params.get("inputs"), list):
        refs += [("dataset_version", pk) for pk in params["inputs"]]
    elif isinstance(params.get("dataset_versions"), dict):
        refs += [("dataset_version", pk) for pk in dict.fromkeys(params["dataset_versions"].values())]
    elif isinstance(params.get("dataset_version"), int):
        refs.append(("dataset_version", params["dataset_version"]))
    elif job.subject_type and job.subject_id is not None:
        refs.append((job.subject_type, job.subject_id))
    return refs


def _output_refs(job: Job) -> list[tuple[str, Any]]:
    result = job.result or {}
    refs: list[tuple[str, Any]] = []
    if isinstance(result.get("dataset_version"), int):
        refs.append(("dataset_version", result["dataset_version"]))
    if isinstance(result.get("dataset_versions"), list):
        refs += [("dataset_version", pk) for pk in result["dataset_versions"]]
    if isinstance(result.get("model_version"), dict):
        refs.append(("model_version", result["model_version"]))
    return refs


def _datasets(refs: list[tuple[str, Any]], cls: Any) -> list[Any]:
    from openlineage.client.facet_v2 import schema_dataset

    out = []
    for ref_type, ref in refs:
        resolver = _resolvers.get(ref_type)
        named = resolver(ref) if resolver else None
        if named is None:
            continue
        name, fields = named
        facets = {}
        if fields:
            facets["schema"] = schema_dataset.SchemaDatasetFacet(
                fields=[schema_dataset.SchemaDatasetFacetFields(name=c, type=t) for c, t in fields]
            )
        out.append(cls(namespace=settings.STEWARD_OPENLINEAGE_NAMESPACE, name=name, facets=facets))
    return out


def _receiver_params(job: Job, refs: list[tuple[str, Any]]) -> tuple[dict[str, Any], int]:
    """The parameters as a receiver may read them (it is not the job's owner), and how many values were withheld."""
    columns: set[str] = set()
    hidden: set[str] = set()
    for ref_type, ref in refs:
        resolve_hidden, resolve_named = _hidden_resolvers.get(ref_type), _resolvers.get(ref_type)
        found = resolve_hidden(ref) if resolve_hidden else None
        named = resolve_named(ref) if resolve_named else None
        if found is None or named is None:
            break
        hidden |= found
        columns |= {name for name, _ in named[1]}
    else:
        if refs:
            return job_params_for_receiver(job=job, columns=columns, hidden=hidden)
    # Inputs whose hidden columns nobody can tell: what an outsider reads.
    shown = job_params_for(job=job, user=None)
    return shown, len(job.params or {}) - len(set(shown) & set(job.params or {}))


def _parameters(job: Job, refs: list[tuple[str, Any]]) -> Any:
    from openlineage.client.facet_v2 import execution_parameters_run as ep

    params, withheld = _receiver_params(job, refs)
    values = [ep.ExecutionParameter(key="steward.job_id", value=str(job.pk))]
    values.append(ep.ExecutionParameter(key="steward.attempt", value=str(job.attempts)))
    if withheld:
        values.append(ep.ExecutionParameter(key="steward.withheld_values", value=str(withheld)))
    for key, value in sorted(params.items()):
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        values.append(ep.ExecutionParameter(key=str(key), value=text))
    return ep.ExecutionParametersRunFacet(parameters=values)


def build_event(job: Job, event_type: str) -> Any:
    """The RunEvent for `job` (START, COMPLETE, FAIL or ABORT); outputs only once the job has a result."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent
    from openlineage.client.event_v2 import Job as OlJob
    from openlineage.client.event_v2 import Run as OlRun
    from openlineage.client.facet_v2 import error_message_run, job_type_job
    from openlineage.client.generated.base import EventType

    inputs = _input_refs(job)
    run_facets: dict[str, Any] = {"executionParameters": _parameters(job, inputs)}
    if event_type == "FAIL" and job.error:
        # The first line of what a reader without jobs.debug sees: a reason Steward wrote for people, or only an
        # unexpected exception's type (its message can quote a cell, as `could not convert string to float: ...`).
        message = job_error_for(job=job, user=None).strip().splitlines()[0][:1000]
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=message, programmingLanguage="python"
        )
    job_facets = {"jobType": job_type_job.JobTypeJobFacet(processingType="BATCH", integration="STEWARD", jobType="JOB")}
    return RunEvent(
        eventType=EventType[event_type],
        eventTime=timezone.now().isoformat(),
        run=OlRun(runId=run_id(job.pk), facets=run_facets),
        job=OlJob(namespace=settings.STEWARD_OPENLINEAGE_NAMESPACE, name=_job_name(job), facets=job_facets),
        producer=PRODUCER,
        inputs=_datasets(inputs, InputDataset),
        outputs=_datasets(_output_refs(job), OutputDataset) if event_type == "COMPLETE" else [],
    )


_END_EVENTS = {Job.Status.SUCCEEDED: "COMPLETE", Job.Status.FAILED: "FAIL", Job.Status.CANCELLED: "ABORT"}


def job_event(job_id: int, event_type: str | None = None, *, kind: str | None = None) -> None:
    """Emit the event of job `job_id` (default: the one its current status calls for). Never raises. With `kind`,
    a job of a kind that sends no events costs no query."""
    try:
        if job_id is None or _transport_key()[0] == "off":
            return
        if kind is not None and kind not in settings.STEWARD_OPENLINEAGE_KINDS:
            return
        job = Job.objects.filter(pk=job_id).first()
        if job is None or job.kind not in settings.STEWARD_OPENLINEAGE_KINDS:
            return
        event_type = (
            event_type or _END_EVENTS.get(job.status) or ("START" if job.status == Job.Status.RUNNING else None)
        )
        if event_type is None:
            return
        client = _client()
        if client is not None:
            client.emit(build_event(job, event_type))
    except Exception:  # lineage is a side channel: a catalog that is down or a bad facet never fails a job
        log.warning("OpenLineage %s event for job %s was not sent", event_type, job_id, exc_info=True)
