from __future__ import annotations

from django.urls import path

from governance.catalog import api, views

api_urlpatterns = [
    path("datasets/", api.DatasetListCreateView.as_view(), name="api-datasets"),
    path("datasets/<int:pk>/", api.DatasetDetailView.as_view(), name="api-dataset"),
    path("datasets/<int:pk>/versions/", api.DatasetVersionListCreateView.as_view(), name="api-dataset-versions"),
    path("dataset-versions/<int:pk>/", api.DatasetVersionDetailView.as_view(), name="api-dataset-version"),
    path("dataset-versions/<int:pk>/rows/", api.DatasetVersionRowsView.as_view(), name="api-dataset-version-rows"),
    path(
        "dataset-versions/<int:pk>/lineage/",
        api.DatasetVersionLineageView.as_view(),
        name="api-dataset-version-lineage",
    ),
    path(
        "dataset-versions/<int:pk>/transforms/",
        api.DatasetVersionTransformView.as_view(),
        name="api-dataset-version-transforms",
    ),
    path(
        "dataset-versions/<int:pk>/download/",
        api.DatasetVersionDownloadView.as_view(),
        name="api-dataset-version-download",
    ),
]

page_urlpatterns = [
    path("datasets/", views.DatasetListPage.as_view(), name="datasets"),
    path("datasets/<int:pk>/", views.DatasetPage.as_view(), name="dataset"),
    path("datasets/<int:pk>/upload/", views.DatasetUploadPage.as_view(), name="dataset-upload"),
    path("dataset-versions/<int:pk>/", views.VersionPage.as_view(), name="dataset-version"),
    path("dataset-versions/<int:pk>/lineage/", views.LineagePage.as_view(), name="lineage"),
    path("dataset-versions/<int:pk>/transform/", views.TransformPage.as_view(), name="dataset-version-transform"),
]
