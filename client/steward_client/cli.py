"""`steward ...`: a thin command line on the same client. A 4xx from the server, or a job that fails, exits
non-zero with the server's message on stderr."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import click

from steward_client.client import Steward, get_token
from steward_client.errors import StewardError


def _value(text: str) -> Any:
    """An id or a JSON object/list on the command line: `42`, `"a"`, `{"user_id": 3}`; anything else is a string."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _reports_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StewardError as exc:
            status = f" ({exc.status})" if exc.status else ""
            raise click.ClickException(f"{exc.message}{status}") from exc

    return call


@click.group()
@click.option("--url", envvar="STEWARD_URL", default="http://127.0.0.1:8000", show_default=True, help="$STEWARD_URL")
@click.option("--token", envvar="STEWARD_TOKEN", default=None, help="$STEWARD_TOKEN (see `steward login`)")
@click.pass_context
def main(ctx: click.Context, url: str, token: str | None) -> None:
    """Steward from the command line."""
    ctx.obj = {"url": url, "token": token}


def _client(ctx: click.Context) -> Steward:
    if not ctx.obj["token"]:
        raise click.ClickException("No token: set STEWARD_TOKEN or pass --token (`steward login` prints one).")
    return Steward(ctx.obj["url"], ctx.obj["token"])


@main.command()
@click.argument("username")
@click.password_option(confirmation_prompt=False, envvar="STEWARD_PASSWORD")
@click.pass_context
@_reports_errors
def login(ctx: click.Context, username: str, password: str) -> None:
    """Print a token for USERNAME (export it as STEWARD_TOKEN)."""
    click.echo(get_token(ctx.obj["url"], username, password))


@main.command()
@click.argument("dataset")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--kind", default="other", show_default=True, help="users, items, interactions, other")
@click.option("--format", "fmt", default=None, help="csv, tsv, parquet, jsonl (default: from the file name)")
@click.option("--sep", default=None, help="the CSV delimiter")
@click.pass_context
@_reports_errors
def upload(ctx: click.Context, dataset: str, path: str, kind: str, fmt: str | None, sep: str | None) -> None:
    """Register PATH as a new version of DATASET (created when missing)."""
    version = _client(ctx).upload(dataset, path, kind=kind, format=fmt, sep=sep)
    _echo_json({key: version.data.get(key) for key in ("id", "dataset", "number", "row_count", "sha256")})


@main.command()
@click.argument("version_id", type=int)
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--format", "fmt", type=click.Choice(["parquet", "csv", "jsonl"]), default="parquet", show_default=True)
@click.pass_context
@_reports_errors
def download(ctx: click.Context, version_id: int, path: str, fmt: str) -> None:
    """Save a dataset version's rows (masked for your role) to PATH."""
    _client(ctx).version(version_id).download(path, format=fmt)
    click.echo(path)


@main.group()
def jobs() -> None:
    """Background jobs."""


@jobs.command("watch")
@click.argument("job_id", type=int)
@click.option("--timeout", type=float, default=None, help="give up after this many seconds")
@click.pass_context
@_reports_errors
def jobs_watch(ctx: click.Context, job_id: int, timeout: float | None) -> None:
    """Follow JOB_ID with a progress bar until it ends; exits 1 with the reason when it fails."""
    job = _client(ctx).job(job_id).wait(timeout=timeout)
    _echo_json({"id": job.id, "status": job.status, "result": job.result})


@main.command()
@click.argument("model_name")
@click.argument("dataset_version", type=int)
@click.option("--label", "label_column", required=True, help="the 0/1 label column")
@click.option("--text", "text_columns", multiple=True, help="a text column (repeat)")
@click.option("--categorical", "categorical_columns", multiple=True, help="a categorical column (repeat)")
@click.option("--numeric", "numeric_columns", multiple=True, help="a numeric column (repeat)")
@click.option("--user-column", default=None)
@click.option("--item-column", default=None)
@click.option("--base-model", default=None, help="a local path or cached Hugging Face id")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="a training parameter (repeat)")
@click.option("--split", default=None, metavar="JSON", help='e.g. {"strategy": "time", "time_column": "ts"}')
@click.option("--wait/--no-wait", default=True, show_default=True, help="follow the job to its end")
@click.pass_context
@_reports_errors
def train(ctx: click.Context, model_name: str, dataset_version: int, params: tuple[str, ...], **fields: Any) -> None:
    """Train MODEL_NAME on DATASET_VERSION."""
    wait = fields.pop("wait")
    split = fields.pop("split")
    body: dict[str, Any] = {key: list(value) if isinstance(value, tuple) else value for key, value in fields.items()}
    body = {key: value for key, value in body.items() if value not in (None, [])}
    parsed = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--param")
        parsed[key] = _value(value)
    if parsed:
        body["params"] = parsed
    if split:
        body["split"] = json.loads(split)
    job = _client(ctx).train(model_name=model_name, dataset_version=dataset_version, **body)
    click.echo(f"job {job.id}", err=True)
    if wait:
        job.wait()
    _echo_json({"id": job.id, "status": job.status, "result": job.result})


@main.command()
@click.argument("model_name")
@click.argument("candidates", nargs=-1, required=True)
@click.option("--user", required=True, help="a user id or a JSON object of features")
@click.option("-k", type=int, default=None, help="the best k only")
@click.option("--alias", default=None, help="default: production")
@click.option("--version", type=int, default=None)
@click.pass_context
@_reports_errors
def rank(
    ctx: click.Context,
    model_name: str,
    candidates: tuple[str, ...],
    user: str,
    k: int | None,
    alias: str | None,
    version: int | None,
) -> None:
    """Rank CANDIDATES (item ids or JSON objects) for --user with MODEL_NAME."""
    answer = _client(ctx).rank(
        model_name, _value(user), [_value(c) for c in candidates], k=k, alias=alias, version=version
    )
    _echo_json(answer)


if __name__ == "__main__":
    main()
