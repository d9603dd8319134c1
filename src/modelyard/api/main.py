"""The /api/v1 application: authentication, error bodies and the routers of each app."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from modelyard import storage
from modelyard.accounts.api import router as accounts_router
from modelyard.api.auth import DEFAULT_AUTH, challenge
from modelyard.api.parser import StrictParser
from modelyard.audit.api import router as audit_router
from modelyard.audit.services import record_denied
from modelyard.deployment.api import router as deployment_router
from modelyard.features.api import router as features_router
from modelyard.jobs.api import router as jobs_router
from modelyard.lib.errors import Forbidden, ModelyardError, from_storage
from modelyard.lifecycle.api import router as lifecycle_router
from modelyard.monitoring.api import router as monitoring_router
from modelyard.registry.api import build_kind_router, versions_router
from modelyard.registry.models import PLURAL
from modelyard.registry.store_api import router as stores_router

log = logging.getLogger(__name__)


ERROR_BODY = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "What was wrong and what to do."},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
    "additionalProperties": True,
}
ERROR_RESPONSES = {
    "4XX": "The request was refused; `message` says why and what to do.",
    "503": "A store or service modelyard depends on did not answer; retry later.",
}


class ModelyardAPI(NinjaAPI):
    """The API, whose OpenAPI document also describes the error answers every operation
    can give (one JSON shape, from the handlers below), so clients and the schemathesis
    run in the suite can hold the API to it."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_BODY
        error = {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                for status, description in ERROR_RESPONSES.items():
                    operation["responses"].setdefault(status, {"description": description, **error})
        return schema


api = ModelyardAPI(
    title="modelyard",
    version="1",
    description="Registry of models, data sets and feature sets. Authenticate with "
    "`Authorization: Bearer <token>` (create one with `modelyard token create`).",
    urls_namespace="api-v1",
    auth=DEFAULT_AUTH,
    openapi_url="/openapi.json",
    docs_url="/docs",
    parser=StrictParser(),
)
api.add_router("", accounts_router)
api.add_router("/audit", audit_router)
api.add_router("/versions", versions_router)
api.add_router("/stores", stores_router)
api.add_router("/lifecycle", lifecycle_router)
api.add_router("/models", deployment_router)
api.add_router("", jobs_router)
api.add_router("/features", features_router)
api.add_router("", monitoring_router)
for _kind, _plural in PLURAL.items():
    api.add_router(f"/{_plural}", build_kind_router(_kind))


def error_response(request: HttpRequest, status: int, message: str, **extra: Any) -> HttpResponse:
    return api.create_response(request, {"message": message, **extra}, status=status)


@api.exception_handler(ModelyardError)
def on_modelyard_error(request: HttpRequest, error: ModelyardError) -> HttpResponse:
    if isinstance(error, Forbidden) and not error.audited:
        record_denied(request.user, "call the API", team=None, reason=error.message)
    return error_response(request, error.status, error.message, **error.details)


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, error: ValidationError) -> HttpResponse:
    problems = [
        {"field": ".".join(str(part) for part in item.get("loc", ())), "message": item["msg"]}
        for item in error.errors
    ]
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return error_response(request, 422, f"Invalid request: {summary}", errors=problems)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    # ninja wraps every body-parsing failure in "Cannot parse request body"; say why.
    cause = error.__cause__
    if isinstance(cause, ModelyardError):
        return on_modelyard_error(request, cause)
    if isinstance(cause, json.JSONDecodeError):
        return error_response(
            request,
            400,
            f"The request body is not valid JSON: {cause.msg} at line "
            f"{cause.lineno}, column {cause.colno}.",
        )
    return error_response(request, error.status_code, str(error))


@api.exception_handler(RequestDataTooBig)
def on_body_too_big(request: HttpRequest, error: RequestDataTooBig) -> HttpResponse:
    return error_response(
        request,
        413,
        f"The request's non-file data is over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} "
        "bytes; send large content as uploaded files.",
    )


@api.exception_handler(TooManyFilesSent)
def on_too_many_files(request: HttpRequest, error: TooManyFilesSent) -> HttpResponse:
    return error_response(
        request,
        400,
        f"More than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files in one upload; "
        "register the directory in parts, or upload it to the store and register its URI.",
    )


# A caller who sent a token must hear that the token is the problem, not that none was sent.
_SENT_BUT_REFUSED = (
    "The API token sent is not valid: it is unknown, expired or revoked, or its user was "
    "deactivated. Sign in again with `modelyard login URL` using a new token (from "
    "`modelyard token create USERNAME` on the server's machine)."
)
_NOTHING_SENT = (
    "Not signed in: send `Authorization: Bearer <token>`; sign the CLI in with "
    "`modelyard login URL`, or create a token with `modelyard token create USERNAME`."
)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, error: AuthenticationError) -> HttpResponse:
    header = challenge(request)
    response = error_response(
        request, 401, _SENT_BUT_REFUSED if "invalid_token" in header else _NOTHING_SENT
    )
    response["WWW-Authenticate"] = header
    return response


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, error: Http404) -> HttpResponse:
    return error_response(request, 404, str(error) or "Not found.")


@api.exception_handler(storage.StorageError)
def on_storage_error(request: HttpRequest, error: storage.StorageError) -> HttpResponse:
    return on_modelyard_error(request, from_storage(error))
