"""Who is asking: the client address behind trusted proxies, the answer to a locked-out login (django-axes), and
token authentication cached per process for the hot paths (scoring, labeling's next and submit)."""

from __future__ import annotations

import hashlib
import time
from typing import Any, ClassVar

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from knox.auth import TokenAuthentication

from core.roles import user_roles


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


class CachedTokenAuthentication(TokenAuthentication):
    """Token authentication (django-rest-knox) that remembers a token's user (and roles) for a few seconds per
    process: knox hashes the token and reads the user's tokens on every request, too slow for /rank (and for
    labeling's next and submit, which annotators call back to back).

    A token revoked (logout, logout-all), a user saved (deactivated, say) or a role changed empties the entries
    concerned at once in the process that made the change (`forget`, connected in CoreConfig.ready); other
    processes see it within STEWARD_SERVING_AUTH_CACHE_S. An expired token is refused at its expiry. The cache is
    keyed by the token's SHA-512 digest, never by the token itself.
    """

    _known: ClassVar[dict[str, tuple[Any, Any, float]]] = {}
    _max_entries = 10_000

    def authenticate_credentials(self, token: bytes) -> tuple[Any, Any]:
        ttl = settings.STEWARD_SERVING_AUTH_CACHE_S
        now = time.monotonic()
        key = hashlib.sha512(token).hexdigest()
        hit = self._known.get(key)
        if hit is not None and now < hit[2]:
            return hit[0], hit[1]
        user, auth_token = super().authenticate_credentials(token)
        if ttl:
            until = now + ttl
            if auth_token.expiry is not None:
                until = min(until, now + (auth_token.expiry - timezone.now()).total_seconds())
            user_roles(user)  # loads the roles onto the cached user object
            if len(self._known) >= self._max_entries:
                self._known.clear()
            self._known[key] = (user, auth_token, until)
        return user, auth_token

    @classmethod
    def forget(cls, *, token_pk: Any = None, user_pk: Any = None) -> None:
        """Drop the cached entries of a token (its row's pk) or of every token of a user."""
        for key, (user, auth_token, _) in list(cls._known.items()):
            if (token_pk is not None and auth_token.pk == token_pk) or (user_pk is not None and user.pk == user_pk):
                cls._known.pop(key, None)


def forget_token(sender: Any, instance: Any, **kwargs: Any) -> None:
    CachedTokenAuthentication.forget(token_pk=instance.pk)


def forget_user(sender: Any, instance: Any, **kwargs: Any) -> None:
    CachedTokenAuthentication.forget(user_pk=instance.pk)


def forget_group_members(sender: Any, instance: Any, action: str, reverse: bool, pk_set: Any, **kwargs: Any) -> None:
    """m2m_changed of User.groups: from the user's side `instance` is the user; from the group's, `pk_set` (None
    on a clear: every member may have changed)."""
    if not action.startswith("post_") and action != "pre_clear":
        return
    if not reverse:
        CachedTokenAuthentication.forget(user_pk=instance.pk)
    elif pk_set is None:
        CachedTokenAuthentication._known.clear()
    else:
        for pk in pk_set:
            CachedTokenAuthentication.forget(user_pk=pk)
