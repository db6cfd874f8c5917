"""Hardened edges: password rules on user creation, /metrics for scrapers only, the API schema and docs behind
login, a cap on page sizes."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from core.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password123", "too common"),
        ("84729163058", "entirely numeric"),
        ("newcomer-user", "too similar"),
        ("short", "at least 8"),
    ],
)
def test_the_users_endpoint_refuses_a_weak_password_and_creates_nobody(
    password: str, reason: str, api_as: Callable[[str | None], APIClient]
) -> None:
    response = api_as("admin").post(
        "/api/v1/users/", {"username": "newcomer-user", "password": password, "role": "viewer"}, format="json"
    )
    assert response.status_code == 400
    assert reason in str(response.json())
    assert password not in str(response.json())  # the password itself is never echoed
    assert not User.objects.filter(username="newcomer-user").exists()
    assert not AuditEvent.objects.filter(action="user.create").exists()


def test_the_users_endpoint_accepts_a_strong_password(api_as: Callable[[str | None], APIClient]) -> None:
    response = api_as("admin").post(
        "/api/v1/users/", {"username": "newcomer", "password": "tangerine-Lattice-42", "role": "viewer"}, format="json"
    )
    assert response.status_code == 201


def test_steward_setup_refuses_a_weak_admin_password(settings: Any) -> None:
    settings.STEWARD_ADMIN_PASSWORD = "12345678"
    with pytest.raises(CommandError, match="STEWARD_ADMIN_PASSWORD is too weak"):
        call_command("steward_setup", "--no-demo", stdout=io.StringIO())
    assert not User.objects.filter(username="admin").exists()


def test_metrics_answer_loopback_and_refuse_other_addresses(settings: Any) -> None:
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 200
    refused = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")
    assert refused.status_code == 403
    assert b"# HELP" not in refused.content
    # A forwarded-for header claiming loopback changes nothing without trusted proxies.
    assert Client(REMOTE_ADDR="203.0.113.9").get("/metrics", HTTP_X_FORWARDED_FOR="127.0.0.1").status_code == 403


def test_metrics_answer_the_configured_token_and_networks(settings: Any) -> None:
    settings.STEWARD_METRICS_TOKEN = "scrape-secret-0123456789"
    settings.STEWARD_METRICS_ALLOW_IPS = ["10.1.0.0/16"]
    outside = Client(REMOTE_ADDR="203.0.113.9")
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-0123456789").status_code == 200
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert Client(REMOTE_ADDR="10.1.2.3").get("/metrics").status_code == 200
    assert Client(REMOTE_ADDR="127.0.0.1").get("/metrics").status_code == 403  # loopback no longer listed


def test_the_schema_and_docs_need_a_signed_in_caller(personas: dict[str, Any], api_as: Any) -> None:
    assert APIClient().get("/api/v1/schema/").status_code == 401
    docs = Client().get("/api/v1/docs/")
    assert docs.status_code == 302 and docs["Location"].startswith("/login/")
    assert api_as("viewer").get("/api/v1/schema/", HTTP_ACCEPT="application/json").status_code == 200
    browser = Client()
    browser.force_login(personas["viewer"])
    assert browser.get("/api/v1/docs/").status_code == 200
    assert browser.get("/api/v1/schema/").status_code == 200


def test_a_page_never_holds_more_than_the_max_limit(settings: Any, api_as: Any, personas: dict[str, Any]) -> None:
    from governance.catalog.services import dataset_create

    settings.STEWARD_API_MAX_LIMIT = 3
    for n in range(5):
        dataset_create(actor=personas["steward"], name=f"d{n}")
    body = api_as("viewer").get("/api/v1/datasets/?limit=1000").json()
    assert body["count"] == 5
    assert len(body["results"]) == 3
