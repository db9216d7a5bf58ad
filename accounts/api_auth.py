"""REST API authentication: ``Authorization: Bearer <key>``, per-key throttling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling
from rest_framework.request import Request

from accounts.models import ApiKey
from accounts.services import api_key_touch
from kernel.middleware import client_ip

# Told of every authenticated API call: ``listener(api_key=, ip=)`` (ip may be None).
# Higher apps register in their AppConfig.ready(); incidents watches for a key used
# from a network it has never used (incidents/alert_hooks.py).
ApiKeyUseListener = Callable[..., None]
_use_listeners: list[ApiKeyUseListener] = []


def register_api_key_use_listener(listener: ApiKeyUseListener) -> None:
    if listener not in _use_listeners:
        _use_listeners.append(listener)


class ApiKeyPrincipal:
    """What ``request.user`` is for an API call: the key, not a person."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    pk = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return f"api-key:{self.api_key.prefix}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """The tenancy middleware resolves the key (it must choose the workspace before
    the view runs); this class turns its verdict into DRF's 401s."""

    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiKey] | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return None
        scheme, _sep, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise exceptions.AuthenticationFailed(_("Use 'Authorization: Bearer <api key>'."))
        api_key = getattr(request._request, "api_key", None)
        if api_key is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked API key."))
        api_key_touch(api_key=api_key)
        ip = client_ip(request._request)
        for listener in _use_listeners:
            listener(api_key=api_key, ip=ip)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class HasWorkspaceApiKey(permissions.BasePermission):
    message = _("Authentication with an API key is required.")

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ApiKey) and request.auth.revoked_at is None


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Each key has its own budget (API_KEY_RATE, default 600/min)."""

    scope = "api_key"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": str(request.auth.pk)}


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.api_auth.ApiKeyAuthentication"
    name = "BearerApiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A workspace API key (cp_…)."}
