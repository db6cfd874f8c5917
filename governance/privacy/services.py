"""Writes of the privacy app: scans, steward decisions, custom recognizers, masking, decryption.

Every write runs in a transaction with its audit row. Raw cell values never reach an audit
summary, a job message or a log line: findings carry masked snippets only.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import pyarrow.parquet as pq
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from core.audit import audit_log, user_or_none
from core.errors import ServiceError
from core.jobs import (
    PartsVerdict,
    Reporter,
    job_enqueue,
    job_fail,
    job_output,
    job_output_get,
    job_start,
    job_succeed,
    max_attempts,
    part_heartbeat,
)
from core.models import Job
from core.storage import delete_file, local_path, scratch_dir, store_file
from governance.catalog.ingest import ROW_GROUP_ROWS
from governance.catalog.models import Dataset, DatasetVersion
from governance.privacy.engines import analyzer
from governance.privacy.models import (
    CustomRecognizer,
    MaskChunk,
    MaskingPolicy,
    PiiColumnDecision,
    PiiFinding,
    PiiScan,
)
from governance.privacy.selectors import (
    column_values,
    latest_scan,
    masked_columns,
    masked_rows,
    masking_rules,
    read_sample,
    scan_in_flight,
    version_recognizers,
)

log = logging.getLogger(__name__)

# The attempt cap of one masking chunk (STEWARD_JOB_MAX_ATTEMPTS_BY_KIND["pii_mask_chunk"], else the default).
CHUNK_KIND = "pii_mask_chunk"

RAW_EXAMPLES = 5
RAW_EXAMPLE_SCAN = 2000


def _version_job_start(
    *,
    version: DatasetVersion,
    kind: str,
    task: str,
    actor: Any,
    params: dict[str, Any],
    task_args: tuple[Any, ...] = (),
) -> Job:
    """A job that works on one dataset version (the version's page lists it; its params name the version)."""
    return job_start(
        kind=kind,
        task=task,
        actor=actor,
        subject_type="dataset_version",
        subject_id=version.pk,
        params={"dataset_version": version.pk, **params},
        task_args=task_args,
    )


# ---------------------------------------------------------------------------------------------
# Scans
# ---------------------------------------------------------------------------------------------


def pii_scan_start(*, version: DatasetVersion, actor: Any, trigger: str = "manual") -> PiiScan:
    with transaction.atomic():
        scan = PiiScan.objects.create(
            version=version,
            trigger=trigger,
            sample_rows=settings.STEWARD_PII_SAMPLE_ROWS,
            created_by=user_or_none(actor),
        )
        job = _version_job_start(
            version=version,
            kind="pii_scan",
            task="privacy.scan_version",
            actor=actor,
            params={"scan": scan.pk, "trigger": trigger},
            task_args=(scan.pk,),
        )
        scan.job = job
        scan.save(update_fields=["job"])
        DatasetVersion.objects.filter(pk=version.pk).update(pii_status=DatasetVersion.PiiStatus.SCANNING)
        audit_log(
            actor=actor, action="pii.scan.start", obj=scan, summary={"dataset_version": version.pk, "trigger": trigger}
        )
    return scan


def pii_scan_run(*, job: Job, scan_id: int, reporter: Reporter) -> dict[str, Any]:
    """The scan task's body: run the scan. A scan's status is its job's (PiiScan.status), so a scan whose
    job fails or is cancelled has failed."""
    scan = PiiScan.objects.select_related("version__dataset", "job").filter(pk=scan_id, job_id=job.pk).first()
    if scan is None:
        return {"scan": None}
    try:
        return pii_scan_execute(scan=scan, reporter=reporter)
    except BaseException:
        # The task wrapper records the job's failure or cancellation once this raises; the version's
        # status must not count the scan as running until then.
        version_pii_status_refresh(scan.version, ending=scan)
        raise


def pii_scan_abandoned(*, job: Job) -> None:
    """The scan's job ended without its body (worker lost, attempts spent): the version's status stops
    counting the scan as in flight."""
    scan = PiiScan.objects.select_related("version").filter(job=job).first()
    if scan is not None:
        version_pii_status_refresh(scan.version)


def pii_scan_execute(*, scan: PiiScan, reporter: Reporter) -> dict[str, Any]:
    """The scan job's work: classify every column on a sample and record the findings."""
    from governance.privacy.classify import classify_column, sample_values

    version = scan.version
    table = read_sample(version, scan.sample_rows, seed=version.pk)
    engine = analyzer()
    recognizers = version_recognizers(version)
    reports = []
    for i, name in enumerate(table.column_names):
        reporter.check_cancelled()
        reporter.progress(i / max(1, table.num_columns), f"column {i + 1} of {table.num_columns}")
        values = sample_values(table.column(name), scan.sample_rows, seed=version.pk)
        reports.append(
            classify_column(
                name,
                table.schema.field(name).type,
                values,
                analyzer=engine,
                ad_hoc_recognizers=recognizers,
                table_columns=table.column_names,
            )
        )
    masked = masked_columns(version)
    remembered = set(PiiColumnDecision.objects.filter(dataset=version.dataset).values_list("column", "entity_type"))
    with transaction.atomic():
        scan.columns = [r.to_dict() for r in reports]
        scan.save(update_fields=["columns"])
        for report in reports:
            if not report.flagged:
                continue
            decision, note = PiiFinding.Decision.PENDING, ""
            if report.name in masked:
                decision, note = PiiFinding.Decision.MASKED, f"masked by policy ({masked[report.name]})"
            elif (report.name, report.entity_type) in remembered:
                # Same column name and same entity type only: a column renamed onto a rejected name is reviewed.
                decision, note = PiiFinding.Decision.REJECTED, "rejected for this column in an earlier version"
            PiiFinding.objects.create(
                scan=scan,
                version=version,
                column=report.name,
                entity_type=report.entity_type,
                kind=report.kind,
                share=report.share,
                score=report.score,
                recognizers=report.recognizers,
                evidence={
                    "entities": [e.to_dict() for e in report.entities[:6]],
                    "snippets": report.snippets,
                    "reasons": report.reasons,
                    "name_hint": report.name_hint,
                    "language": report.language,
                    "sampled": report.sampled,
                    "non_empty": report.non_empty,
                },
                decision=decision,
                decision_note=note,
            )
        status = version_pii_status_refresh(version, ending=scan, succeeded=True)
        result = {
            "scan": scan.pk,
            "dataset_version": version.pk,
            "pii_status": status,
            "columns": [
                {"name": r.name, "entity_type": r.entity_type, "share": r.share, "score": r.score, "kind": r.kind}
                for r in reports
            ],
        }
        # The job succeeds in the transaction that records its findings: nobody sees the findings of a scan
        # still running, and a redelivered message finds the job finished. The wrapper's own success after
        # this returns changes nothing (it is guarded by status).
        if not job_succeed(scan.job_id, result, attempt=reporter.attempt):
            transaction.set_rollback(True)  # another delivery of the task finished the scan first
            return result
        audit_log(
            actor=scan.created_by,
            action="pii.scan.finish",
            obj=scan,
            summary={
                "dataset_version": version.pk,
                "flagged": [r.name for r in reports if r.flagged],
                "status": status,
            },
        )
    return result


def version_pii_status_refresh(
    version: DatasetVersion, *, ending: PiiScan | None = None, succeeded: bool = False
) -> str:
    """Recompute the version's pii_status from its latest succeeded scan, or scanning while a scan is in flight.

    ``ending`` is a scan whose job ends with the caller's transaction (or right after it): it no longer
    counts as in flight, and with ``succeeded`` it counts as succeeded.
    """
    scan = latest_scan(version, including=ending if succeeded else None)
    if scan is None:
        status = DatasetVersion.PiiStatus.NOT_SCANNED
    else:
        findings = list(scan.findings.all())
        if not findings:
            status = DatasetVersion.PiiStatus.CLEAN
        elif all(f.resolved for f in findings):
            status = DatasetVersion.PiiStatus.RESOLVED
        else:
            status = DatasetVersion.PiiStatus.UNRESOLVED
    if scan_in_flight(version, excluding=ending):
        status = DatasetVersion.PiiStatus.SCANNING
    DatasetVersion.objects.filter(pk=version.pk).update(pii_status=status)
    version.pii_status = status
    return status


# ---------------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------------


def pii_finding_decide(*, finding: PiiFinding, actor: Any, decision: str) -> PiiFinding:
    if decision not in (PiiFinding.Decision.ACCEPTED, PiiFinding.Decision.REJECTED):
        raise ServiceError("decision must be 'accepted' (it is PII) or 'rejected' (not PII)", field="decision")
    with transaction.atomic():
        finding = PiiFinding.objects.select_for_update().select_related("version__dataset").get(pk=finding.pk)
        if finding.decision == PiiFinding.Decision.MASKED:
            raise ServiceError("this column was already masked in this version", field="decision", status_code=409)
        previous = finding.decision
        finding.decision = decision
        finding.decision_note = ""
        finding.decided_by = actor
        finding.decided_at = timezone.now()
        finding.save(update_fields=["decision", "decision_note", "decided_by", "decided_at"])
        dataset = finding.version.dataset
        if decision == PiiFinding.Decision.REJECTED:
            PiiColumnDecision.objects.update_or_create(
                dataset=dataset,
                column=finding.column,
                entity_type=finding.entity_type,
                defaults={"decision": decision, "decided_by": actor},
            )
        else:
            PiiColumnDecision.objects.filter(
                dataset=dataset, column=finding.column, entity_type=finding.entity_type
            ).delete()
        status = version_pii_status_refresh(finding.version)
        audit_log(
            actor=actor,
            action="pii.finding.decide",
            obj=finding,
            summary={
                "column": finding.column,
                "entity_type": finding.entity_type,
                "from": previous,
                "to": decision,
                "dataset_version": finding.version_id,
                "pii_status": status,
            },
        )
    return finding


def pii_finding_raw_examples(*, finding: PiiFinding, actor: Any, limit: int = RAW_EXAMPLES) -> list[str]:
    """Raw values behind a finding, for a steward; the access itself is audited."""
    version = finding.version
    # Free text is analyzed on at most RAW_EXAMPLE_SCAN values; an entity column needs only a few.
    values = column_values(
        version, finding.column, limit=RAW_EXAMPLE_SCAN if finding.kind == "free_text" else limit * 4
    )
    if finding.kind == "free_text":
        engine = analyzer()
        recognizers = version_recognizers(version)
        examples: list[str] = []
        for start in range(0, len(values), 200):
            batch = [str(v) for v in values[start : start + 200]]
            for text, found in zip(batch, engine.analyze_batch(batch, ad_hoc_recognizers=recognizers), strict=True):
                if any(r.entity_type == finding.entity_type for r in found):
                    examples.append(text)
            if len(examples) >= limit:
                break
    else:
        examples = [str(v) for v in values[: limit * 4]]
    examples = list(dict.fromkeys(examples))[:limit]
    with transaction.atomic():
        audit_log(
            actor=actor,
            action="pii.finding.raw_examples",
            obj=finding,
            summary={"column": finding.column, "dataset_version": version.pk, "examples": len(examples)},
        )
    return examples


# ---------------------------------------------------------------------------------------------
# Custom recognizers
# ---------------------------------------------------------------------------------------------


def custom_recognizer_create(*, dataset: Dataset, actor: Any, spec: dict[str, Any]) -> CustomRecognizer:
    from governance.privacy.recognizers.custom import RecognizerSpecError, recognizer_from_spec

    try:
        recognizer = recognizer_from_spec(spec, check_speed=True)
    except RecognizerSpecError as exc:
        raise ServiceError(str(exc), field="spec") from None
    with transaction.atomic():
        if CustomRecognizer.objects.filter(dataset=dataset, name=recognizer.name).exists():
            raise ServiceError(
                f"dataset {dataset.name!r} already has a recognizer named {recognizer.name!r}", field="spec"
            )
        obj = CustomRecognizer.objects.create(
            dataset=dataset, name=recognizer.name, spec=spec, created_by=user_or_none(actor)
        )
        audit_log(
            actor=actor,
            action="pii.recognizer.create",
            obj=obj,
            summary={"dataset": dataset.pk, "entity_type": spec.get("entity_type"), "name": obj.name},
        )
    return obj


def custom_recognizer_delete(*, recognizer: CustomRecognizer, actor: Any) -> None:
    with transaction.atomic():
        audit_log(
            actor=actor,
            action="pii.recognizer.delete",
            obj=recognizer,
            summary={"dataset": recognizer.dataset_id, "name": recognizer.name},
        )
        recognizer.delete()


# ---------------------------------------------------------------------------------------------
# Masking
# ---------------------------------------------------------------------------------------------


def mask_start(*, version: DatasetVersion, actor: Any, policy: Any, save_as: str | None = None) -> Job:
    from governance.privacy.masking import public_policy

    rules = masking_rules(version=version, policy=policy)
    recorded = public_policy(rules)
    with transaction.atomic():
        job = _version_job_start(
            version=version, kind="pii_mask", task="privacy.mask_version", actor=actor, params={"policy": recorded}
        )
        if save_as:
            MaskingPolicy.objects.update_or_create(
                dataset=version.dataset,
                name=save_as[:100],
                defaults={"policy": recorded, "updated_by": user_or_none(actor)},
            )
        audit_log(
            actor=actor,
            action="pii.mask.start",
            obj=job,
            summary={
                "dataset_version": version.pk,
                "columns": {c: r["operator"] for c, r in recorded["columns"].items()},
            },
        )
    return job


def mask_plan(*, job: Job) -> list[MaskChunk]:
    version = DatasetVersion.objects.get(pk=job.params["dataset_version"])
    size = settings.STEWARD_PII_CHUNK_ROWS
    rows = max(1, version.row_count)
    with transaction.atomic():
        if not job.mask_chunks.exists():
            MaskChunk.objects.bulk_create(
                [
                    MaskChunk(job=job, index=i, start=start, stop=min(rows, start + size))
                    for i, start in enumerate(range(0, rows, size))
                ]
            )
    return list(job.mask_chunks.order_by("index"))


def mask_chunks_send(*, job: Job, chunks: list[MaskChunk]) -> int:
    """Send the pending chunks' messages, recording when (a chunk queued longer than STEWARD_JOB_QUEUED_RESEND_S
    is sent again by the sweep)."""
    pending = [c for c in chunks if c.status == MaskChunk.Status.PENDING]
    MaskChunk.objects.filter(pk__in=[c.pk for c in pending], status=MaskChunk.Status.PENDING).update(
        heartbeat_at=timezone.now()
    )
    for chunk in pending:
        job_enqueue(job, "privacy.mask_chunk", chunk.index)
    return len(pending)


def _chunk_lost(chunk: MaskChunk) -> str:
    beat = chunk.heartbeat_at.isoformat(timespec="seconds") if chunk.heartbeat_at else "never"
    return (
        f"its worker ({chunk.worker or 'unknown'}) was lost on attempt {chunk.attempts}: no heartbeat since {beat} "
        f"(lease {settings.STEWARD_JOB_LEASE_S} s)"
    )


def _chunk_gave_up(chunk: MaskChunk) -> str:
    return (
        f"masking chunk {chunk.index} (rows {chunk.start}-{chunk.stop}) gave up after {chunk.attempts} of "
        f"{max_attempts(CHUNK_KIND)} attempts: {_chunk_lost(chunk)}"
    )


def _chunk_lease_expired(chunk: MaskChunk, now: datetime) -> bool:
    cutoff = now - timedelta(seconds=settings.STEWARD_JOB_LEASE_S)
    return chunk.status == MaskChunk.Status.RUNNING and (chunk.heartbeat_at is None or chunk.heartbeat_at < cutoff)


def mask_chunk_claim(*, job: Job, index: int, worker: str = "") -> MaskChunk | None:
    """Take chunk `index` for this worker: a pending one, or a running one whose lease expired (its worker died);
    each claim counts one of the chunk's attempts, and past its cap the job fails with the reason. None when the
    chunk is done, runs elsewhere with a fresh lease, or its job ended."""
    now = timezone.now()
    chunk = MaskChunk.objects.filter(job=job, index=index).first()
    if chunk is None or not (chunk.status == MaskChunk.Status.PENDING or _chunk_lease_expired(chunk, now)):
        return None
    if chunk.attempts >= max_attempts(CHUNK_KIND):
        if job_fail(job.pk, _chunk_gave_up(chunk), attempt=job.attempts):
            mask_abandoned(job=job)
        return None
    seen = MaskChunk.objects.filter(
        pk=chunk.pk, status=chunk.status, attempts=chunk.attempts, heartbeat_at=chunk.heartbeat_at
    )
    if not seen.update(
        status=MaskChunk.Status.RUNNING,
        attempts=F("attempts") + 1,
        worker=worker[:200],
        started_at=now,
        heartbeat_at=now,
    ):
        return None  # another worker claimed it in between
    if chunk.status == MaskChunk.Status.RUNNING:
        log.warning("job %s chunk %s taken over: %s", job.pk, index, _chunk_lost(chunk))
    return MaskChunk.objects.get(pk=chunk.pk)


def mask_chunk_heartbeat(*, chunk: MaskChunk) -> bool:
    """Renew the lease of this attempt at the chunk; False once it is no longer this attempt's."""
    return bool(
        MaskChunk.objects.filter(pk=chunk.pk, status=MaskChunk.Status.RUNNING, attempts=chunk.attempts).update(
            heartbeat_at=timezone.now()
        )
    )


def mask_lease_expired(*, job: Job, now: datetime) -> PartsVerdict:
    """The sweep's (and a redelivered job message's) verdict on a masking job whose own lease expired: alive while
    its chunks are queued or running with fresh leases; a chunk whose worker died is set back to pending and sent
    again (its next claim counts its attempt), one past its cap fails the job with the reason; a chunk queued longer
    than STEWARD_JOB_QUEUED_RESEND_S is sent again (a lost message). Not fanned out yet (no chunks, or chunks never
    sent: its worker died while planning) or every chunk done (it was assembling): the job itself was lost, and its
    retry sends the pending chunks or assembles."""
    chunks = list(job.mask_chunks.order_by("index"))
    never_sent = any(c.status == MaskChunk.Status.PENDING and c.heartbeat_at is None for c in chunks)
    if not chunks or never_sent or all(c.status == MaskChunk.Status.DONE for c in chunks):
        return PartsVerdict()
    resend_cutoff = now - timedelta(seconds=settings.STEWARD_JOB_QUEUED_RESEND_S)
    cap = max_attempts(CHUNK_KIND)
    for chunk in chunks:
        seen = MaskChunk.objects.filter(
            pk=chunk.pk, status=chunk.status, attempts=chunk.attempts, heartbeat_at=chunk.heartbeat_at
        )
        if _chunk_lease_expired(chunk, now):
            if chunk.attempts >= cap:
                return PartsVerdict(failed=_chunk_gave_up(chunk))
            if seen.update(status=MaskChunk.Status.PENDING, heartbeat_at=now):
                log.warning("job %s chunk %s sent again: %s", job.pk, chunk.index, _chunk_lost(chunk))
                job_enqueue(job, "privacy.mask_chunk", chunk.index)
            continue
        queued_long = chunk.heartbeat_at is not None and chunk.heartbeat_at < resend_cutoff
        if chunk.status == MaskChunk.Status.PENDING and queued_long and seen.update(heartbeat_at=now):
            job_enqueue(job, "privacy.mask_chunk", chunk.index)  # its message was lost (or waits long): harmless
    return PartsVerdict(alive=True)


def mask_abandoned(*, job: Job) -> None:
    """A masking job ended without assembling (a chunk or the job spent its attempts): delete the parts written."""
    for part in MaskChunk.objects.filter(job=job).exclude(part="").values_list("part", flat=True):
        delete_file(part)


def mask_chunk_execute(*, job: Job, chunk: MaskChunk, worker: str = "") -> bool:
    """Mask one slice of rows (a claimed chunk) into a Parquet part. Returns True when this was the last chunk."""
    started = time.perf_counter()
    version = DatasetVersion.objects.get(pk=job.params["dataset_version"])
    _, masked = masked_rows(version=version, policy=job.params["policy"], start=chunk.start, stop=chunk.stop)
    tmp = scratch_dir() / f"mask-{job.pk}-{chunk.index}-{uuid.uuid4().hex[:8]}.parquet"
    pq.write_table(masked, tmp)
    # Named for the attempt: a stale attempt that finishes late deletes its own part, not the winner's.
    stored = store_file(f"tmp/mask/{job.pk}/part-{chunk.index:05d}-{chunk.attempts}.parquet", tmp)
    seconds = time.perf_counter() - started
    with transaction.atomic():
        # The job row lock serializes chunk completions, so exactly one worker sees the last one.
        locked = Job.objects.select_for_update().filter(pk=job.pk).values_list("status", flat=True).first()
        updated = locked == Job.Status.RUNNING and MaskChunk.objects.filter(
            pk=chunk.pk, status=MaskChunk.Status.RUNNING, attempts=chunk.attempts
        ).update(status=MaskChunk.Status.DONE, part=stored, seconds=seconds, finished_at=timezone.now())
        # Not recorded: this attempt lost the chunk (its lease expired and another worker took it over), or the job
        # ended meanwhile (failed, cancelled): its part would be kept by nothing.
        if not updated:
            transaction.on_commit(lambda: delete_file(stored))
            return False
        total = job.mask_chunks.count()
        done = job.mask_chunks.filter(status=MaskChunk.Status.DONE).count()
        Reporter(job.pk).progress(
            done / total * 0.95, f"masked {done} of {total} chunks", chunks_done=done, chunks=total
        )
        return (
            done == total
            and Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING)
            .exclude(message="assembling")
            .update(message="assembling")
            == 1
        )


