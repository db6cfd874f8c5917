from __future__ import annotations

from django.conf import settings
from rest_framework.pagination import LimitOffsetPagination


class Pagination(LimitOffsetPagination):
    """`?limit=&offset=` on every list, with `limit` capped at STEWARD_API_MAX_LIMIT (a larger one gets the cap)."""

    @property
    def max_limit(self) -> int:  # type: ignore[override]
        return settings.STEWARD_API_MAX_LIMIT
