"""Who is asking: the client address behind trusted proxies, and the answer to a locked-out login (django-axes)."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the address NUM_PROXIES trusted proxies saw: each proxy appends the address it received the
    request from to X-Forwarded-For, so only the last NUM_PROXIES entries are trustworthy and the one NUM_PROXIES
    from the end is the client. Anything a client writes there itself sits further left and is ignored."""
    remote = request.META.get("REMOTE_ADDR")
    hops = settings.NUM_PROXIES
    if not hops:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if not forwarded:
        return remote
    return forwarded[-min(hops, len(forwarded))]


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    minutes = round(settings.AXES_COOLOFF_TIME * 60)
    detail = f"Too many failed logins: try again in {minutes} minutes."
    if request.path.startswith("/api/"):
        response = JsonResponse({"detail": detail, "code": "locked_out"}, status=429)
    else:
        response = render(request, "core/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


class LockoutBackend(AxesStandaloneBackend):
    """django-axes' lockout check for every login that comes with a request (the token endpoint, /login/, the
    admin). A call without one (Django's test client `login()`, a management command) has no client to lock out
    and passes to the next backend instead of failing."""

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
