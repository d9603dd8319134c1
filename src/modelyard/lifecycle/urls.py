from __future__ import annotations

from django.urls import URLPattern, path

from modelyard.lifecycle import views

app_name = "lifecycle"

urlpatterns: list[URLPattern] = [
    path("lifecycle/<str:action>/<str:token>/", views.link, name="link"),
    path("teams/<str:team>/lifecycle/", views.team_page, name="team"),
]
