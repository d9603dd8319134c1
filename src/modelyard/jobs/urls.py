"""The runs pages: /runs/, /teams/<team>/runs/, /projects/<team>/<name>/runs/, and the
Cancel and Re-run buttons' POST targets."""

from __future__ import annotations

from django.urls import URLPattern, path

from modelyard.jobs import views

app_name = "jobs"

urlpatterns: list[URLPattern] = [
    path("runs/", views.all_runs, name="runs"),
    path("teams/<str:team>/runs/", views.team_runs, name="team"),
    path("projects/<str:team>/<str:name>/runs/", views.project_runs, name="project"),
    path("runs/<int:run_id>/<str:action>/", views.act, name="act"),
]
