from __future__ import annotations

from django.apps import AppConfig


class HomeConfig(AppConfig):
    """The site itself: the dashboard, the demo data and the `make run` commands. It sits above every other app
    (it may import them all) so that `core` depends on nothing above it."""

    name = "home"
    verbose_name = "Home"
    default_auto_field = "django.db.models.BigAutoField"
