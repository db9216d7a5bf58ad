"""The notices' actions on the incident page (its "Telling people" section,
templates/incidents/_notices.html): start or resume the notices to the people affected,
their live progress (JSON, or the progress fragment for htmx), and the email to a
client. A refused action comes back to the page with the reason."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Membership, Workspace
from accounts.types import request_user
from incidents import selectors
from incidents.client_notices import client_notice_send
from incidents.notices import incident_notices_start, notices_progress
from kernel.tenancy.decorators import workspace_view

_REASON = forms.CharField(
    required=False,
    max_length=2000,
    widget=forms.Textarea(attrs={"rows": 2}),
    label="Reasons for the delay (required once the deadline has passed)",
)


class NoticeStartForm(forms.Form):
    late_reason = _REASON


class ClientNoticeForm(forms.Form):
    extra_recipients = forms.CharField(
        required=False,
        max_length=1000,
        label="Also send to (the contract's security contact; emails separated by commas)",
    )
    late_reason = _REASON

    def addresses(self) -> list[str]:
        return [a for a in re.split(r"[,;\s]+", self.cleaned_data.get("extra_recipients") or "") if a]


def _errors(exc: ValidationError) -> str:
    return " ".join(str(m) for m in exc.messages)


def _back(workspace: Workspace, reference: str) -> HttpResponse:
    response = redirect("incidents:incident", workspace_slug=workspace.slug, reference=reference)
    response["Location"] += "#notices"
    return response


@require_POST
@workspace_view("incidents.manage")
def notices_start(request: HttpRequest, workspace: Workspace, membership: Membership, reference: str) -> HttpResponse:
    """Start (or resume) the notices to the people affected."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    form = NoticeStartForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The reasons for the delay are too long.")
        return _back(workspace, reference)
    try:
        pending = incident_notices_start(
            incident=incident, actor=request_user(request), late_reason=form.cleaned_data["late_reason"]
        )
    except ValidationError as exc:
        messages.error(request, f"Notices not started: {_errors(exc)}")
    else:
        messages.success(request, f"Notices are being sent: {pending} people to tell. Progress below.")
    return _back(workspace, reference)


@require_GET
@workspace_view("incidents.view")
def notices_progress_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str
) -> HttpResponse:
    """Where the notices stand: JSON, or the progress fragment when htmx asks."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    progress = notices_progress(incident=incident)
    if request.headers.get("HX-Request"):
        return render(request, "incidents/notice_progress.html", {"incident": incident, "progress": progress})
    return JsonResponse(progress.as_json())


@require_POST
@workspace_view("incidents.manage")
def client_notice(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str, duty_id: uuid.UUID
) -> HttpResponse:
    """Email one client about the incident (once), which records its duty done."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    duty = selectors.duty_get(incident=incident, duty_id=duty_id)
    form = ClientNoticeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Check the addresses and the reasons: " + form.errors.as_text())
        return _back(workspace, reference)
    try:
        duty = client_notice_send(
            duty=duty,
            actor=request_user(request),
            extra_recipients=form.addresses(),
            late_reason=form.cleaned_data["late_reason"],
        )
    except ValidationError as exc:
        messages.error(request, f"Not sent: {_errors(exc)}")
    else:
        messages.success(request, f"{duty.label}: told by email; the duty is recorded as done.")
    return _back(workspace, reference)
