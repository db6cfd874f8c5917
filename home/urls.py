from __future__ import annotations

from django.urls import URLPattern, path

from home import views

api_urlpatterns: list[URLPattern] = []

page_urlpatterns = [
    path("", views.DashboardPage.as_view(), name="dashboard"),
]
