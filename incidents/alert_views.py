"""The security alerts under /w/<slug>/incidents/alerts/: the list (open, dismissed,
turned into incidents), one alert with its evidence, dismissing it with a reason,
turning it into an incident, and the workspace's thresholds. Everyone with
``incidents.view`` reads (auditors included); ``incidents.manage`` acts.
Views parse, call one selector or service, render."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Membership, Workspace
from accounts.roles import can
from accounts.types import request_user
from incidents.alert_forms import STATUS_CHOICES, DismissForm, ThresholdsForm
from incidents.alert_handling import alert_dismiss, alert_thresholds_save, alert_to_incident, evidence_lines
from incidents.alert_selectors import STATUS_FILTERS, alert_counts, alert_get, alert_row, alerts_page
from incidents.models import AlertStatus, SecurityAlert
from incidents.register_views import form_errors_from
from incidents.services import thresholds_for
from kernel.tenancy.decorators import workspace_view


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


@workspace_view("incidents.view")
def alerts(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """The alerts in one status (open by default), the newest first, with their evidence."""
    status = request.GET.get("status", "open")
    status = status if status in STATUS_FILTERS else "open"
    page = _page_number(request)
    rows, has_more = alerts_page(workspace=workspace, status=status, page=page)
    counts = alert_counts(workspace=workspace)
    return render(
        request,
        "incidents/alerts.html",
        {
            "rows": [(row, evidence_lines(row.alert.evidence)) for row in rows],
            "status": status,
            "statuses": [(value, label, counts[value]) for value, label in STATUS_CHOICES],
            "page": page,
            "has_more": has_more,
            "can_manage": can(membership, "incidents.manage"),
            "section": "alerts",
        },
    )


def _alert_page(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    alert: SecurityAlert,
    *,
    dismiss_form: DismissForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context: dict[str, Any] = {
        "row": alert_row(workspace=workspace, alert=alert),
        "evidence": evidence_lines(alert.evidence),
        "dismiss_form": dismiss_form or DismissForm(),
        "can_manage": can(membership, "incidents.manage"),
        "section": "alerts",
    }
    return render(request, "incidents/alert_detail.html", context, status=status)


@workspace_view("incidents.view")
def alert_detail(
    request: HttpRequest, workspace: Workspace, membership: Membership, alert_id: uuid.UUID
) -> HttpResponse:
    return _alert_page(request, workspace, membership, alert_get(workspace=workspace, alert_id=alert_id))


@require_POST
@workspace_view("incidents.manage")
def alert_dismiss_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, alert_id: uuid.UUID
) -> HttpResponse:
    """Dismiss the alert with the reason given (required)."""
    alert = alert_get(workspace=workspace, alert_id=alert_id)
    form = DismissForm(request.POST)
    if form.is_valid():
        try:
            alert_dismiss(alert=alert, reason=form.cleaned_data["reason"], actor=request_user(request))
        except ValidationError as exc:
            form_errors_from(form, exc)
            if alert.status != AlertStatus.OPEN:  # no dismiss form on the page to show it next to
                messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "The alert is dismissed; your reason is kept with it.")
            return redirect("incidents:alerts", workspace_slug=workspace.slug)
    return _alert_page(request, workspace, membership, alert, dismiss_form=form, status=400)


@require_POST
@workspace_view("incidents.manage")
def alert_incident_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, alert_id: uuid.UUID
) -> HttpResponse:
    """Turn the alert into a suspected incident with its evidence; go to the incident."""
    alert = alert_get(workspace=workspace, alert_id=alert_id)
    try:
        incident = alert_to_incident(alert=alert, actor=request_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return _alert_page(request, workspace, membership, alert, status=400)
    messages.success(request, f"Incident {incident.reference} recorded from the alert; its clocks are running.")
    return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)


@workspace_view("incidents.view", write_perm="incidents.manage")
def alert_settings(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """The workspace's alert thresholds; read-only without ``incidents.manage``."""
    thresholds = thresholds_for(workspace)
    form = ThresholdsForm(
        request.POST if request.method == "POST" else None, initial=ThresholdsForm.initial_for(thresholds)
    )
    if request.method == "POST" and form.is_valid():
        try:
            alert_thresholds_save(workspace=workspace, values=form.cleaned_data, actor=request_user(request))
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "The alert thresholds are saved.")
            return redirect("incidents:alert_settings", workspace_slug=workspace.slug)
    return render(
        request,
        "incidents/alert_settings.html",
        {
            "form": form,
            "thresholds": thresholds,
            "can_edit": can(membership, "incidents.manage"),
            "section": "alerts",
        },
        status=400 if request.method == "POST" else 200,
    )
