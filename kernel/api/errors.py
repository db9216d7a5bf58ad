"""One documented error format for the whole API:

{"error": {"code": "invalid", "message": "Some fields are invalid.",
           "fields": {"amount": ["Ensure ..."]}}}

``code`` is DRF's code for the exception (``invalid``, ``not_authenticated``,
``permission_denied``, ``not_found``, ``throttled``…); field errors always come
with ``fields``. Contact refusals (409) add ``reasons``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

# Told of every 404 the API answers: ``listener(request=)`` (DRF's request). Higher apps
# register in their AppConfig.ready(); incidents counts them per API key, since many
# from one key probe for other workspaces' ids (incidents/alert_hooks.py).
NotFoundListener = Callable[..., None]
_not_found_listeners: list[NotFoundListener] = []


def register_not_found_listener(listener: NotFoundListener) -> None:
    if listener not in _not_found_listeners:
        _not_found_listeners.append(listener)


def _as_drf(exc: Exception) -> Exception:
    if isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            return exceptions.ValidationError(exc.message_dict)
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    if isinstance(exc, PermissionError | DjangoPermissionDenied):
        return exceptions.PermissionDenied(str(exc) or None)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = _as_drf(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "default_code", "error")
    body: dict[str, Any] = {"code": code}
    if isinstance(exc, exceptions.ValidationError):
        body["message"] = "Some fields are invalid."
        detail = response.data
        body["fields"] = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        body["message"] = str(detail)
    response.data = {"error": body}
    if response.status_code == status.HTTP_404_NOT_FOUND and context.get("request") is not None:
        for listener in _not_found_listeners:
            listener(request=context["request"])
    return response
