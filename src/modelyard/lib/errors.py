"""Errors a user can hit. Each carries the HTTP status the API answers with."""

from __future__ import annotations

from typing import Any


class ModelyardError(Exception):
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ModelyardError):
    status = 400


class NotAuthenticated(ModelyardError):
    status = 401


class Forbidden(ModelyardError):
    status = 403
    # Set once the refusal is on the audit trail (accounts.permissions.refuse), so the API's
    # error boundary records only the refusals raised some other way.
    audited = False


class NotFound(ModelyardError):
    status = 404


class Conflict(ModelyardError):
    status = 409


class Gone(ModelyardError):
    status = 410


class Unavailable(ModelyardError):
    """A store or service modelyard depends on did not answer; retrying later may work."""

    status = 503


class Unprocessable(ModelyardError):
    """The request parsed but a field has the wrong type or shape."""

    status = 422
