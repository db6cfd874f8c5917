from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _create_cache_table(sender: Any, using: str = "default", **kwargs: Any) -> None:
    """The database cache (login failures where there is no Redis) needs its table: `migrate` makes it, so every
    database, test databases included, has it without a separate `createcachetable`."""
    from django.conf import settings
    from django.core.management import call_command

    if any(c["BACKEND"].endswith("DatabaseCache") for c in settings.CACHES.values()):
        call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self, dispatch_uid="core.create_cache_table")
        # The per-process token cache (core.auth) forgets a revoked token, a saved user and a changed role at once.
        from django.contrib.auth import get_user_model
        from django.db.models.signals import m2m_changed, post_delete, post_save
        from knox.models import AuthToken

        from core.auth import forget_group_members, forget_token, forget_user

        user_model = get_user_model()
        post_delete.connect(forget_token, sender=AuthToken, dispatch_uid="core.auth.forget_token")
        post_save.connect(forget_user, sender=user_model, dispatch_uid="core.auth.forget_user")
        post_delete.connect(forget_user, sender=user_model, dispatch_uid="core.auth.forget_deleted_user")
        m2m_changed.connect(
            forget_group_members, sender=user_model.groups.through, dispatch_uid="core.auth.forget_group_members"
        )
