"""`Steward(url, token)`: the REST API of a running Steward as Python calls, dataset versions as pandas DataFrames."""

from __future__ import annotations

import io
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq
import requests
from tqdm.auto import tqdm

from steward_client.errors import JobFailed, StewardError, error_for

FINISHED = ("succeeded", "failed", "cancelled")
CHUNK = 1024 * 1024


def get_token(url: str, username: str, password: str, *, timeout: float = 30) -> str:
    """A token for `username` (POST /api/v1/auth/token/); raises BadRequest on a wrong password."""
    response = requests.post(
        f"{url.rstrip('/')}/api/v1/auth/token/", json={"username": username, "password": password}, timeout=timeout
    )
    _raise_for(response)
    return str(response.json()["token"])


def _raise_for(response: requests.Response) -> None:
    if response.status_code < 400:
        return
    try:
        body: Any = response.json()
    except ValueError:
        body = response.text[:500]
    raise error_for(response.status_code, body, f"HTTP {response.status_code} from {response.url}")


class Steward:
    """One Steward server, one user (by token). Every call raises a typed StewardError with the server's message
    on a 4xx: BadRequest, Unauthorized, Forbidden, NotFound, Conflict."""

    def __init__(self, url: str, token: str, *, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    @classmethod
    def login(cls, url: str, username: str, password: str, **kwargs: Any) -> Steward:
        return cls(url, get_token(url, username, password), **kwargs)

    @classmethod
    def from_env(cls) -> Steward:
        """STEWARD_URL (default http://127.0.0.1:8000) and STEWARD_TOKEN."""
        token = os.environ.get("STEWARD_TOKEN")
        if not token:
            raise StewardError("Set STEWARD_TOKEN (see `steward login`).")
        return cls(os.environ.get("STEWARD_URL", "http://127.0.0.1:8000"), token)

    def __repr__(self) -> str:
        return f"Steward({self.url!r})"

    # -- plumbing ---------------------------------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call `/api/v1/<path>`; a 4xx/5xx raises the typed error carrying the server's `detail`."""
        kwargs.setdefault("timeout", self.timeout)
        response = self.session.request(method, f"{self.url}/api/v1/{path.lstrip('/')}", **kwargs)
        _raise_for(response)
        return response

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, body: Any = None) -> Any:
        response = self.request("POST", path, json=body)
        return response.json() if response.content else None

    # -- catalog ----------------------------------------------------------------------------------------------

    def dataset(self, name: str, *, create: bool = False, description: str = "", kind: str = "other") -> dict:
        """The dataset named `name`; with create=True it is created when missing."""
        found = self.get("datasets/", name=name)
        results = found["results"] if isinstance(found, dict) else found
        if results:
            return results[0]
        if not create:
            raise StewardError(f"No dataset named {name!r}.", status=404, code="not_found")
        return self.post("datasets/", {"name": name, "description": description, "kind": kind})

    def upload(
        self,
        name: str,
        data: str | os.PathLike[str] | Any,
        *,
        description: str = "",
        kind: str = "other",
        format: str | None = None,
        sep: str | None = None,
    ) -> Version:
        """Register a new version of dataset `name` (created when missing) from a file path or a pandas DataFrame
        (sent as Parquet). Identical content returns the existing version."""
        dataset = self.dataset(name, create=True, description=description, kind=kind)
        form = {key: value for key, value in (("format", format), ("sep", sep)) if value}
        if isinstance(data, (str, os.PathLike)):
            path = Path(data)
            with path.open("rb") as fh:
                return self._upload(dataset["id"], path.name, fh, form)
        if hasattr(data, "to_parquet") or isinstance(data, pa.Table):
            table = data if isinstance(data, pa.Table) else pa.Table.from_pandas(data, preserve_index=False)
            buffer = io.BytesIO()
            pq.write_table(table, buffer)
            buffer.seek(0)
            return self._upload(dataset["id"], f"{name}.parquet", buffer, form)
        raise TypeError(f"upload() takes a path, a pandas DataFrame or a pyarrow Table, not {type(data).__name__}")

    def _upload(self, dataset_id: int, filename: str, fh: IO[bytes], form: dict[str, str]) -> Version:
        response = self.request("POST", f"datasets/{dataset_id}/versions/", files={"file": (filename, fh)}, data=form)
        return Version(self, response.json())

    def version(self, version_id: int) -> Version:
        return Version(self, self.get(f"dataset-versions/{int(version_id)}/"))

    # -- jobs -------------------------------------------------------------------------------------------------

    def job(self, job_id: int) -> Job:
        return Job(self, self.get(f"jobs/{int(job_id)}/"))

    def transform(self, version: int | Version, operation: str, params: dict[str, Any] | None = None) -> Job:
        """Start a transform (join, label, split, dedupe, ...) of a version; returns the job."""
        body = {"operation": operation, "params": params or {}}
        return Job(self, self.post(f"dataset-versions/{_id(version)}/transforms/", body))

    def scan(self, version: int | Version) -> Job:
        """Start a PII scan; the finished job's result names the scan (`steward.pii_scan(job.result["scan"])`)."""
        return Job(self, self.post(f"dataset-versions/{_id(version)}/pii-scans/"))

    def pii_scan(self, scan_id: int) -> dict:
        return self.get(f"pii-scans/{int(scan_id)}/")

    def review(self, finding_id: int, decision: str) -> dict:
        """A steward's decision on a finding: `accepted` (it is PII) or `rejected` (not PII)."""
        return self.request("PATCH", f"pii-findings/{int(finding_id)}/", json={"decision": decision}).json()

    def mask(self, version: int | Version, columns: dict[str, Any], *, save_as: str | None = None) -> Job:
        """Start masking: `columns` maps a column to `{"operator": ..., "params": {...}}` (or the operator name)."""
        policy = {name: {"operator": spec} if isinstance(spec, str) else spec for name, spec in columns.items()}
        body: dict[str, Any] = {"columns": policy}
        if save_as:
            body["save_as"] = save_as
        return Job(self, self.post(f"dataset-versions/{_id(version)}/mask/", body))

    def train(self, *, model_name: str, dataset_version: int | Version, label_column: str, **fields: Any) -> Job:
        """Start a training job (POST /training-jobs/); `fields` are the API's: text_columns, categorical_columns,
        numeric_columns, user_column, item_column, base_model, params, split, valid_version, test_version."""
        body = {
            "model_name": model_name,
            "dataset_version": _id(dataset_version),
            "label_column": label_column,
            **fields,
        }
        return Job(self, self.post("training-jobs/", body))

    # -- models and serving -----------------------------------------------------------------------------------

    def models(self) -> list[dict]:
        found = self.get("models/")
        return found["results"] if isinstance(found, dict) else found

    def model_versions(self, model: str) -> list[dict]:
        found = self.get(f"models/{model}/versions/")
        return found["results"] if isinstance(found, dict) else found

    def set_alias(self, model: str, alias: str, version: int, *, force: bool = False) -> dict:
        """Point `alias` at a version. `production` refuses (Conflict, 409) a version that does not beat its
        baseline unless `force=True`; the audit log then records the move as forced."""
        body: dict = {"version": int(version)}
        if force:
            body["force"] = True
        return self.request("PUT", f"models/{model}/aliases/{alias}/", json=body).json()

    def rank(
        self,
        model: str,
        user: Any,
        candidates: list[Any],
        *,
        k: int | None = None,
        alias: str | None = None,
        version: int | None = None,
    ) -> dict:
        """Rank `candidates` (item ids or feature dicts) for `user` (an id or a feature dict) with the version
        behind `production` (or `alias` / `version`): `{"model_version": {...}, "items": [{"item_id", "score"}]}`."""
        body: dict[str, Any] = {"user": user, "candidates": candidates}
        if k is not None:
            body["k"] = k
        params = {key: value for key, value in (("alias", alias), ("version", version)) if value is not None}
        return self.request("POST", f"serving/{model}/rank/", json=body, params=params or None).json()


