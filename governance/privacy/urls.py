"""API routes (mounted under /api/v1/) and page routes (mounted at /) of this app."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from governance.privacy import api, views

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("dataset-versions/<int:pk>/pii-scans/", api.VersionScanView.as_view(), name="api-version-pii-scans"),
    path("dataset-versions/<int:pk>/mask/", api.MaskView.as_view(), name="api-version-mask"),
    path("pii-scans/<int:pk>/", api.ScanDetailView.as_view(), name="api-pii-scan"),
    path("pii-findings/<int:pk>/", api.FindingDetailView.as_view(), name="api-pii-finding"),
    path("pii-findings/<int:pk>/raw-examples/", api.FindingRawExamplesView.as_view(), name="api-pii-finding-raw"),
    path("pii/analyze/", api.AnalyzeView.as_view(), name="api-pii-analyze"),
    path("pii/decrypt/", api.DecryptView.as_view(), name="api-pii-decrypt"),
    path("datasets/<int:pk>/pii-recognizers/", api.DatasetRecognizersView.as_view(), name="api-pii-recognizers"),
    path("pii-recognizers/<int:pk>/", api.RecognizerDetailView.as_view(), name="api-pii-recognizer"),
]
page_urlpatterns: list[URLPattern | URLResolver] = [
    path("privacy/", views.ReviewQueuePage.as_view(), name="privacy"),
    path("privacy/scans/<int:pk>/", views.ScanReportPage.as_view(), name="pii-scan"),
    path("privacy/findings/<int:pk>/decide/", views.FindingDecidePage.as_view(), name="pii-finding-decide"),
    path("privacy/findings/<int:pk>/raw/", views.FindingRawPage.as_view(), name="pii-finding-raw"),
    path("dataset-versions/<int:pk>/pii/", views.VersionPiiPage.as_view(), name="version-pii"),
    path("dataset-versions/<int:pk>/mask/", views.PolicyEditorPage.as_view(), name="version-mask"),
]
