"""Python client for Steward: `Steward(url, token)`, versions as pandas DataFrames, jobs with `.wait()`."""

from __future__ import annotations

from steward_client.client import Job, Steward, Version, get_token
from steward_client.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    JobFailed,
    NotFound,
    StewardError,
    Unauthorized,
)

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Job",
    "JobFailed",
    "NotFound",
    "Steward",
    "StewardError",
    "Unauthorized",
    "Version",
    "get_token",
]
