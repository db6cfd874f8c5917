"""Typed errors: each carries the server's message (`detail`), its code and the HTTP status."""

from __future__ import annotations

from typing import Any


class StewardError(Exception):
    """The server refused a call (any 4xx/5xx) or a job ended badly; `str(err)` is the server's message."""

    status: int | None = None

    def __init__(self, message: str, *, status: int | None = None, code: str = "", body: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.body = body
        if status is not None:
            self.status = status


class BadRequest(StewardError):
    status = 400


class Unauthorized(StewardError):
    status = 401


class Forbidden(StewardError):
    status = 403


class NotFound(StewardError):
    status = 404


class Conflict(StewardError):
    status = 409


class JobFailed(StewardError):
    """A job the client waited for ended `failed` or `cancelled`; `job` is its last state."""

    def __init__(self, message: str, *, job: Any) -> None:
        super().__init__(message, code=getattr(job, "status", ""), body=getattr(job, "data", None))
        self.job = job


BY_STATUS: dict[int, type[StewardError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def error_for(status: int, body: Any, fallback: str) -> StewardError:
    message = fallback
    code = ""
    if isinstance(body, dict):
        message = str(body.get("detail") or fallback)
        code = str(body.get("code") or "")
    cls = BY_STATUS.get(status, StewardError)
    return cls(message, status=status, code=code, body=body)
