"""API tokens (django-rest-knox): obtained at /api/v1/auth/token/, stored only as digests, expire, and are revoked
by logout."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def _login(username: str = "viewer-user", password: str = "pw-viewer-123") -> Any:
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_a_token_works_with_the_token_header_and_says_when_it_expires(personas: dict[str, Any]) -> None:
    response = _login()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    expiry = timezone.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    assert timedelta(hours=23) < expiry - timezone.now() <= timedelta(hours=24)
    assert _client(body["token"]).get("/api/v1/datasets/").status_code == 200


def test_the_database_holds_a_digest_never_the_token(personas: dict[str, Any]) -> None:
    token = _login().json()["token"]
    stored = AuthToken.objects.get(user=personas["viewer"])
    assert token not in stored.digest
    assert len(stored.token_key) < len(token)  # a lookup prefix only
    assert stored.digest != token


def test_an_expired_token_is_refused(personas: dict[str, Any]) -> None:
    token = _login().json()["token"]
    AuthToken.objects.filter(user=personas["viewer"]).update(expiry=timezone.now() - timedelta(seconds=1))
    response = _client(token).get("/api/v1/datasets/")
    assert response.status_code == 401
    assert not AuthToken.objects.filter(user=personas["viewer"]).exists()  # and cleaned up


def test_the_ttl_setting_sets_the_expiry(personas: dict[str, Any], settings: Any) -> None:
    settings.REST_KNOX = {**settings.REST_KNOX, "TOKEN_TTL": timedelta(hours=2)}
    body = _login().json()
    expiry = timezone.datetime.fromisoformat(body["expiry"].replace("Z", "+00:00"))
    assert timedelta(hours=1, minutes=59) < expiry - timezone.now() <= timedelta(hours=2)


def test_logout_revokes_only_the_token_it_was_sent_with(personas: dict[str, Any]) -> None:
    first, second = _login().json()["token"], _login().json()["token"]
    assert _client(first).post("/api/v1/auth/logout/").status_code == 204
    assert _client(first).get("/api/v1/datasets/").status_code == 401
    assert _client(second).get("/api/v1/datasets/").status_code == 200


def test_logout_all_revokes_every_token_of_the_user(personas: dict[str, Any]) -> None:
    first, second = _login().json()["token"], _login().json()["token"]
    other = _login("steward-user", "pw-steward-123").json()["token"]
    assert _client(first).post("/api/v1/auth/logout-all/").status_code == 204
    assert _client(first).get("/api/v1/datasets/").status_code == 401
    assert _client(second).get("/api/v1/datasets/").status_code == 401
    assert _client(other).get("/api/v1/datasets/").status_code == 200


def test_the_serving_token_cache_honours_expiry(personas: dict[str, Any], settings: Any) -> None:
    from serving.api import CachedTokenAuthentication

    settings.STEWARD_SERVING_AUTH_CACHE_S = 3600
    token = _login("ml_engineer-user", "pw-ml_engineer-123").json()["token"]
    auth = CachedTokenAuthentication()
    user, _ = auth.authenticate_credentials(token.encode())
    assert user == personas["ml_engineer"]
    key = next(k for k in CachedTokenAuthentication._known if CachedTokenAuthentication._known[k][0] == user)
    assert token not in key
    # The cached entry ends with the token: at most the token's remaining life, here under the hour configured.
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() + timedelta(seconds=60))
    CachedTokenAuthentication._known.clear()
    auth.authenticate_credentials(token.encode())
    import time

    remaining = CachedTokenAuthentication._known[key][2] - time.monotonic()
    assert 0 < remaining <= 60


def test_logout_takes_effect_at_once_on_the_cached_hot_paths(personas: dict[str, Any], settings: Any) -> None:
    """A token revoked by logout is refused by the per-process token cache (scoring, labeling's next and submit) at
    once in the process that revoked it, not after STEWARD_SERVING_AUTH_CACHE_S."""
    from rest_framework.exceptions import AuthenticationFailed

    from core.auth import CachedTokenAuthentication

    settings.STEWARD_SERVING_AUTH_CACHE_S = 3600
    token = _login("annotator-user", "pw-annotator-123").json()["token"]
    auth = CachedTokenAuthentication()
    assert auth.authenticate_credentials(token.encode())[0] == personas["annotator"]
    assert _client(token).post("/api/v1/auth/logout/").status_code == 204
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials(token.encode())


def test_logout_all_and_deactivation_empty_the_token_cache(personas: dict[str, Any], settings: Any) -> None:
    from rest_framework.exceptions import AuthenticationFailed

    from core.auth import CachedTokenAuthentication

    settings.STEWARD_SERVING_AUTH_CACHE_S = 3600
    auth = CachedTokenAuthentication()
    first, second = (_login("annotator-user", "pw-annotator-123").json()["token"] for _ in range(2))
    for token in (first, second):
        auth.authenticate_credentials(token.encode())
    assert _client(first).post("/api/v1/auth/logout-all/").status_code == 204
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials(second.encode())

    third = _login("annotator-user", "pw-annotator-123").json()["token"]
    auth.authenticate_credentials(third.encode())
    user = personas["annotator"]
    user.is_active = False
    user.save()
    with pytest.raises(AuthenticationFailed):
        auth.authenticate_credentials(third.encode())


def test_a_role_change_reaches_the_token_cache_at_once(personas: dict[str, Any], settings: Any) -> None:
    from django.contrib.auth.models import Group

    from core.auth import CachedTokenAuthentication
    from core.roles import user_roles

    settings.STEWARD_SERVING_AUTH_CACHE_S = 3600
    token = _login("annotator-user", "pw-annotator-123").json()["token"]
    auth = CachedTokenAuthentication()
    assert "annotator" in user_roles(auth.authenticate_credentials(token.encode())[0])
    personas["annotator"].groups.remove(Group.objects.get(name="annotator"))
    assert "annotator" not in user_roles(auth.authenticate_credentials(token.encode())[0])
