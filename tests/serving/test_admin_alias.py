from __future__ import annotations

from typing import Any

from django.test import Client
from rest_framework.test import APIClient

from serving.loader import get_cache
from tests.factories import SHOP_ITEM_IDS, post_rank
from training.models import ModelAlias, ModelAliasEvent, ModelVersion


def test_moving_production_in_the_admin_changes_the_version_rank_answers_with(
    shop: Any, personas: dict[str, Any], settings: Any
) -> None:
    settings.STEWARD_SERVING_ALIAS_TTL_MS = 0
    engineer = APIClient()
    engineer.force_authenticate(personas["ml_engineer"])
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 1

    admin = Client()
    admin.force_login(personas["admin"])
    alias = ModelAlias.objects.get(model__name="shop", name="production")
    page = admin.get(f"/admin/training/modelalias/{alias.pk}/change/")
    assert page.status_code == 200
    v2 = ModelVersion.objects.get(model__name="shop", version=2)
    resp = admin.post(f"/admin/training/modelalias/{alias.pk}/change/", {"version": v2.pk})
    assert resp.status_code == 302, resp.content.decode()[:2000]

    alias.refresh_from_db()
    assert alias.version_id == v2.pk
    event = ModelAliasEvent.objects.filter(alias="production").latest("created_at")
    assert (event.from_version.version, event.to_version.version, event.actor) == (1, 2, personas["admin"])
    post_rank(engineer, {"candidates": SHOP_ITEM_IDS})
    get_cache().wait_idle()
    assert post_rank(engineer, {"candidates": SHOP_ITEM_IDS}).json()["model_version"]["version"] == 2


def test_the_admin_refuses_a_version_of_another_model(shop: Any, personas: dict[str, Any]) -> None:
    shop.add_version("other", "v1")
    admin = Client()
    admin.force_login(personas["admin"])
    alias = ModelAlias.objects.get(model__name="shop", name="production")
    foreign = ModelVersion.objects.get(model__name="other", version=1)
    resp = admin.post(f"/admin/training/modelalias/{alias.pk}/change/", {"version": foreign.pk})
    assert resp.status_code == 200  # the form comes back with an error
    alias.refresh_from_db()
    assert alias.version.version == 1
