"""Public pages: policies with history, cookie table and banner, sub-processors,
policy re-acceptance after a material change."""

from __future__ import annotations

import secrets

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.types import request_user
from consent.cookies import ANALYTICS_COOKIE, CONSENT_COOKIE, cookie_registry
from consent.models import PolicyKind, PolicyVersion, SubProcessor
from consent.selectors import pending_policies, policy_current
from consent.services import policies_accept, visitor_consent_record

YEAR = 365 * 24 * 3600


def policy_page(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in PolicyKind.values:
        raise Http404("No such policy")
    current = policy_current(kind)
    history = PolicyVersion.objects.filter(kind=kind).order_by("-effective_at")
    return render(
        request, "consent/policy.html", {"kind": PolicyKind(kind).label, "current": current, "history": history}
    )


def cookies_page(request: HttpRequest) -> HttpResponse:
    return render(request, "consent/cookies.html", {"cookies": cookie_registry()})


def sub_processors_page(request: HttpRequest) -> HttpResponse:
    return render(request, "consent/sub_processors.html", {"rows": SubProcessor.objects.all()})


@require_POST
def cookie_choice(request: HttpRequest) -> HttpResponse:
    """Store the visitor's choice as a consent record; set the analytics cookie only
    after consent, and remove it on refusal."""
    analytics = request.POST.get("analytics") == "yes"
    visitor = request.COOKIES.get(CONSENT_COOKIE, "").split(":")[0] or secrets.token_hex(16)
    visitor_consent_record(visitor_id=visitor, analytics=analytics)
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = "/"
    response = redirect(target)
    secure = request.is_secure()
    response.set_cookie(
        CONSENT_COOKIE,
        f"{visitor}:{'analytics' if analytics else 'necessary'}",
        max_age=YEAR,
        httponly=True,
        samesite="Lax",
        secure=secure,
    )
    if analytics:
        response.set_cookie(
            ANALYTICS_COOKIE,
            secrets.token_hex(8),
            max_age=395 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
    else:
        response.delete_cookie(ANALYTICS_COOKIE)
    return response


def policy_accept(request: HttpRequest) -> HttpResponse:
    """Shown after sign-in when a material change awaits the user's acceptance."""
    if not request.user.is_authenticated:
        return redirect("account_login")
    pending = pending_policies(request.user)
    if request.method == "POST":
        policies_accept(user=request_user(request), policies=pending)
        target = request.POST.get("next") or ""
        return redirect(
            target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else "home"
        )
    return render(request, "consent/accept.html", {"pending": pending, "next": request.GET.get("next", "/")})
