from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse

from accounts.models import Membership, Workspace
from accounts.selectors import api_key_by_secret, closed_workspace_of_key, membership_for, workspace_get_by_slug
from accounts.services import sha256_hex
from kernel.context import update_request_info
from kernel.tenancy.context import db_scope, workspace_context

WORKSPACE_KWARG = "workspace_slug"


def _bearer_secret(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        return None
    return secret.strip()


def closed_message(workspace: Workspace) -> str:
    """What a closed workspace answers, with its dates in its own time zone."""
    zone = zoneinfo.ZoneInfo(workspace.timezone)

    def day(moment: datetime | None) -> str:
        local = moment.astimezone(zone) if moment else None
        return f"{local.day} {local:%B %Y}" if local else "(unknown)"

    if workspace.purged_at is not None:
        return f"This workspace was closed on {day(workspace.closed_at)}; its data was purged on {day(workspace.purged_at)}."
    return f"This workspace was closed on {day(workspace.closed_at)}; its data will be purged on {day(workspace.purge_after)}."


def _closed_api(workspace: Workspace) -> HttpResponse:
    """410 in the API's error format (kernel.api.errors)."""
    return JsonResponse({"error": {"code": "workspace_closed", "message": closed_message(workspace)}}, status=410)


def _open_when_closed(request: HttpRequest, membership: Membership) -> bool:
    """The closure pages (views marked ``open_when_closed``) stay open to an owner, who
    downloads the export and may cancel the closure there."""
    view = resolve(request.path_info).func
    return bool(getattr(view, "open_when_closed", False)) and membership.can("workspace.close")


def _user_has_mfa(user: object) -> bool:
    from allauth.mfa.models import Authenticator

    return Authenticator.objects.filter(user=user).exists()


class TenancyMiddleware:
    """Decide the tenant of each request and run the rest of it inside that tenant.

    * ``/w/<slug>/…`` (browser): the workspace comes from the URL; the user must be
      a member, else 404 (never 403, which would confirm the workspace exists).
      If the workspace requires MFA and the user has none, they are sent to set it up.
    * ``Authorization: Bearer <key>`` (API): the workspace comes from the key.
    * A closed workspace (retention/closure.py) answers 410 at once: an HTML page for
      its members (owners still reach the closure pages), the API's JSON error
      ``workspace_closed`` for its keys, revoked at the closure or not.
    * anything else: no workspace; on PostgreSQL the transaction still carries the
      user id so the user can list their own memberships.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        user_id = user.pk if user is not None and user.is_authenticated else None
        if user_id is not None:
            update_request_info(actor_user_id=user_id)
        request.workspace = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.api_key = None  # type: ignore[attr-defined]

        secret = _bearer_secret(request) if request.path.startswith("/api/") else None
        if secret is not None:
            with db_scope(api_key_hash=sha256_hex(secret)):
                api_key = api_key_by_secret(secret=secret)
                closed = closed_workspace_of_key(secret=secret) if api_key is None else None
            if closed is not None:
                return _closed_api(closed)
            if api_key is None:
                # DRF's authentication answers 401 in its documented error format.
                return self.get_response(request)
            if api_key.workspace.is_closed:
                return _closed_api(api_key.workspace)
            request.api_key = api_key  # type: ignore[attr-defined]
            request.workspace = api_key.workspace  # type: ignore[attr-defined]
            update_request_info(actor_api_key_id=str(api_key.pk), source="api")
            with workspace_context(api_key.workspace):
                return self.get_response(request)

        if request.path.startswith("/admin/") and user_id is not None and request.user.is_staff:
            return self._admin_request(request, user_id)
        slug = self._workspace_slug(request)
        if slug is None:
            with db_scope(user_id=user_id):
                return self.get_response(request)
        return self._workspace_request(request, slug, user_id)

    def _admin_request(self, request: HttpRequest, user_id: int) -> HttpResponse:
        ws_id = request.session.get("admin_workspace_id")
        workspace = Workspace.objects.filter(pk=ws_id).first() if ws_id else None
        if workspace is None:
            with db_scope(user_id=user_id):
                return self.get_response(request)
        with workspace_context(workspace, user_id=user_id):
            return self.get_response(request)

    def _workspace_slug(self, request: HttpRequest) -> str | None:
        if not request.path.startswith("/w/"):
            return None
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return None
        return match.kwargs.get(WORKSPACE_KWARG)

    def _workspace_request(self, request: HttpRequest, slug: str, user_id: int | None) -> HttpResponse:
        if user_id is None:
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        workspace = workspace_get_by_slug(slug=slug)
        with workspace_context(workspace, user_id=user_id):
            membership = membership_for(workspace=workspace, user=request.user)  # type: ignore[arg-type]
            if membership is None:
                raise Http404("No such workspace")
            if workspace.is_closed and not _open_when_closed(request, membership):
                context = {
                    "closed_workspace": workspace,
                    "message": closed_message(workspace),
                    "is_owner": membership.can("workspace.close") and workspace.purged_at is None,
                }
                return render(request, "retention/closure_gone.html", context, status=410)
            request.workspace = workspace  # type: ignore[attr-defined]
            request.membership = membership  # type: ignore[attr-defined]
            if workspace.require_mfa and not _user_has_mfa(request.user):
                return redirect(reverse("mfa_required", args=[workspace.slug]))
            return self.get_response(request)
