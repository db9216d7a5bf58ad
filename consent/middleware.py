from __future__ import annotations

from collections.abc import Callable

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from consent.selectors import pending_policies

EXEMPT_PREFIXES = (
    "/legal/",
    "/accounts/",
    "/static/",
    "/api/",
    "/webhooks/",
    "/pay/",
    "/optout/",
    "/healthz/",
    "/i18n/",
    "/cookies/",
)


class PolicyAcceptanceMiddleware:
    """After a material change to the privacy policy or terms, a signed-in user is
    asked to accept the new version before going on (once)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and request.method == "GET"
            and not request.path.startswith(EXEMPT_PREFIXES)
        ):
            key = f"policy-accepted:{user.pk}:{cache.get('policy-generation', 0)}"
            if not cache.get(key):
                if pending_policies(user):
                    return redirect(reverse("policy_accept") + f"?next={request.get_full_path()}")
                cache.set(key, True, 60)
        return self.get_response(request)
