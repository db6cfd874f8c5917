"""The quality check: a job over the version's Parquet copy, run after profiling of every new version of a dataset
with rules and on demand; its report holds per rule pass / fail, the failing count and row positions, never values."""

from __future__ import annotations

import json

import pytest

from core.models import Job
from governance.catalog.models import DatasetVersion
from governance.quality.models import QualityReport
from governance.quality.selectors import latest_report
from governance.quality.services import quality_check_start, quality_rule_create

pytestmark = pytest.mark.django_db

CLICKS = (
    "user_id,item_id,rating,email,ts\n"
    "1,10,5,a@x.org,2024-01-01T00:00:00\n"
    "2,11,3,b@x.org,2024-01-02T00:00:00\n"
    "3,,9,not-an-email,2024-01-03T00:00:00\n"
    "3,12,4,c@x.org,2024-01-04T00:00:00\n"
    "5,99,1,d@x.org,2024-01-05T00:00:00\n"
)


def _by_kind(report: QualityReport) -> dict[str, dict]:
    return {r["kind"]: r for r in report.rules}


def test_each_rule_kind_reports_pass_or_fail_with_counts_and_row_positions(
    upload, run_upload, steward, committing, settings
):
    settings.STEWARD_QUALITY_BATCH_ROWS = 2  # several batches even on five rows: positions carry across them
    items = upload("item_id,title\n10,mug\n11,cup\n12,bowl\n", dataset="items")
    version = upload(CLICKS, dataset="clicks")
    dataset = version.dataset
    rules = [
        ("not_null", ["item_id"], {}, "blocking"),
        ("unique", ["user_id"], {}, "warning"),
        ("range", ["rating"], {"min": 1, "max": 5}, "blocking"),
        ("regex", ["email"], {"pattern": r"[^@]+@[^@]+\.[a-z]+"}, "warning"),
        ("allowed_values", ["rating"], {"values": [1, 2, 3, 4, 5]}, "warning"),
        ("row_count_between", [], {"min": 1, "max": 4}, "warning"),
        ("max_null_fraction", ["item_id"], {"max_fraction": 0.5}, "warning"),
        ("freshness", ["ts"], {"max_age_days": 30}, "warning"),
        ("references", ["item_id"], {"dataset_version": items.pk, "column": "item_id"}, "blocking"),
    ]
    for kind, columns, params, severity in rules:
        quality_rule_create(
            actor=steward, dataset=dataset, kind=kind, columns=columns, params=params, severity=severity, check=False
        )
    job = committing(quality_check_start, version=version, actor=steward)
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    report = latest_report(version)
    got = {k: (r["passed"], r["failing_count"], r["failing_rows"]) for k, r in _by_kind(report).items()}
    assert got == {
        "not_null": (False, 1, [2]),
        "unique": (False, 1, [3]),
        "range": (False, 1, [2]),
        "regex": (False, 1, [2]),
        "allowed_values": (False, 1, [2]),
        "row_count_between": (False, 1, []),
        "max_null_fraction": (True, 1, [2]),
        "freshness": (False, 1, []),  # 2024 data is years older than the version
        "references": (False, 1, [4]),  # item 99 is not an item; the null item is not_null's business
    }
    assert report.status == "failed" and job.result["quality_report"] == report.pk
    version.refresh_from_db()
    assert version.quality_status == "failed"
    # Row positions and counts only: no value of the data is in the report.
    text = json.dumps(report.rules)
    for value in ("not-an-email", "b@x.org", "99", "2024-01"):
        assert value not in text.replace("dataset version", "")


def test_status_is_warning_when_only_warning_rules_fail_and_passed_when_none_does(upload, steward, committing):
    version = upload(CLICKS, dataset="clicks")
    rule = quality_rule_create(
        actor=steward, dataset=version.dataset, kind="unique", columns=["user_id"], severity="warning", check=False
    )
    committing(quality_check_start, version=version, actor=steward)
    version.refresh_from_db()
    assert version.quality_status == "warning"
    rule.columns = ["user_id", "item_id"]
    rule.save()
    committing(quality_check_start, version=version, actor=steward)
    version.refresh_from_db()
    assert version.quality_status == "passed"
    assert latest_report(version).rules[0]["failing_count"] == 0


def test_every_new_version_of_a_dataset_with_rules_is_checked_after_profiling(run_upload, steward, committing):
    first = run_upload("id,price\n1,2.5\n2,3.0\n", dataset="items")
    assert first.quality_status == "not_checked"  # no rules yet: nothing to check, no job
    assert not Job.objects.filter(kind="quality_check").exists()
    committing(
        quality_rule_create, actor=steward, dataset=first.dataset, kind="range", columns=["price"], params={"max": 10}
    )
    first.refresh_from_db()
    assert first.quality_status == "passed"  # an active rule checks the latest version at once
    second = run_upload("id,price\n1,2.5\n2,300.0\n", dataset="items")
    assert second.quality_status == "failed"
    job = Job.objects.filter(kind="quality_check", subject_id=second.pk).get()
    assert job.params["trigger"] == "auto" and job.status == "succeeded"