def mask_chunk_run(*, job: Job, index: int, worker: str = "") -> dict[str, Any] | None:
    """One chunk task's body: mask the chunk; the worker that completes the last one assembles the version and
    returns the job's result."""
    chunk = mask_chunk_claim(job=job, index=index, worker=worker)
    if chunk is None:
        return None
    total = job.mask_chunks.count()
    done = job.mask_chunks.filter(status=MaskChunk.Status.DONE).count()
    Reporter(job.pk).progress(done / total * 0.95, f"masking chunk {index + 1} of {total} (attempt {chunk.attempts})")
    with part_heartbeat(job.pk, lambda: mask_chunk_heartbeat(chunk=chunk)):
        if not mask_chunk_execute(job=job, chunk=chunk, worker=worker):
            return None
    return mask_finalize(job=job)


def mask_finalize(*, job: Job) -> dict[str, Any]:
    """Assemble the chunks' parts into the masked version, once per job: an attempt retried after a crash during
    assembly (before or after the version was registered) registers nothing twice and ends with the same result."""
    from governance.catalog.services import dataset_version_derive

    chunks = list(job.mask_chunks.order_by("index"))
    result = job_output_get(job, "mask")
    if result is None:
        version = DatasetVersion.objects.get(pk=job.params["dataset_version"])

        def register() -> dict[str, Any]:
            # The parts stream into one Parquet file a row group at a time: memory holds one row group, not the table.
            out = scratch_dir() / f"mask-{job.pk}-{uuid.uuid4().hex[:8]}.parquet"
            rows = 0
            writer: pq.ParquetWriter | None = None
            try:
                try:
                    for chunk in chunks:
                        with local_path(chunk.part) as path:  # one part on local disk at a time (remote storage)
                            part = pq.ParquetFile(path)
                            if writer is None:
                                writer = pq.ParquetWriter(out, part.schema_arrow, compression="zstd")
                            for group in range(part.num_row_groups):
                                table = part.read_row_group(group)
                                writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
                                rows += table.num_rows
                finally:
                    if writer is not None:
                        writer.close()
                masked = dataset_version_derive(
                    actor=job.actor,
                    parents=[version],
                    parquet_path=out,
                    operation="mask",
                    params={"policy": job.params["policy"], "job": job.pk},
                )
            finally:
                out.unlink(missing_ok=True)
            return {
                "dataset_version": masked.pk,
                "chunks": len(chunks),
                "chunk_seconds": round(sum(c.seconds for c in chunks), 3),
                "rows": rows,
            }

        result = job_output(job, "mask", register)
    for chunk in chunks:
        delete_file(chunk.part)
    return result


# ---------------------------------------------------------------------------------------------
# Decryption
# ---------------------------------------------------------------------------------------------


def pii_decrypt(
    *, actor: Any, values: list[str], dataset_version: DatasetVersion | None = None, column: str = ""
) -> list[str]:
    from governance.privacy.masking import PolicyError, decrypt_value

    key = settings.STEWARD_PII_ENCRYPTION_KEY or ""
    if not key:
        raise ServiceError("no encryption key is configured (STEWARD_PII_ENCRYPTION_KEY)")
    try:
        plain = [decrypt_value(v, key) for v in values]
    except PolicyError as exc:
        raise ServiceError(exc.message, field="values") from None
    with transaction.atomic():
        audit_log(
            actor=actor,
            action="pii.decrypt",
            object_type="privacy.decrypt",
            object_id=dataset_version.pk if dataset_version else "",
            summary={
                "values": len(values),
                "column": column,
                "dataset_version": dataset_version.pk if dataset_version else None,
            },
        )
    return plain
