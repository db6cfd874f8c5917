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
