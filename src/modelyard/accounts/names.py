"""The one pattern for the names of users and teams.

Names travel into URLs (`/api/v1/teams/<name>`), references (`team/model:3`), folder names
in the artifact root and audit lines, so they hold nothing those would have to escape.
"""

from __future__ import annotations

import re

from django.core.validators import RegexValidator

from modelyard.lib.errors import InvalidInput

# \Z, not $: `$` also matches before a final newline, which would let "red\n" through.
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}\Z"
NAME_RULE = "1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
name_validator = RegexValidator(NAME_PATTERN, f"Use {NAME_RULE}.")


def check_name(name: str, what: str) -> None:
    """Raise InvalidInput naming the rule unless `name` fits it (`what`: user or team)."""
    if not re.match(NAME_PATTERN, name):
        raise InvalidInput(
            f"{name!r} is not a valid {what} name: use {NAME_RULE}, e.g. 'alice' or 'data-science'."
        )
