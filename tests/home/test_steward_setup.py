"""`make run`'s first-run set-up: roles, the admin user and the demo datasets, safe to run again."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import Client

from governance.catalog.models import Dataset


def _setup(*args: str) -> str:
    out = io.StringIO()
    call_command("steward_setup", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_setup_creates_roles_and_an_admin_whose_login_it_prints(settings: Any) -> None:
    settings.STEWARD_ADMIN_PASSWORD = "a-long-admin-password"
    out = _setup("--no-demo")
    assert set(Group.objects.values_list("name", flat=True)) >= {"steward", "annotator", "ml_engineer", "viewer"}
    assert User.objects.get(username="admin").check_password("a-long-admin-password")
    assert "login: admin / a-long-admin-password" in out
    assert not Dataset.objects.exists()


@pytest.mark.django_db
def test_demo_datasets_are_registered_once_and_listed_on_the_dashboard(settings: Any) -> None:
    settings.STEWARD_ADMIN_PASSWORD = "a-long-admin-password"
    first = _setup()
    assert first.count("registered (") == 4
    again = _setup()
    assert again.count("already registered") == 4
    assert sorted(Dataset.objects.values_list("name", flat=True)) == [
        "demo-interactions",
        "demo-items",
        "demo-search-log",
        "demo-users",
    ]
    assert all(d.versions.count() == 1 for d in Dataset.objects.all())

    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
    page = browser.get("/")
    assert page.status_code == 200
    for name in ("demo-users", "demo-items", "demo-interactions"):
        assert name in page.content.decode()


def test_an_annotator_lands_on_labeling_instead_of_a_forbidden_dashboard(client, make_user):
    annotator = make_user("annotator")
    client.force_login(annotator)
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/labeling/"
