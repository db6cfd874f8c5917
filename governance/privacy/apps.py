from __future__ import annotations

from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "governance.privacy"
    label = "privacy"
    verbose_name = "Privacy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance.catalog import hooks
        from governance.privacy.selectors import hidden_pii_columns, hidden_pii_columns_many

        hooks.register_hidden_columns(hidden_pii_columns, many=hidden_pii_columns_many)
        hooks.register_version_created(scan_new_version)


def scan_new_version(*, version_id: int, actor_id: int | None) -> None:
    """Every new dataset version gets a scan (the masked ones too: their rescan must be clean)."""
    from django.contrib.auth import get_user_model

    from governance.catalog.models import DatasetVersion
    from governance.privacy.services import pii_scan_start

    version = DatasetVersion.objects.filter(pk=version_id).first()
    if version is None:
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    pii_scan_start(version=version, actor=actor, trigger="auto")
