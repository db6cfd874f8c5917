# A scan's status and end time become its job's (PiiScan.status, PiiScan.finished_at); migration 0004 drops
# the scan's own copies. First each job takes what its scan recorded where the two disagree in a way only the
# scan can know: a scan without a job (deleted) gets a finished job with the scan's outcome, and a job still
# queued or running whose scan had finished ends as its scan did (a worker lost between the two writes).
# Going back (after 0004 is undone), the restored fields take their jobs' values.
# A migration of its own: PostgreSQL refuses to alter a table in the transaction that changed its rows.

from django.db import migrations

SCAN_TO_JOB = {"queued": "queued", "running": "running", "succeeded": "succeeded", "failed": "failed"}
JOB_TO_SCAN = {"queued": "queued", "running": "running", "succeeded": "succeeded"}  # failed, cancelled: failed
FINISHED = ("succeeded", "failed")


def jobs_take_the_scans_outcome(apps, schema_editor):
    PiiScan = apps.get_model("privacy", "PiiScan")
    Job = apps.get_model("core", "Job")
    for scan in PiiScan.objects.select_related("job").iterator():
        if scan.job is None:
            scan.job = Job.objects.create(
                kind="pii_scan",
                status=SCAN_TO_JOB.get(scan.status, "failed"),
                progress=1.0 if scan.status in FINISHED else 0.0,
                message="recorded from the scan by migration privacy 0003",
                params={"dataset_version": scan.version_id, "scan": scan.pk, "trigger": scan.trigger},
                result={"scan": scan.pk} if scan.status == "succeeded" else {},
                subject_type="dataset_version",
                subject_id=scan.version_id,
                actor_id=scan.created_by_id,
                finished_at=scan.finished_at,
            )
            scan.save(update_fields=["job"])
        elif scan.status in FINISHED and scan.job.status in ("queued", "running"):
            Job.objects.filter(pk=scan.job_id).update(
                status=scan.status,
                progress=1.0,
                message="ended as its scan by migration privacy 0003",
                finished_at=scan.finished_at,
            )


def scans_take_their_jobs_status(apps, schema_editor):
    PiiScan = apps.get_model("privacy", "PiiScan")
    for scan in PiiScan.objects.select_related("job").iterator():
        job = scan.job
        scan.status = JOB_TO_SCAN.get(job.status, "failed") if job is not None else "failed"
        scan.finished_at = job.finished_at if job is not None else None
        scan.save(update_fields=["status", "finished_at"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("privacy", "0002_mask_chunk_timeline"),
    ]

    operations = [migrations.RunPython(jobs_take_the_scans_outcome, scans_take_their_jobs_status)]
