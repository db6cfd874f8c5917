"""Fixtures for the quality app: uploads whose automatic jobs (PII scan, quality check) run in-process."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


@pytest.fixture
def no_pii_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """New versions are not PII-scanned: quality does not depend on it, and loading Presidio costs half a minute."""
    from governance.catalog import hooks

    monkeypatch.setattr(hooks, "_version_created", [])


@pytest.fixture
def run_upload(scan_upload, no_pii_scan) -> Callable[..., Any]:
    """upload(text, name=..., dataset=...) whose on-commit work (profile, quality check) runs as a worker would.

    The root conftest's scan_upload, with the PII scan switched off (no_pii_scan).
    """
    return scan_upload


@pytest.fixture
def committing(run_tasks_eagerly, django_capture_on_commit_callbacks) -> Callable[..., Any]:
    """committing(fn, **kw): call a service and run the jobs it queued on commit, as a worker would."""

    def do(fn: Callable[..., Any], **kw: Any) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kw)

    return do
