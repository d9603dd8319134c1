"""The web catalog's pages: /, /teams/<team>/, /<models|datasets|featuresets>/<team>/<name>/…"""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import URLPattern, path, register_converter

from modelyard.registry import views
from modelyard.registry.models import PLURAL, Kind

KIND_BY_PLURAL = {plural: kind for kind, plural in PLURAL.items()}


class KindConverter:
    """`models` in a URL is Kind.MODEL in the view, and the other way round in reverse()."""

    regex = "|".join(KIND_BY_PLURAL)

    def to_python(self, value: str) -> str:
        return KIND_BY_PLURAL[value].value

    def to_url(self, value: str) -> str:
        return PLURAL[Kind(value)]


register_converter(KindConverter, "asset_kind")

app_name = "registry"
urlpatterns: list[URLPattern] = [
    path("", views.catalog, name="catalog"),
    # The admin's sign-in admits staff only; the catalog is for everyone with an account.
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="registry/login.html",
            redirect_authenticated_user=True,
            next_page="registry:catalog",
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(next_page="registry:login"), name="logout"),
    path("teams/<str:team>/", views.team_page, name="team"),
    path("<asset_kind:kind>/<str:team>/<str:name>/", views.asset_page, name="asset"),
    path(
        "<asset_kind:kind>/<str:team>/<str:name>/<int:number>/",
        views.version_page,
        name="version",
    ),
]
