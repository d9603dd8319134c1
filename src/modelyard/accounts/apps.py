from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "modelyard.accounts"
    label = "accounts"
    verbose_name = "Teams and access"
