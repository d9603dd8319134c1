from __future__ import annotations

from django.urls import URLPattern, path

from modelyard.lifecycle import views

# Importing the registry's URLs registers its `asset_kind` converter (models, datasets, …).
from modelyard.registry import urls as registry_urls  # noqa: F401

app_name = "lifecycle"

urlpatterns: list[URLPattern] = [
    path("lifecycle/<str:action>/<str:token>/", views.link, name="link"),
    path("teams/<str:team>/lifecycle/", views.team_page, name="team"),
    path(
        "<asset_kind:kind>/<str:team>/<str:name>/<int:number>/lifecycle/<str:action>/",
        views.act,
        name="act",
    ),
]
