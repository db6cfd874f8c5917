"""API routes (mounted under /api/v1/) and page routes (mounted at /) of this app."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from training import api, views

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("training-jobs/", api.TrainingJobCreateView.as_view(), name="api-training-jobs"),
    path("models/", api.ModelListView.as_view(), name="api-models"),
    path("models/<str:name>/", api.ModelDetailView.as_view(), name="api-model"),
    path("models/<str:name>/versions/", api.ModelVersionListView.as_view(), name="api-model-versions"),
    path("models/<str:name>/versions/<int:number>/", api.ModelVersionDetailView.as_view(), name="api-model-version"),
    path("models/<str:name>/aliases/", api.ModelAliasHistoryView.as_view(), name="api-model-alias-history"),
    path("models/<str:name>/aliases/<str:alias>/", api.ModelAliasView.as_view(), name="api-model-alias"),
]
page_urlpatterns: list[URLPattern | URLResolver] = [
    path("models/", views.ModelListPage.as_view(), name="models"),
    path("models/<str:name>/", views.ModelPage.as_view(), name="model"),
    path("models/<str:name>/versions/<int:number>/", views.ModelVersionPage.as_view(), name="model-version"),
    path("models/<str:name>/compare/", views.ComparePage.as_view(), name="model-compare"),
    path("model-versions/<int:pk>/", views.ModelVersionRedirect.as_view(), name="model-version-by-id"),
    path("training-jobs/<int:pk>/", views.TrainingJobPage.as_view(), name="training-job"),
    path("training-jobs/<int:pk>/curves/", views.TrainingJobCurves.as_view(), name="training-job-curves"),
    path("dataset-versions/<int:pk>/train/", views.TrainPage.as_view(), name="dataset-version-train"),
]
