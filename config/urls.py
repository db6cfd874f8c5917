from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import IsAuthenticated

from core import urls as core_urls
from governance.catalog import urls as catalog_urls
from governance.labeling import urls as labeling_urls
from governance.privacy import urls as privacy_urls
from governance.quality import urls as quality_urls
from home import urls as home_urls
from serving import urls as serving_urls
from training import urls as training_urls

_apps = [home_urls, core_urls, catalog_urls, privacy_urls, quality_urls, labeling_urls, training_urls, serving_urls]

api_v1 = [pattern for module in _apps for pattern in module.api_urlpatterns] + [
    # The schema for any signed-in caller (token or session); the docs page sends a browser to the login page first.
    path("schema/", SpectacularAPIView.as_view(permission_classes=[IsAuthenticated]), name="api-schema"),
    path("docs/", login_required(SpectacularSwaggerView.as_view(url_name="api-schema")), name="api-docs"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    *[pattern for module in _apps for pattern in module.page_urlpatterns],
    *getattr(serving_urls, "root_urlpatterns", []),
]
