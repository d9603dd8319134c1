from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.http import HttpRequest

from modelyard.accounts.models import ApiToken, Membership, Team
from modelyard.accounts.names import check_name
from modelyard.accounts.tokens import create_token
from modelyard.lib.errors import InvalidInput


def _checked_username(value: str) -> str:
    try:
        check_name(value, "user")
    except InvalidInput as error:
        raise forms.ValidationError(error.message) from None
    return value


class NamedUserCreationForm(AdminUserCreationForm[User]):
    def clean_username(self) -> str:
        return _checked_username(super().clean_username())


class NamedUserChangeForm(UserChangeForm[User]):
    def clean_username(self) -> str:
        return _checked_username(self.cleaned_data["username"])


# Django's own forms accept '/', '@' or '+' in user names; modelyard's pattern does not.
admin.site.unregister(User)


@admin.register(User)
class NamedUserAdmin(UserAdmin[User]):
    add_form = NamedUserCreationForm
    form = NamedUserChangeForm


class MembershipInline(admin.TabularInline[Membership, Team]):
    model = Membership
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin[Team]):
    list_display = ["name", "display_name", "contact_email", "created_at"]
    search_fields = ["name", "display_name"]
    inlines = [MembershipInline]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A team's name is its folder in the artifact root and part of every reference.
        return ["name"] if obj is not None else []


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin[ApiToken]):
    list_display = [
        "name",
        "user",
        "prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "user__username"]
    fields = ["user", "name", "expires_at", "revoked_at", "prefix", "last_used_at"]
    readonly_fields = ["prefix", "last_used_at"]
    autocomplete_fields = ["user"]

    def save_model(self, request: HttpRequest, obj: ApiToken, form: object, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        # New tokens are minted here so only the hash is stored; the secret is shown once.
        token, raw = create_token(obj.user, obj.name, obj.expires_at)
        obj.pk, obj.prefix, obj.token_hash = token.pk, token.prefix, token.token_hash
        messages.warning(request, f"Token created. Copy it now, it will not be shown again: {raw}")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        return super().get_queryset(request).select_related("user")
