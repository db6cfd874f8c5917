"""`steward ...`: the command line on the same client, against a live test server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from steward_client import get_token
from steward_client.cli import main
from tests.factories import FAST_JOB_PARAMS, interactions, table_csv


@pytest.fixture
def server(live_server: Any, personas: dict[str, Any], run_tasks_eagerly: None) -> Iterator[str]:
    yield live_server.url


def _run(url: str, token: str, *args: str) -> Any:
    return CliRunner().invoke(
        main, list(args), env={"STEWARD_URL": url, "STEWARD_TOKEN": token}, catch_exceptions=False
    )


def test_upload_watch_and_download_from_the_command_line(server: str, tmp_path: Path) -> None:
    token = get_token(server, "steward-user", "pw-steward-123")
    data = tmp_path / "clicks.csv"
    data.write_text(table_csv(interactions(30)))
    uploaded = _run(server, token, "upload", "clicks", str(data), "--kind", "interactions")
    assert uploaded.exit_code == 0, uploaded.output
    version = json.loads(uploaded.stdout)
    assert version["row_count"] == 30

    # A transform's job, followed to its end by `jobs watch`.
    from steward_client import Steward

    job = Steward(server, token).transform(version["id"], "dedupe", {"keys": ["user_id", "item_id"]})
    watched = _run(server, token, "jobs", "watch", str(job.id))
    assert watched.exit_code == 0, watched.output
    assert '"status": "succeeded"' in watched.output

    out = tmp_path / "clicks.jsonl"
    downloaded = _run(server, token, "download", str(version["id"]), str(out), "--format", "jsonl")
    assert downloaded.exit_code == 0, downloaded.output
    assert len(out.read_text().splitlines()) == 30


def test_login_prints_a_token_that_works(server: str) -> None:
    result = CliRunner().invoke(
        main, ["--url", server, "login", "viewer-user"], env={"STEWARD_PASSWORD": "pw-viewer-123"}
    )
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert _run(server, token, "rank", "nothing", "1", "--user", "1").exit_code == 1


def test_a_4xx_exits_non_zero_with_the_servers_message(server: str) -> None:
    token = get_token(server, "viewer-user", "pw-viewer-123")
    refused = _run(server, token, "train", "ctr", "1", "--label", "label")
    assert refused.exit_code == 1
    assert "Your role does not allow this (models.train). (403)" in refused.output
    missing = _run(server, token, "rank", "no-such-model", "1", "2", "--user", '{"user_id": 1}')
    assert missing.exit_code == 1
    assert "no-such-model" in missing.output


def test_the_installed_steward_command_exits_non_zero_on_a_refusal(server: str) -> None:
    command = Path(sys.executable).with_name("steward")
    env = dict(os.environ, STEWARD_URL=server, STEWARD_TOKEN="not-a-token")
    result = subprocess.run(
        [str(command), "download", "1", os.devnull], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Invalid token. (401)" in result.stderr


def test_train_then_rank_from_the_command_line(
    server: str, tmp_path: Path, tiny_base_model: str, settings: Any
) -> None:
    from serving.loader import reset_cache

    settings.STEWARD_SERVING_BACKGROUND_WRITES = False
    token = get_token(server, "ml_engineer-user", "pw-ml_engineer-123")
    data = tmp_path / "clicks.csv"
    data.write_text(table_csv(interactions(240)))
    version = json.loads(_run(server, token, "upload", "clicks", str(data)).stdout)
    args = ["train", "ctr", str(version["id"]), "--label", "label", "--text", "title"]
    args += ["--categorical", "gender", "--categorical", "genre", "--numeric", "price"]
    args += ["--user-column", "user_id", "--item-column", "item_id", "--base-model", tiny_base_model]
    args += [f"--param={key}={json.dumps(value)}" for key, value in FAST_JOB_PARAMS.items()]
    args += ["--split", '{"strategy": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0}']
    trained = _run(server, token, *args)
    assert trained.exit_code == 0, trained.output
    assert json.loads(trained.stdout)["result"]["model_version"] == {"model": "ctr", "version": 1}

    ranked = _run(server, token, "rank", "ctr", "0", "1", "2", "--user", "3", "--version", "1", "-k", "2")
    assert ranked.exit_code == 0, ranked.output
    answer = json.loads(ranked.stdout)
    assert answer["model_version"] == {"model": "ctr", "version": 1} and len(answer["items"]) == 2
    reset_cache()
