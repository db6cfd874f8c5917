"""API routes (mounted under /api/v1/) and page routes (mounted at /) of this app."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from governance.labeling import api, views

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("labeling/projects/", api.ProjectListCreateView.as_view(), name="api-labeling-projects"),
    path("labeling/projects/<int:pk>/", api.ProjectDetailView.as_view(), name="api-labeling-project"),
    path("labeling/projects/<int:pk>/tasks/", api.ProjectTasksView.as_view(), name="api-labeling-tasks"),
    path("labeling/projects/<int:pk>/next/", api.NextTaskView.as_view(), name="api-labeling-next"),
    path("labeling/projects/<int:pk>/undo/", api.UndoView.as_view(), name="api-labeling-undo"),
    path("labeling/projects/<int:pk>/progress/", api.ProgressView.as_view(), name="api-labeling-progress"),
    path("labeling/projects/<int:pk>/agreement/", api.AgreementView.as_view(), name="api-labeling-agreement"),
    path("labeling/projects/<int:pk>/review/", api.ReviewQueueView.as_view(), name="api-labeling-review-queue"),
    path("labeling/projects/<int:pk>/gold/", api.GoldView.as_view(), name="api-labeling-gold"),
    path("labeling/projects/<int:pk>/export/", api.ExportView.as_view(), name="api-labeling-export"),
    path("labeling/projects/<int:pk>/webhook/", api.WebhookView.as_view(), name="api-labeling-webhook"),
    path(
        "labeling/projects/<int:pk>/webhook/deliveries/",
        api.WebhookDeliveriesView.as_view(),
        name="api-labeling-webhook-deliveries",
    ),
    path("labeling/tasks/<int:pk>/annotations/", api.AnnotationCreateView.as_view(), name="api-labeling-annotations"),
    path("labeling/tasks/<int:pk>/skip/", api.TaskSkipView.as_view(), name="api-labeling-skip"),
    path("labeling/tasks/<int:pk>/review/", api.TaskReviewView.as_view(), name="api-labeling-review"),
]

page_urlpatterns: list[URLPattern | URLResolver] = [
    path("labeling/", views.ProjectListPage.as_view(), name="labeling"),
    path("labeling/projects/<int:pk>/", views.ProjectPage.as_view(), name="labeling-project"),
    path("labeling/projects/<int:pk>/annotate/", views.AnnotatePage.as_view(), name="labeling-annotate"),
    path("labeling/projects/<int:pk>/quality/", views.QualityPage.as_view(), name="labeling-quality"),
    path("labeling/projects/<int:pk>/review/", views.ReviewPage.as_view(), name="labeling-review"),
    path("labeling/tasks/<int:pk>/review/", views.ReviewDecidePage.as_view(), name="labeling-review-decide"),
]