def test_a_version_profiled_by_a_job_is_checked_once_the_profile_is_written(run_upload, steward, committing, settings):
    first = run_upload("id,price\n1,2.5\n", dataset="items")
    quality_rule_create(actor=steward, dataset=first.dataset, kind="not_null", columns=["price"], check=False)
    settings.STEWARD_PROFILE_INLINE_MAX_ROWS = 1  # the next upload is profiled by a job
    second = run_upload("id,price\n1,2.5\n2,\n", dataset="items")
    assert second.profile_status == "done"
    assert second.quality_status == "failed"
    profile = Job.objects.get(kind="profile", subject_id=second.pk)
    check = Job.objects.get(kind="quality_check", subject_id=second.pk)
    assert profile.finished_at <= check.started_at


def test_distribution_shift_compares_with_the_previous_version(run_upload, steward, committing):
    base = "\n".join(f"{i},{i % 10},{'ab'[i % 2]}" for i in range(200))
    first = run_upload("id,score,group\n" + base, dataset="events")
    for column in ("score", "group"):
        quality_rule_create(
            actor=steward,
            dataset=first.dataset,
            kind="distribution_shift",
            columns=[column],
            params={"threshold": 0.2},
            check=False,
        )
    committing(quality_check_start, version=first, actor=steward)
    assert all(r["passed"] and "no previous version" in r["message"] for r in latest_report(first).rules)
    same = run_upload(
        "id,score,group\n" + "\n".join(f"{i},{(i + 3) % 10},{'ba'[i % 2]}" for i in range(200)), dataset="events"
    )
    assert same.quality_status == "passed"
    shifted = run_upload("id,score,group\n" + "\n".join(f"{i},{7 + i % 3},a" for i in range(200)), dataset="events")
    results = {r["columns"][0]: r for r in latest_report(shifted).rules}
    assert not results["score"]["passed"] and not results["group"]["passed"]
    assert "PSI" in results["score"]["message"]
    assert shifted.quality_status == "failed"


def test_a_rule_whose_column_is_gone_in_a_new_version_fails_it(run_upload, steward, committing):
    first = run_upload("id,price\n1,2.5\n", dataset="items")
    committing(quality_rule_create, actor=steward, dataset=first.dataset, kind="not_null", columns=["price"])
    second = run_upload("id,cost\n1,2.5\n", dataset="items")
    assert second.quality_status == "failed"
    assert "not in this version" in latest_report(second).rules[0]["message"]


def test_a_regex_that_would_backtrack_forever_elsewhere_runs_in_linear_time(upload, steward, committing):
    evil = "a" * 5000 + "!"
    version = upload(f"title\n{evil}\nfine\n", dataset="texts")
    quality_rule_create(
        actor=steward,
        dataset=version.dataset,
        kind="regex",
        columns=["title"],
        params={"pattern": "(a+)+"},
        check=False,
    )
    job = committing(quality_check_start, version=version, actor=steward)
    job.refresh_from_db()
    assert job.status == "succeeded" and (job.finished_at - job.started_at).total_seconds() < 5
    assert latest_report(version).rules[0]["failing_rows"] == [0, 1]


def test_a_check_whose_file_is_missing_fails_and_writes_no_report(upload, steward, committing):
    version = upload(CLICKS, dataset="clicks")
    job = quality_check_start(version=version, actor=steward)
    from governance.quality.tasks import quality_check

    DatasetVersion.objects.filter(pk=version.pk).update(parquet="gone/data.parquet")
    quality_check.apply(args=(job.pk,))
    job.refresh_from_db()
    assert job.status == "failed" and job.error
    version.refresh_from_db()
    assert version.quality_status == "not_checked" and not QualityReport.objects.exists()


def test_a_version_derived_by_a_transform_is_checked_too(run_upload, steward, committing, no_pii_scan):
    from governance.catalog.transform_service import transform_start

    first = run_upload("id,price\n1,2.5\n2,\n", dataset="items")
    quality_rule_create(actor=steward, dataset=first.dataset, kind="not_null", columns=["price"], check=False)
    job = committing(
        transform_start,
        actor=steward,
        version=first,
        operation="impute",
        params={"columns": ["price"], "strategy": "mean"},
    )
    job.refresh_from_db()
    assert job.status == "succeeded", job.error
    derived = DatasetVersion.objects.get(pk=job.result["dataset_version"])
    assert derived.quality_status == "passed"  # the imputed copy has no nulls left
