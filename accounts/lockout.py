"""django-axes glue: which username a login attempt is for, and the lockout page."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str:
    """allauth authenticates with ``email=`` (or ``username=``); its form posts ``login``."""
    for key in ("email", "username", "login"):
        if credentials and credentials.get(key):
            return str(credentials[key]).strip().lower()
    if request is not None and request.method == "POST":
        return str(request.POST.get("login", "")).strip().lower()
    return ""


def lockout_response(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    return render(
        request,
        "accounts/locked_out.html",
        {"minutes": 30},
        status=429,
    )
