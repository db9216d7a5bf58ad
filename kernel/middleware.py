from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from kernel.context import RequestInfo, reset_request_info, set_request_info

_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind ``TRUSTED_PROXY_COUNT`` reverse proxies, the
    address that many hops from the right of X-Forwarded-For (the proxies append);
    otherwise REMOTE_ADDR. Never trusts more hops than configured."""
    hops = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    candidate = request.META.get("REMOTE_ADDR") or None
    if hops:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(forwarded) >= hops:
            candidate = forwarded[-hops]
    try:
        return str(ipaddress.ip_address(candidate)) if candidate else None
    except ValueError:
        return None


class RequestContextMiddleware:
    """Give every request an id (or keep a sane incoming X-Request-ID) and record
    the client address and user agent for the audit trail."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        source = "api" if request.path.startswith("/api/") else "web"
        ip = client_ip(request)
        if ip and settings.TRUSTED_PROXY_COUNT:
            request.META["REMOTE_ADDR"] = ip  # so django-axes and rate limits see the client too
        token = set_request_info(
            RequestInfo(
                request_id=request_id,
                ip=ip,
                user_agent=request.headers.get("User-Agent", "")[:400],
                source=source,
            )
        )
        try:
            response = self.get_response(request)
        finally:
            reset_request_info(token)
        response["X-Request-ID"] = request_id
        return response
