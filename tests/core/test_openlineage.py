"""OpenLineage run events from the job lifecycle, received by a local HTTP endpoint (what Marquez would see) and
checked against the spec's required fields; the JSON-lines default, `off`, and a receiver that is down."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from core.models import Job
from governance.catalog.models import DatasetVersion
from tests.factories import OpenLineageReceiver, assert_openlineage_event

CSV = "user_id,item_id,rating,email\n" + "".join(f"{i % 5},{i % 7},{i % 5 + 1},u{i}@example.com\n" for i in range(40))


@pytest.fixture
def receiver(settings: Any) -> Iterator[OpenLineageReceiver]:
    r = OpenLineageReceiver()
    settings.OPENLINEAGE_URL = r.url
    settings.STEWARD_OPENLINEAGE = True
    yield r
    r.server.shutdown()
    r.server.server_close()


def _name(version: DatasetVersion) -> str:
    return f"{version.dataset.name}:{version.number}"


def _run_transform(version: DatasetVersion, steward: Any, capture: Any, **params: Any) -> Job:
    from governance.catalog.transform_service import transform_start

    with capture(execute=True):
        job = transform_start(
            actor=steward,
            version=version,
            operation="label",
            params=params or {"column": "liked", "expression": "rating >= 4"},
        )
    job.refresh_from_db()
    return job


def test_a_transform_sends_start_and_complete_with_versions_schema_and_parameters(
    receiver: OpenLineageReceiver, scan_upload: Any, steward: Any, django_capture_on_commit_callbacks: Any
) -> None:
    source = scan_upload(CSV, name="ratings.csv", dataset="ratings")
    job = _run_transform(source, steward, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.SUCCEEDED, job.error
    output = DatasetVersion.objects.select_related("dataset").get(pk=job.result["dataset_version"])

    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert set(receiver.paths) == {"/api/v1/lineage"}
    for event in events:
        assert_openlineage_event(event)
        assert event["job"]["name"] == "transform.label"
        assert [d["name"] for d in event["inputs"]] == [_name(source)]
    start, complete = events
    assert start["outputs"] == []
    assert [d["name"] for d in complete["outputs"]] == [_name(output)]
    schema = {f["name"]: f["type"] for f in complete["outputs"][0]["facets"]["schema"]["fields"]}
    assert set(schema) == {"user_id", "item_id", "rating", "email", "liked"}
    params = {p["key"]: p["value"] for p in complete["run"]["facets"]["executionParameters"]["parameters"]}
    assert params["operation"] == "label" and params["steward.job_id"] == str(job.pk)
    assert json.loads(params["params"]) == {"column": "liked", "expression": "rating >= 4"}
    # Names and types only: no cell value travels in an event.
    assert "example.com" not in json.dumps(events)


def test_a_mask_job_fanned_out_in_chunks_sends_one_complete(
    receiver: OpenLineageReceiver,
    scan_upload: Any,
    steward: Any,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from governance.privacy.services import mask_start

    settings.STEWARD_PII_CHUNK_ROWS = 100  # the minimum: one step per chunk
    source = scan_upload(CSV * 4, name="users.csv", dataset="users")
    with django_capture_on_commit_callbacks(execute=True):
        job = mask_start(version=source, actor=steward, policy={"columns": {"email": "hash"}})
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    assert events[1]["job"]["name"] == "pii_mask"
    assert [d["name"] for d in events[1]["inputs"]] == [_name(source)]
    masked = DatasetVersion.objects.select_related("dataset").get(pk=job.result["dataset_version"])
    assert [d["name"] for d in events[1]["outputs"]] == [_name(masked)]
    for event in events:
        assert_openlineage_event(event)


def test_a_failed_transform_sends_fail_with_the_reason(
    receiver: OpenLineageReceiver,
    scan_upload: Any,
    steward: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from governance.catalog import transforms

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise transforms.TransformError("The input table could not be read.")

    source = scan_upload(CSV, name="ratings.csv", dataset="ratings")
    monkeypatch.setattr(transforms, "run", broken)
    job = _run_transform(source, steward, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "FAIL"]
    assert_openlineage_event(events[1])
    assert events[1]["run"]["facets"]["errorMessage"]["message"].endswith("The input table could not be read.")
    assert events[1]["outputs"] == []


def test_a_receiver_that_is_down_never_fails_the_job(
    settings: Any, scan_upload: Any, steward: Any, django_capture_on_commit_callbacks: Any
) -> None:
    closed = OpenLineageReceiver()
    closed.server.shutdown()
    closed.server.server_close()  # nothing listens on that port any more
    settings.OPENLINEAGE_URL = closed.url
    settings.OPENLINEAGE_TIMEOUT_S = 1
    source = scan_upload(CSV, name="ratings.csv", dataset="ratings")
    job = _run_transform(source, steward, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.SUCCEEDED, job.error


def test_without_a_url_events_are_json_lines_under_the_data_dir_and_off_sends_nothing(
    settings: Any, tmp_path: Any, scan_upload: Any, steward: Any, django_capture_on_commit_callbacks: Any
) -> None:
    settings.OPENLINEAGE_URL = ""
    settings.STEWARD_OPENLINEAGE_FILE = tmp_path / "openlineage" / "events.jsonl"
    source = scan_upload(CSV, name="ratings.csv", dataset="ratings")
    job = _run_transform(source, steward, django_capture_on_commit_callbacks)
    lines = [json.loads(line) for line in settings.STEWARD_OPENLINEAGE_FILE.read_text().splitlines()]
    assert [e["eventType"] for e in lines] == ["START", "COMPLETE"]
    for event in lines:
        assert_openlineage_event(event)

    settings.STEWARD_OPENLINEAGE = False
    _run_transform(source, steward, django_capture_on_commit_callbacks, column="high", expression="rating >= 5")
    assert len(settings.STEWARD_OPENLINEAGE_FILE.read_text().splitlines()) == 2
    assert job.status == Job.Status.SUCCEEDED


def test_a_job_whose_worker_was_lost_past_its_cap_sends_fail(
    receiver: OpenLineageReceiver, settings: Any, db: Any
) -> None:
    from core.jobs import jobs_sweep
    from tests.factories import expire_lease

    settings.STEWARD_JOB_MAX_ATTEMPTS = 1
    job = Job.objects.create(
        kind="transform", status=Job.Status.RUNNING, attempts=1, task="catalog.transform", params={"operation": "label"}
    )
    expire_lease(job)
    assert jobs_sweep()["failed"] == 1
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["FAIL"]
    assert_openlineage_event(events[0])
    assert "gave up after 1 of 1 attempts" in events[0]["run"]["facets"]["errorMessage"]["message"]


def _sent_params(event: dict[str, Any]) -> dict[str, str]:
    return {p["key"]: p["value"] for p in event["run"]["facets"]["executionParameters"]["parameters"]}


def test_a_filter_quoting_a_personal_data_column_reaches_the_receiver_withheld(
    receiver: OpenLineageReceiver, scan_upload: Any, steward: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from governance.catalog.transform_service import transform_start

    source = scan_upload(CSV, name="users.csv", dataset="users")
    with django_capture_on_commit_callbacks(execute=True):
        job = transform_start(
            actor=steward,
            version=source,
            operation="filter",
            params={"expression": 'email != "u3@example.com" and rating >= 2'},
        )
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    for event in events:
        sent = _sent_params(event)
        assert sent["operation"] == "filter"
        assert json.loads(sent["params"]) == {"expression": "[withheld]"}
        assert json.loads(sent["inputs"]) == [source.pk]
        assert sent["steward.withheld_values"] == "1"
    assert "u3@example" not in json.dumps(events)
    # The owner still reads them whole.
    assert job.params["params"]["expression"].startswith('email != "u3@')


def test_a_masking_rule_keeps_its_operator_but_not_its_replacement_text(
    receiver: OpenLineageReceiver, scan_upload: Any, steward: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from governance.privacy.services import mask_start

    source = scan_upload(CSV, name="users.csv", dataset="users")
    policy = {"columns": {"email": {"operator": "replace", "params": {"new_value": "contact Jane Roe at 555-0199"}}}}
    with django_capture_on_commit_callbacks(execute=True):
        job = mask_start(version=source, actor=steward, policy=policy)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    events = receiver.of(job)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"]
    sent = json.loads(_sent_params(events[1])["policy"])
    assert sent == {
        "columns": {"email": {"operator": "replace", "params": {"new_value": "[withheld]", "scope": "value"}}}
    }
    assert "Jane Roe" not in json.dumps(events)


def test_receiver_params_keep_names_and_counts_and_withhold_literals_beside_hidden_columns() -> None:
    from core.selectors import job_params_for_receiver

    job = Job(
        kind="transform",
        params={
            "operation": "impute",
            "inputs": [4],
            "params": {"columns": ["phone"], "strategy": "constant", "value": "000-000"},
            "also": {"column": "rating", "value": 3, "expression": "rating > 2", "keys": ["user_id", "phone"]},
            "seed": 7,
        },
    )
    shown, withheld = job_params_for_receiver(job=job, columns={"phone", "rating", "user_id"}, hidden={"phone"})
    assert shown == {
        "operation": "impute",
        "inputs": [4],
        "params": {"columns": ["phone"], "strategy": "constant", "value": "[withheld]"},
        # `keys` names the hidden column: its siblings may be literals compared to it.
        "also": {"column": "rating", "value": "[withheld]", "expression": "[withheld]", "keys": ["user_id", "phone"]},
        "seed": 7,
    }
    assert withheld == 3
    # Nothing hidden: everything shows.
    assert job_params_for_receiver(job=job, columns={"phone", "rating", "user_id"}, hidden=set()) == (job.params, 0)


def test_a_job_whose_inputs_are_unknown_sends_what_an_outsider_reads(
    receiver: OpenLineageReceiver, settings: Any, db: Any
) -> None:
    from core.openlineage import job_event

    job = Job.objects.create(
        kind="transform",
        status=Job.Status.RUNNING,
        params={"operation": "filter", "params": {"expression": 'email == "x@example.com"'}},
    )
    job_event(job.pk)
    sent = _sent_params(receiver.of(job)[0])
    assert sent["operation"] == "filter" and "params" not in sent
    assert "x@example.com" not in json.dumps(receiver.events)


def test_an_unexpected_failure_sends_its_kind_never_the_exception_message(
    receiver: OpenLineageReceiver,
    scan_upload: Any,
    steward: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
    settings: Any,
) -> None:
    """An exception's message can quote a cell (`could not convert string to float: '<email>'`): the receiver
    reads what a reader without jobs.debug reads, the exception's type."""
    from governance.catalog import transforms

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("could not convert string to float: 'u3@example.com'")

    settings.STEWARD_JOB_MAX_ATTEMPTS = 1
    source = scan_upload(CSV, name="ratings.csv", dataset="ratings")
    monkeypatch.setattr(transforms, "run", broken)
    job = _run_transform(source, steward, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert "u3@example.com" in job.error  # a steward still reads it in Steward
    events = receiver.of(job)
    assert [e["eventType"] for e in events][-1] == "FAIL"
    message = events[-1]["run"]["facets"]["errorMessage"]["message"]
    assert message.startswith("ValueError")
    assert "u3@example.com" not in json.dumps(receiver.events)
