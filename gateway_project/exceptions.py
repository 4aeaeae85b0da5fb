"""One error vocabulary for the admin plane: `{"error": message}` plus `fields` for validation.

DRF views answer through `api_exception_handler`; anything Django itself answers (unknown URL,
a body over DATA_UPLOAD_MAX_MEMORY_SIZE, a server error) goes through the `handler*` views below,
which urls.py installs: every error of the gateway is JSON, never an HTML page."""

from __future__ import annotations

import sys
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.http import Http404, HttpRequest, JsonResponse
from django.utils.log import log_response
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from gateway_project.parsers import RequestBodyTooLarge, TooDeeplyNested
from gateway_project.request_body import TIMED_OUT_MESSAGE, BodyReadTimeout


class Conflict(exceptions.APIException):
    """The write conflicts with existing state (duplicate subdomain, object still in use)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "conflict"
    default_code = "conflict"


class RequestBodyTimedOut(exceptions.APIException):
    """The request body did not arrive within BODY_READ_TIMEOUT: the client's fault, not ours."""

    status_code = status.HTTP_408_REQUEST_TIMEOUT
    default_detail = TIMED_OUT_MESSAGE
    default_code = "request_timeout"


UNIQUE_VIOLATION_SQLSTATE = "23505"  # PostgreSQL
SQLITE_UNIQUE_VIOLATION = "UNIQUE constraint failed"


def is_unique_violation(exc: IntegrityError) -> bool:
    """Whether the database refused a write for a duplicate value (not a missing reference)."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) == UNIQUE_VIOLATION_SQLSTATE or str(exc).startswith(
        SQLITE_UNIQUE_VIOLATION
    )


def _first_message(detail: Any) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            return f"{key}: {_first_message(value)}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def api_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, re-shaped to `{"error": ..., "fields": ...}`; a duplicate the database
    refused (a check in a serializer raced by a concurrent write) is a 409."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, RequestDataTooBig):
        exc = RequestBodyTooLarge()
    elif isinstance(exc, BodyReadTimeout):
        exc = RequestBodyTimedOut()
    elif isinstance(exc, IntegrityError) and is_unique_violation(exc):  # a concurrent write won
        exc = Conflict("conflicts with an existing object")
    if isinstance(exc, exceptions.ParseError) and not isinstance(exc, TooDeeplyNested):
        exc = exceptions.ParseError("invalid JSON payload")
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        response.data = {
            "error": f"invalid request: {_first_message(exc.detail)}",
            "fields": exc.detail,
        }
    else:
        response.data = {"error": str(exc.detail) if hasattr(exc, "detail") else str(exc)}
    set_rollback()
    return response


def error_page(status_code: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status_code)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    """handler400; Django also routes a body over DATA_UPLOAD_MAX_MEMORY_SIZE here: 413."""
    if isinstance(exception, RequestDataTooBig):
        return error_page(413, RequestBodyTooLarge.default_detail)
    return error_page(400, "bad request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_page(403, "permission denied")


def not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return error_page(404, "Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    """handler500; a body that did not arrive in time, read outside DRF (a form, the CSRF
    check), is the client's 408: logged as a 408, without a traceback (Django logs a response
    once)."""
    if isinstance(sys.exception(), BodyReadTimeout):
        response = error_page(408, TIMED_OUT_MESSAGE)
        log_response(
            "%s: %s", response.reason_phrase, request.path, response=response, request=request
        )
        return response
    return error_page(500, "internal server error")
