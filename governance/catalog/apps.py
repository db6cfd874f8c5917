from __future__ import annotations

from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "governance.catalog"
    label = "catalog"
    verbose_name = "Catalog"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from core.openlineage import register_dataset_resolver, register_hidden_columns_resolver
        from governance.catalog.selectors import openlineage_dataset, openlineage_hidden_columns

        register_dataset_resolver("dataset_version", openlineage_dataset)
        register_hidden_columns_resolver("dataset_version", openlineage_hidden_columns)
