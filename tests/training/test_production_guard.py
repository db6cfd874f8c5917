"""`production` only moves to a version that beats its baseline, unless the mover confirms (force)."""

from __future__ import annotations

import pytest
from django.test import Client

from core.models import AuditEvent
from training.models import ModelAlias, ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(payload, start_training):
    """v1 beats its baseline, v2 does not (the baselines set to known values on the same rows)."""
    start_training(payload)
    start_training({**payload, "params": {**payload["params"], "seed": 1}})
    v1, v2 = ModelVersion.objects.order_by("version")
    # Versions are immutable through save(); the test sets known baselines on the rows directly.
    ModelVersion.objects.filter(pk=v1.pk).update(baseline_metrics={"auc": v1.metrics["auc"] - 0.05, "count": 1})
    ModelVersion.objects.filter(pk=v2.pk).update(baseline_metrics={"auc": min(v2.metrics["auc"] + 0.05, 1.0)})
    return v1, v2


def _put(client, version, **extra):
    return client.put("/api/v1/models/ctr/aliases/production/", {"version": version, **extra}, format="json")


def test_api_refuses_production_below_baseline_with_409_and_moves_nothing(versions, api_as):
    engineer = api_as("ml_engineer")
    assert _put(engineer, 1).status_code == 200
    refused = _put(engineer, 2)
    assert refused.status_code == 409, refused.json()
    assert "does not beat its baseline" in refused.json()["detail"] and "force" in refused.json()["detail"]
    assert ModelAlias.objects.get(name="production").version.version == 1
    # other aliases are not guarded
    assert engineer.put("/api/v1/models/ctr/aliases/staging/", {"version": 2}, format="json").status_code == 200


def test_force_moves_production_and_the_audit_log_records_it(versions, api_as, personas):
    moved = _put(api_as("ml_engineer"), 2, force=True)
    assert moved.status_code == 200 and moved.json()["version"] == 2
    event = AuditEvent.objects.filter(action="model_alias.set").latest("id")
    assert event.summary["forced_below_baseline"] is True and event.summary["lift"] < 0
    assert event.actor == personas["ml_engineer"]


def test_a_version_without_a_baseline_is_not_held_back(versions, api_as):
    ModelVersion.objects.filter(version=2).update(baseline_metrics={})
    assert _put(api_as("ml_engineer"), 2).status_code == 200


def test_the_page_asks_for_confirmation_and_confirming_moves_production(versions, personas):
    client = Client()
    client.force_login(personas["ml_engineer"])
    asked = client.post("/models/ctr/", {"alias": "production", "version": 2})
    assert asked.status_code == 409
    page = asked.content.decode()
    assert 'id="confirm-below-baseline"' in page and "does not beat its baseline" in page
    assert 'name="force" value="on"' in page and not ModelAlias.objects.filter(name="production").exists()
    confirmed = client.post("/models/ctr/", {"alias": "production", "version": 2, "force": "on"})
    assert confirmed.status_code == 302
    assert ModelAlias.objects.get(name="production").version.version == 2
    assert AuditEvent.objects.filter(action="model_alias.set").latest("id").summary["forced_below_baseline"] is True


def test_the_admin_asks_for_the_force_box_before_production_goes_below_baseline(versions, personas):
    admin = Client()
    admin.force_login(personas["admin"])
    v2 = ModelVersion.objects.get(version=2)
    model = v2.model
    body = {"model": model.pk, "name": "production", "version": v2.pk}
    refused = admin.post("/admin/training/modelalias/add/", body)
    assert refused.status_code == 200 and "does not beat its baseline" in refused.content.decode()
    assert not ModelAlias.objects.exists()
    assert admin.post("/admin/training/modelalias/add/", {**body, "force": "on"}).status_code == 302
    assert ModelAlias.objects.get(name="production").version == v2
