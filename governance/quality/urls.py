from __future__ import annotations

from django.urls import path

from governance.quality import api, views

api_urlpatterns = [
    path("datasets/<int:pk>/quality-rules/", api.DatasetRulesView.as_view(), name="api-quality-rules"),
    path("quality-rules/<int:pk>/", api.RuleDetailView.as_view(), name="api-quality-rule"),
    path("dataset-versions/<int:pk>/quality-checks/", api.VersionChecksView.as_view(), name="api-quality-checks"),
    path("dataset-versions/<int:pk>/quality/", api.VersionQualityView.as_view(), name="api-version-quality"),
    path(
        "dataset-versions/<int:pk>/quality-suggestions/",
        api.VersionSuggestionsView.as_view(),
        name="api-quality-suggestions",
    ),
]

page_urlpatterns = [
    path("datasets/<int:pk>/quality/", views.RulesPage.as_view(), name="quality-rules"),
    path("datasets/<int:pk>/quality/rules/", views.RuleAddPage.as_view(), name="quality-rule-add"),
    path("datasets/<int:pk>/quality/suggest/", views.SuggestPage.as_view(), name="quality-suggest"),
    path("quality-rules/<int:pk>/edit/", views.RuleEditPage.as_view(), name="quality-rule-edit"),
    path("quality-rules/<int:pk>/decide/", views.RuleDecidePage.as_view(), name="quality-rule-decide"),
    path("dataset-versions/<int:pk>/quality/", views.ReportPage.as_view(), name="version-quality"),
]
