"""Every error the API can raise, rendered as {"error": {"code", "message", "fields"}}."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from arpilot.errors import ApplicationError

logger = logging.getLogger(__name__)

CODES = {
    400: "validation_error",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "throttled",
}


def flatten_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into {"contacts.0.email": ["…"]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if key == "non_field_errors" and prefix:
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            fields.update(flatten_errors(value, name))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            if detail:
                fields[prefix or "non_field_errors"] = [str(item) for item in detail]
        else:
            for index, item in enumerate(detail):
                if item:
                    fields.update(
                        flatten_errors(item, f"{prefix}.{index}" if prefix else str(index))
                    )
    else:
        fields[prefix or "non_field_errors"] = [str(detail)]
    return fields


def _printable(value):
    """``value`` with NUL characters shown as U+FFFD: an error may quote the input, and a NUL
    can be neither stored for an idempotent replay (PostgreSQL's jsonb refuses it) nor read."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_printable(key): _printable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(item) for item in value]
    return value


def error_body(status_code: int, message: str, fields: dict | None = None, **extra) -> dict:
    error = {"code": CODES.get(status_code, "error"), "message": _printable(message)}
    if fields:
        error["fields"] = _printable(fields)
    error.update(_printable(extra))
    return {"error": error}


def _validation_message(fields: dict[str, list[str]]) -> str:
    if not fields:
        return "Invalid input."
    name, messages = next(iter(fields.items()))
    if name == "non_field_errors":
        return messages[0]
    return f"Invalid input: {name}: {messages[0]}"


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        set_rollback()
        body = error_body(exc.status_code, exc.message, exc.fields or None, **exc.extra)
        body["error"]["code"] = exc.code
        return Response(body, status=exc.status_code)
    if isinstance(exc, Http404 | ObjectDoesNotExist):
        # A row of the caller's organization looked up by id vanished (or never was).
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    if not isinstance(exc, exceptions.APIException):
        return None

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    code = exc.status_code
    if isinstance(exc, exceptions.ValidationError):
        fields = flatten_errors(exc.detail)
        body = error_body(status.HTTP_400_BAD_REQUEST, _validation_message(fields), fields)
        return Response(body, status=status.HTTP_400_BAD_REQUEST, headers=headers)
    if isinstance(exc, exceptions.ParseError):
        body = error_body(400, f"Malformed request body: {exc.detail}")
        return Response(body, status=400, headers=headers)
    return Response(error_body(code, str(exc.detail)), status=code, headers=headers)