def _id(thing: int | Version | dict) -> int:
    if isinstance(thing, Version):
        return thing.id
    if isinstance(thing, dict):
        return int(thing["id"])
    return int(thing)


class Version:
    """A dataset version: its metadata (`.data`) and its rows through the download endpoint."""

    def __init__(self, client: Steward, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data
        self.id = int(data["id"])

    def __repr__(self) -> str:
        return f"<Version {self.id} of dataset {self.data.get('dataset')}: {self.data.get('row_count')} rows>"

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def columns(self) -> list[str]:
        return [col["name"] for col in self.data.get("columns", [])]

    def download(self, target: str | os.PathLike[str] | IO[bytes], *, format: str = "parquet") -> None:
        """Stream the rows into `target` (a path or a binary file), masked for your role."""
        with self.client.request(
            "GET", f"dataset-versions/{self.id}/download/", params={"format": format}, stream=True
        ) as response:
            if isinstance(target, (str, os.PathLike)):
                with Path(target).open("wb") as out:
                    for chunk in response.iter_content(CHUNK):
                        out.write(chunk)
            else:
                for chunk in response.iter_content(CHUNK):
                    target.write(chunk)

    def to_arrow(self) -> pa.Table:
        """The rows as a pyarrow Table (streamed Parquet, spooled to a temporary file rather than held twice)."""
        with tempfile.TemporaryFile() as spool:
            self.download(spool)
            spool.seek(0)
            return pq.read_table(spool)

    def to_pandas(self) -> Any:
        return self.to_arrow().to_pandas()


class Job:
    """A background job (transform, scan, mask, training, ...). `wait()` follows it to the end."""

    def __init__(self, client: Steward, data: dict[str, Any]) -> None:
        self.client = client
        self.data = data
        self.id = int(data["id"])

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind}: {self.status} {self.progress:.0%}>"

    kind = property(lambda self: self.data.get("kind", ""))
    status = property(lambda self: self.data.get("status", ""))
    progress = property(lambda self: float(self.data.get("progress") or 0.0))
    message = property(lambda self: self.data.get("message", ""))
    error = property(lambda self: self.data.get("error", ""))
    result = property(lambda self: self.data.get("result") or {})

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def refresh(self) -> Job:
        self.data = self.client.get(f"jobs/{self.id}/")
        return self

    def wait(self, *, timeout: float | None = None, poll: float = 1.0, progress: bool = True) -> Job:
        """Poll until the job ends, with a tqdm bar of its progress; raises JobFailed (the server's reason) when
        it failed or was cancelled, TimeoutError after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with tqdm(total=100, desc=f"job {self.id} ({self.kind})", unit="%", disable=not progress, leave=True) as bar:
            while True:
                if not self.finished:
                    self.refresh()
                bar.n = round(100 * self.progress)
                bar.set_postfix_str((self.message or self.status)[:60], refresh=False)
                bar.refresh()
                if self.finished:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise TimeoutError(f"job {self.id} still {self.status} after {timeout} s")
                time.sleep(poll)
        if self.status != "succeeded":
            reason = (self.error or self.message or self.status).strip()
            raise JobFailed(f"job {self.id} ({self.kind}) {self.status}: {reason}", job=self)
        return self

    def version(self) -> Version:
        """The dataset version a finished transform, mask or export produced."""
        return self.client.version(self.result["dataset_version"])

    def versions(self) -> list[Version]:
        """The versions a finished split produced, in the order asked."""
        return [self.client.version(ident) for ident in self.result["dataset_versions"]]

    @property
    def model_version(self) -> dict:
        """`{"model": name, "version": n}` of a finished training job."""
        return self.result["model_version"]
