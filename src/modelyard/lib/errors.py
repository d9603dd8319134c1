"""Errors a user can hit. Each carries the HTTP status the API answers with."""

from __future__ import annotations

from typing import Any

from modelyard.storage.errors import ObjectNotFound, StorageError, StoreUnavailable


class ModelyardError(Exception):
    status = 400

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(ModelyardError):
    status = 400


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


def from_storage(
    error: StorageError, subject: str = "", *, uri_given: bool = False
) -> ModelyardError:
    """The one translation of a storage failure into an answer for the caller.

    A store that did not answer is Unavailable (retrying later may work). Nothing at a URI is
    NotFound when the URI is modelyard's own, but InvalidInput when the caller gave it
    (`uri_given`): then it is their request that must change. Anything else (a malformed URI,
    an unsupported scheme, access denied) is the caller's input or configuration to fix.
    `subject` (e.g. "Artifact 'model'") prefixes the store's message.
    """
    message = f"{subject}: {error}" if subject else str(error)
    if isinstance(error, StoreUnavailable):
        return Unavailable(message)
    if isinstance(error, ObjectNotFound) and not uri_given:
        return NotFound(message)
    return InvalidInput(message)
