"""The actions of a duty's card on the incident page: the decision whether to notify
the party (with its reason), and "filed / sent" with the filing reference and, after
the deadline, the reasons for the delay."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from accounts.models import Membership, Workspace
from accounts.types import request_user
from incidents import selectors
from incidents.forms import DecisionForm, DoneForm
from incidents.incident_views import incident_page
from incidents.models import Decision
from incidents.register_views import form_errors_from
from incidents.services import duty_decide, duty_done
from kernel.tenancy.decorators import workspace_view


def _auto_id(duty_id: uuid.UUID) -> str:
    return f"duty-{duty_id}-%s"


@require_POST
@workspace_view("incidents.manage")
def duty_decision(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str, duty_id: uuid.UUID
) -> HttpResponse:
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    duty = selectors.duty_get(incident=incident, duty_id=duty_id)
    form = DecisionForm(request.POST, auto_id=_auto_id(duty.pk))
    if form.is_valid():
        try:
            duty = duty_decide(
                duty=duty,
                decision=form.cleaned_data["decision"],
                reason=form.cleaned_data["reason"],
                actor=request_user(request),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            said = "to be notified" if duty.decision == Decision.NOTIFY else "not required"
            messages.success(request, f"{duty.label}: recorded as {said}.")
            return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)
    return incident_page(
        request, workspace, membership, incident, status=400, duty_forms={duty.pk: {"decision_form": form}}
    )


@require_POST
@workspace_view("incidents.manage")
def duty_filed(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str, duty_id: uuid.UUID
) -> HttpResponse:
    """Record the filing or the sending; after the deadline the reasons are required."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    duty = selectors.duty_get(incident=incident, duty_id=duty_id)
    form = DoneForm(request.POST, auto_id=_auto_id(duty.pk), workspace=workspace, earliest=duty.starts_at)
    if form.is_valid():
        try:
            duty = duty_done(
                duty=duty,
                filing_reference=form.cleaned_data["filing_reference"],
                late_reason=form.cleaned_data["late_reason"],
                now=form.cleaned_data.get("done_at"),
                actor=request_user(request),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"{duty.label}: recorded as done.")
            return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)
    return incident_page(
        request, workspace, membership, incident, status=400, duty_forms={duty.pk: {"done_form": form}}
    )
