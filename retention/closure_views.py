"""The closure pages under /w/<slug>/closure/ (an owner only: ``workspace.close``).

They stay open to an owner after the closure (``open_when_closed``; every other page
of a closed workspace answers 410, accounts.middleware): to download the export and,
during the grace period, to cancel. Views parse, call one service, render."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.context_processors import shell
from accounts.models import Membership, Workspace
from accounts.types import request_user
from kernel.tenancy.decorators import workspace_view
from retention import closure
from retention.closure_forms import WorkspaceCloseForm

EXPORT_PENDING_REFRESH_SECONDS = 5


def open_when_closed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view that an owner still reaches in a closed workspace."""
    view.open_when_closed = True  # type: ignore[attr-defined]
    return view


def _page(request: HttpRequest, workspace: Workspace, form: WorkspaceCloseForm, status: int = 200) -> HttpResponse:
    state = closure.closure_state(workspace=workspace)
    context: dict[str, Any] = {"state": state, "form": form, "reasons": closure.CLOSURE_REASONS}
    if state.closed:
        # The workspace's menu would lead to pages that answer 410: leave it out.
        context["shell"] = {**shell(request)["shell"], "workspace": None}
    response = render(request, "retention/closure_page.html", context, status=status)
    if state.export_pending and state.export is None:
        response["Refresh"] = str(EXPORT_PENDING_REFRESH_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@open_when_closed
@require_GET
@workspace_view(closure.CLOSE_PERMISSION)
def workspace_closure(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    return _page(request, workspace, WorkspaceCloseForm())


def _form_errors(form: WorkspaceCloseForm, exc: ValidationError) -> None:
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


@open_when_closed
@require_POST
@workspace_view(closure.CLOSE_PERMISSION)
def workspace_closure_close(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    form = WorkspaceCloseForm(request.POST)
    if form.is_valid():
        try:
            closure.workspace_close(
                workspace=workspace,
                actor=request_user(request),
                confirm_slug=form.cleaned_data["confirm_slug"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            _form_errors(form, exc)
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        else:
            messages.success(request, "The workspace is closed. Its export is being prepared.")
            return redirect("workspace_closure", workspace_slug=workspace.slug)
    return _page(request, workspace, form, status=400)


@open_when_closed
@require_POST
@workspace_view(closure.CLOSE_PERMISSION)
def workspace_closure_cancel(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    try:
        closure.workspace_closure_cancel(workspace=workspace, actor=request_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("workspace_closure", workspace_slug=workspace.slug)
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(
        request, "The closure is cancelled: the workspace works again. Create new API keys if you need them."
    )
    return redirect("workspace_settings", workspace_slug=workspace.slug)


@open_when_closed
@require_POST
@workspace_view(closure.CLOSE_PERMISSION)
def workspace_closure_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    try:
        queued = closure.workspace_export_requested(workspace=workspace, actor=request_user(request))
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from exc
    if queued:
        messages.success(request, "A new export is being prepared.")
    elif workspace.is_closed:
        messages.info(request, "An export is already being prepared.")
    else:
        messages.error(request, "Only a closed workspace is exported.")
    return redirect("workspace_closure", workspace_slug=workspace.slug)


@open_when_closed
@require_GET
@workspace_view(closure.CLOSE_PERMISSION)
def workspace_closure_download(
    request: HttpRequest, workspace: Workspace, membership: Membership
) -> StreamingHttpResponse:
    try:
        download = closure.workspace_export_download(workspace=workspace, actor=request_user(request))
    except LookupError as exc:
        raise Http404("There is no export to download.") from exc
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from exc
    response = StreamingHttpResponse(download.chunks, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    response["Cache-Control"] = "no-store"
    return response
