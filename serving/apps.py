from __future__ import annotations

from django.apps import AppConfig


class ServingConfig(AppConfig):
    name = "serving"
    label = "serving"
    verbose_name = "Serving"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db import transaction
        from django.db.models.signals import post_save

        from training.models import ModelAliasEvent

        def alias_moved(sender, instance, created, **kwargs) -> None:
            if created:
                from serving.loader import alias_moved as sync

                transaction.on_commit(sync)  # this process loads the new version now, before the next request

        post_save.connect(alias_moved, sender=ModelAliasEvent, dispatch_uid="serving.alias_moved", weak=False)

        from serving.warm import warm_before_first_set
        from training.services.registry import alias_will_move

        # A first-set alias is loaded and warm in every serving process before the move is written.
        alias_will_move.connect(warm_before_first_set, dispatch_uid="serving.warm_before_first_set", weak=False)
