"""API routes (mounted under /api/v1/), page routes (mounted at /) and /metrics (at the root)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from serving import api, views

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("serving/<str:model_name>/rank/", api.RankView.as_view(), name="api-serving-rank"),
    path("serving/<str:model_name>/score/", api.ScoreView.as_view(), name="api-serving-score"),
    path("serving/<str:model_name>/batch-score/", api.BatchScoreView.as_view(), name="api-serving-batch-score"),
    path("serving/<str:model_name>/latency/", api.LatencySeriesView.as_view(), name="api-serving-latency"),
]
page_urlpatterns: list[URLPattern | URLResolver] = [
    path("models/<str:name>/monitoring/", views.MonitoringPage.as_view(), name="model-monitoring"),
]
root_urlpatterns: list[URLPattern | URLResolver] = [
    path("metrics", views.metrics_view, name="metrics"),
]
