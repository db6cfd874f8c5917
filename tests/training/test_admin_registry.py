"""The registry in the admin reads right: proper names, baseline and lift beside each version."""

from __future__ import annotations

import pytest
from django.test import Client

from training.models import ModelAlias, ModelAliasEvent, ModelVersion, RegisteredModel

pytestmark = pytest.mark.django_db


def test_training_models_have_proper_verbose_names():
    names = {m: (m._meta.verbose_name, m._meta.verbose_name_plural) for m in (RegisteredModel, ModelVersion)}
    assert names[RegisteredModel] == ("registered model", "registered models")
    assert names[ModelVersion] == ("model version", "model versions")
    assert ModelAlias._meta.verbose_name_plural == "model aliases"
    assert ModelAliasEvent._meta.verbose_name_plural == "alias history"


def test_admin_index_and_version_list_show_names_baseline_and_lift(payload, start_training, personas):
    start_training(payload)
    mv = ModelVersion.objects.get()
    admin = Client()
    admin.force_login(personas["admin"])
    index = admin.get("/admin/").content.decode()
    assert "Model aliases" in index and "aliass" not in index and "Alias history" in index
    listing = admin.get("/admin/training/modelversion/").content.decode()
    assert "baseline auc" in listing.lower() and "lift (auc - baseline)" in listing.lower()
    assert f"{mv.baseline_metrics['auc']:.4f}" in listing and mv.lift_display in listing
    assert "cpu_frozen_then_finetune" in listing
