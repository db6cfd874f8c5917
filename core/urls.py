from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import path

from core import api, views

api_urlpatterns = [
    path("health/", api.HealthView.as_view(), name="api-health"),
    path("auth/token/", api.TokenView.as_view(), name="api-token"),
    path("auth/logout/", api.LogoutView.as_view(), name="api-logout"),
    path("auth/logout-all/", api.LogoutAllView.as_view(), name="api-logout-all"),
    path("users/", api.UserCreateView.as_view(), name="api-users"),
    path("jobs/", api.JobListView.as_view(), name="api-jobs"),
    path("jobs/<int:pk>/", api.JobDetailView.as_view(), name="api-job"),
    path("jobs/<int:pk>/cancel/", api.JobCancelView.as_view(), name="api-job-cancel"),
    path("audit-events/", api.AuditEventListView.as_view(), name="api-audit-events"),
    path("audit-events/export/", api.AuditEventExportView.as_view(), name="api-audit-events-export"),
]

page_urlpatterns = [
    path("login/", auth_views.LoginView.as_view(template_name="core/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("jobs/", views.JobListPage.as_view(), name="jobs"),
    path("jobs/<int:pk>/", views.JobPage.as_view(), name="job"),
    path("audit/", views.AuditPage.as_view(), name="audit"),
]
