"""The Python client (client/, `steward_client`) against a live test server; jobs run eagerly in the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from governance.catalog.hooks import MASKED
from steward_client import (
    BadRequest,
    Conflict,
    Forbidden,
    JobFailed,
    NotFound,
    Steward,
    Unauthorized,
    get_token,
)
from tests.factories import FAST_JOB_PARAMS, interaction_columns, interactions

MARKER = "maria.kowalska.7731@example.com"
PEOPLE = (
    "user_id,category,email\n"
    + f"1,Books,{MARKER}\n"
    + "".join(f"{i},Garden,client{i}@example.com\n" for i in range(2, 31))
)


@pytest.fixture
def server(live_server: Any, personas: dict[str, Any], run_tasks_eagerly: None, settings: Any) -> Iterator[str]:
    """The live server's URL; serving's counters are written on demand and its model cache is emptied after."""
    from serving.loader import reset_cache
    from serving.stats import recorder

    settings.STEWARD_SERVING_BACKGROUND_WRITES = False
    yield live_server.url
    reset_cache()
    recorder.reset()


def _login(url: str, role: str) -> Steward:
    return Steward.login(url, f"{role}-user", f"pw-{role}-123")


def test_a_notebook_session_uploads_pulls_masked_rows_trains_and_ranks(
    server: str, tmp_path: Path, tiny_base_model: str
) -> None:
    steward, ml, viewer = _login(server, "steward"), _login(server, "ml_engineer"), _login(server, "viewer")

    # A file path and a DataFrame alike; the server scans each new version (eagerly here).
    people_csv = tmp_path / "people.csv"
    people_csv.write_text(PEOPLE)
    people = steward.upload("people", people_csv, kind="users")
    assert people["row_count"] == 30
    frame = interactions(240).to_pandas()
    clicks = ml.upload("clicks", frame, kind="interactions")
    assert (clicks["row_count"], clicks.columns) == (240, list(frame.columns))
    assert ml.upload("clicks", frame).id == clicks.id  # identical content: the same version

    # The viewer's DataFrame is masked exactly as the rows API; the steward's is raw.
    seen_by_viewer = viewer.version(people.id).to_pandas()
    assert set(seen_by_viewer["email"]) == {MASKED}
    assert MARKER not in seen_by_viewer.to_csv()
    assert steward.version(people.id).to_pandas()["email"][0] == MARKER
    assert ml.version(clicks.id).to_arrow().num_rows == 240

    # Transform, scan and mask are jobs whose .wait() returns them finished.
    deduped = ml.transform(clicks, "dedupe", {"keys": ["user_id", "item_id"], "keep": "last"}).wait(progress=False)
    assert deduped.status == "succeeded"
    deduped_version = deduped.version()
    scan = ml.scan(deduped_version).wait(progress=False)
    assert steward.pii_scan(scan.result["scan"])["status"] == "succeeded"
    masked = steward.mask(people, {"email": "redact"}).wait(progress=False).version()
    assert MARKER not in steward.version(masked.id).to_pandas().to_csv()

    # Train on the deduplicated version, point production at it, rank.
    job = ml.train(
        model_name="ctr",
        dataset_version=deduped_version,
        **interaction_columns(),
        base_model=tiny_base_model,
        params=dict(FAST_JOB_PARAMS),
        split={"strategy": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0},
    ).wait(progress=False)
    assert job.model_version == {"model": "ctr", "version": 1}
    # A tiny model may lose to its baseline: production then needs force (a Conflict carries the server's reason).
    try:
        moved = ml.set_alias("ctr", "production", 1)
    except Conflict as exc:
        assert "baseline" in str(exc)
        moved = ml.set_alias("ctr", "production", 1, force=True)
    assert moved["version"] == 1
    answer = viewer.rank("ctr", user=int(frame["user_id"][0]), candidates=[0, 1, 2, 3], k=2)
    assert answer["model_version"] == {"model": "ctr", "version": 1}
    assert len(answer["items"]) == 2
    assert answer["items"][0]["score"] >= answer["items"][1]["score"]


def test_each_refusal_is_a_typed_error_with_the_servers_message(server: str) -> None:
    steward, viewer = _login(server, "steward"), _login(server, "viewer")
    version = steward.upload("shop", interactions(20).to_pandas())

    with pytest.raises(BadRequest, match="Wrong username or password"):
        get_token(server, "steward-user", "wrong")
    with pytest.raises(Unauthorized):
        Steward(server, "not-a-token").version(version.id)
    with pytest.raises(Forbidden, match=r"\(models\.train\)") as denied:
        viewer.train(model_name="x", dataset_version=version, label_column="label")
    assert denied.value.status == 403
    with pytest.raises(NotFound):
        steward.version(999999)
    with pytest.raises(Conflict, match="already exists"):
        steward.post("datasets/", {"name": "shop"})
    with pytest.raises(BadRequest) as bad:
        steward.transform(version, "no-such-operation")
    assert "no-such-operation" in str(bad.value) and bad.value.status == 400


def test_wait_raises_with_the_reason_of_a_failed_job(server: str) -> None:
    steward = _login(server, "steward")
    version = steward.upload("words", interactions(20).to_pandas())
    job = steward.transform(version, "cast", {"columns": {"title": "int"}})
    with pytest.raises(JobFailed) as failed:
        job.wait(progress=False)
    assert failed.value.job.status == "failed"
    assert "title" in str(failed.value)
