"""The monitoring tab under a model's page: /models/<team>/<name>/monitoring/."""

from __future__ import annotations

from django.urls import URLPattern, path

from modelyard.monitoring import views

app_name = "monitoring"

urlpatterns: list[URLPattern] = [
    path("models/<str:team>/<str:name>/monitoring/", views.tab, name="tab"),
    path(
        "models/<str:team>/<str:name>/monitoring/alerts/<int:alert_id>/acknowledge/",
        views.acknowledge,
        name="acknowledge",
    ),
]
