from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from modelyard.api.main import api
from modelyard.health import healthz

admin.site.site_header = "modelyard administration"
admin.site.site_title = "modelyard"

urlpatterns = [
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("", include("modelyard.lifecycle.urls")),
    path("", include("modelyard.jobs.urls")),
    path("", include("modelyard.monitoring.urls")),
    path("", include("modelyard.registry.urls")),
]
