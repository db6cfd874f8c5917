"""API routes (mounted under /api/v1/) and page routes (mounted at /) of this app."""
from __future__ import annotations

from django.urls import URLPattern, URLResolver

api_urlpatterns: list[URLPattern | URLResolver] = []
page_urlpatterns: list[URLPattern | URLResolver] = []
