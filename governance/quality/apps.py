from __future__ import annotations

from django.apps import AppConfig


class QualityConfig(AppConfig):
    name = "governance.quality"
    label = "quality"
    verbose_name = "Data quality"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from governance.catalog import hooks

        hooks.register_version_profiled(check_profiled_version)


def check_profiled_version(*, version_id: int, actor_id: int | None) -> None:
    """Every new version whose dataset has active rules is checked once its profile is done."""
    from django.contrib.auth import get_user_model

    from governance.catalog.models import DatasetVersion
    from governance.quality.selectors import active_rules
    from governance.quality.services import quality_check_start

    version = DatasetVersion.objects.select_related("dataset").filter(pk=version_id).first()
    if version is None or not active_rules(version.dataset).exists():
        return
    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    quality_check_start(version=version, actor=actor, trigger="auto")
