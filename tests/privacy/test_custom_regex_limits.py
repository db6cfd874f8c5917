"""A steward's custom regex runs on every value: a backtracking one is refused when saved, values are truncated
before it runs, each match has a short timeout, and a scan's custom regexes share a time budget. Past a limit the
job fails with the recognizer's name, never a value."""

from __future__ import annotations

import time
from typing import Any

import pytest

from core.models import Job
from governance.privacy.models import CustomRecognizer, PiiScan
from governance.privacy.recognizers.custom import RegexBudget, RegexLimitExceeded, recognizer_from_spec

SLOW = r"(x|xx)+$"  # overlapping alternatives: exponential on a run of x that does not end the value


@pytest.mark.django_db
@pytest.mark.parametrize("regex", [r"(a+)+$", r"(x+x+)+y", SLOW])
def test_a_backtracking_regex_is_refused_when_saved(regex: str, api_as: Any, upload: Any) -> None:
    version = upload("ref,qty\nX-1,1\n", name="orders.csv", dataset="orders")
    started = time.monotonic()
    response = api_as("steward").post(
        f"/api/v1/datasets/{version.dataset_id}/pii-recognizers/",
        {"spec": {"entity_type": "ORDER_REF", "patterns": [{"regex": regex}]}},
        format="json",
    )
    assert response.status_code == 400
    assert "catastrophic backtracking" in response.json()["detail"]
    assert time.monotonic() - started < 10
    assert not CustomRecognizer.objects.exists()


@pytest.mark.django_db
def test_a_plain_regex_and_a_deny_list_are_accepted(api_as: Any, upload: Any) -> None:
    version = upload("ref,qty\nX-1,1\n", name="orders.csv", dataset="orders")
    spec = {"entity_type": "ORDER_REF", "patterns": [{"regex": r"\bOR-\d{4,8}\b"}], "deny_list": ["VIP-GOLD"]}
    response = api_as("steward").post(
        f"/api/v1/datasets/{version.dataset_id}/pii-recognizers/", {"spec": spec}, format="json"
    )
    assert response.status_code == 201


def test_values_are_truncated_before_a_custom_regex_sees_them(settings: Any) -> None:
    settings.STEWARD_PII_MAX_VALUE_CHARS = 100
    recognizer = recognizer_from_spec({"entity_type": "ORDER_REF", "patterns": [{"regex": r"OR-\d{4}"}]})
    near = "x " * 10 + "OR-1234"
    far = "x " * 60 + "OR-1234"
    assert [(r.start, r.end) for r in recognizer.analyze(near, ["ORDER_REF"])] == [(20, 27)]
    assert recognizer.analyze(far, ["ORDER_REF"]) == []


def test_a_regex_that_runs_past_its_timeout_raises_with_the_recognizer_name(settings: Any) -> None:
    settings.STEWARD_PII_REGEX_TIMEOUT_S = 0.05
    recognizer = recognizer_from_spec({"entity_type": "ORDER_REF", "name": "SlowRef", "patterns": [{"regex": SLOW}]})
    secret = "x" * 40 + "!"
    started = time.monotonic()
    with pytest.raises(RegexLimitExceeded, match="SlowRef") as raised:
        recognizer.analyze(secret, ["ORDER_REF"])
    assert time.monotonic() - started < 5
    assert secret not in str(raised.value)


def test_recognizers_of_one_scan_share_its_budget() -> None:
    budget = RegexBudget(seconds=0.0)
    first = recognizer_from_spec({"entity_type": "ORDER_REF", "patterns": [{"regex": r"OR-\d+"}]}, budget=budget)
    with pytest.raises(RegexLimitExceeded, match="time budget"):
        first.analyze("OR-1", ["ORDER_REF"])


@pytest.mark.django_db
def test_a_scan_whose_stored_regex_times_out_fails_with_the_reason_and_no_value(
    upload: Any, steward: Any, run_tasks_eagerly: Any, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.STEWARD_PII_REGEX_TIMEOUT_S = 0.05
    first = upload("ref,qty\nX-1,1\n", name="orders.csv", dataset="orders")
    # Saved before the speed check existed: the scan itself must contain it.
    CustomRecognizer.objects.create(
        dataset_id=first.dataset_id,
        name="SlowRef",
        spec={"entity_type": "ORDER_REF", "name": "SlowRef", "patterns": [{"regex": SLOW}]},
    )
    values = [("x" * 36) + str(n) for n in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        later = upload("ref,qty\n" + "".join(f"{v},1\n" for v in values), name="orders.csv", dataset="orders")
    scan = PiiScan.objects.filter(version=later).latest("pk")
    job = Job.objects.get(pk=scan.job_id)
    assert job.status == Job.Status.FAILED
    assert "SlowRef" in job.error and "STEWARD_PII_REGEX_TIMEOUT_S" in job.error
    assert not any(v in job.error for v in values)
