"""Login lockout (django-axes over the shared cache): the API token endpoint, /login/ and /admin/login/ refuse a
username, and separately a client address, after STEWARD_LOGIN_FAILURE_LIMIT failures. The client address is
REMOTE_ADDR unless NUM_PROXIES trusts X-Forwarded-For."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = 5  # STEWARD_LOGIN_FAILURE_LIMIT's default


def _token(username: str, password: str, ip: str = "10.0.0.1", **headers: str) -> Any:
    return APIClient().post(
        "/api/v1/auth/token/", {"username": username, "password": password}, format="json", REMOTE_ADDR=ip, **headers
    )


def test_a_username_is_locked_out_after_the_limit_even_with_the_right_password(personas: dict[str, Any]) -> None:
    for n in range(LIMIT - 1):
        assert _token("viewer-user", "wrong", ip=f"10.0.1.{n}").status_code == 400
    locked = _token("viewer-user", "wrong", ip="10.0.1.99")
    assert locked.status_code == 429
    assert locked.json()["code"] == "locked_out"
    assert "try again" in locked.json()["detail"]
    # From yet another address, with the right password: still refused, the username is locked.
    assert _token("viewer-user", "pw-viewer-123", ip="10.0.2.1").status_code == 429
    # Other users are not affected.
    assert _token("steward-user", "pw-steward-123", ip="10.0.2.1").status_code == 200


def test_a_client_address_is_locked_out_across_usernames(personas: dict[str, Any]) -> None:
    for n in range(LIMIT):
        _token(f"guess-{n}", "wrong", ip="10.0.3.3")
    assert _token("steward-user", "pw-steward-123", ip="10.0.3.3").status_code == 429
    assert _token("steward-user", "pw-steward-123", ip="10.0.3.4").status_code == 200


def test_a_spoofed_forwarded_for_header_does_not_escape_the_lockout(personas: dict[str, Any]) -> None:
    for n in range(LIMIT):
        _token(f"guess-{n}", "wrong", ip="10.0.4.4", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _token("steward-user", "pw-steward-123", ip="10.0.4.4", HTTP_X_FORWARDED_FOR="192.0.2.77").status_code == 429


def test_behind_one_trusted_proxy_the_last_forwarded_address_is_the_client(
    personas: dict[str, Any], settings: Any
) -> None:
    settings.NUM_PROXIES = 1
    proxy = "10.9.9.9"
    for n in range(LIMIT):
        # The client also writes its own (spoofed) entry first; the proxy appends the address it really saw.
        _token(f"guess-{n}", "wrong", ip=proxy, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.5")
    assert _token("steward-user", "pw-steward-123", ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.5").status_code == 429
    # Another client behind the same proxy is not locked out.
    assert _token("steward-user", "pw-steward-123", ip=proxy, HTTP_X_FORWARDED_FOR="203.0.113.6").status_code == 200


def test_a_successful_login_clears_the_count(personas: dict[str, Any]) -> None:
    for _ in range(LIMIT - 1):
        _token("viewer-user", "wrong")
    assert _token("viewer-user", "pw-viewer-123").status_code == 200
    for _ in range(LIMIT - 1):
        assert _token("viewer-user", "wrong").status_code == 400


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_the_login_pages_lock_out_too(path: str, personas: dict[str, Any]) -> None:
    client = Client(REMOTE_ADDR="10.0.5.5")
    for _ in range(LIMIT - 1):
        response = client.post(path, {"username": "admin-user", "password": "wrong"})
        assert response.status_code == 200  # the form again, with its error
    locked = client.post(path, {"username": "admin-user", "password": "wrong"})
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert client.post(path, {"username": "admin-user", "password": "pw-admin-123"}).status_code == 429
    # The API shares the count: the same username is locked there as well.
    assert _token("admin-user", "pw-admin-123", ip="10.0.6.6").status_code == 429


def test_a_login_without_a_request_still_works(personas: dict[str, Any]) -> None:
    # Django's test client (and management commands) authenticate without a request: no client to lock out.
    client = Client()
    assert client.login(username="viewer-user", password="pw-viewer-123")
