"""The incident page under /w/<slug>/incidents/<reference>/: its facts, status, phased
updates, history and one card per duty with its countdown; the edit form and the
status and update actions. The duty cards' actions are in ``duty_views``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.jurisdictions import profile_for
from accounts.models import Membership, Workspace
from accounts.roles import can
from accounts.types import request_user
from incidents import selectors
from incidents.clocks import ClockState
from incidents.forms import DecisionForm, DoneForm, IncidentForm, PhaseForm, TransitionForm
from incidents.models import Decision, Incident, IncidentStatus
from incidents.register_views import form_errors_from
from incidents.services import SUBJECT_KINDS, incident_edit, incident_phase_add, incident_transition
from kernel.privacy.registry import Category
from kernel.tenancy.decorators import workspace_view

# Sections other parts of the register draw on the incident page (the affected-people
# finder, the notices, the authority reports), included when their template exists.
SECTION_TEMPLATES = ("incidents/_finder.html", "incidents/_notices.html", "incidents/_reports.html")


def page_sections() -> list[str]:
    found = []
    for name in SECTION_TEMPLATES:
        try:
            get_template(name)
        except TemplateDoesNotExist:
            continue
        found.append(name)
    return found


def _hours(delta: timedelta) -> int:
    return round(delta.total_seconds() / 3600)


def duty_card(
    clock: ClockState,
    workspace: Workspace,
    *,
    decision_form: DecisionForm | None = None,
    done_form: DoneForm | None = None,
) -> dict[str, Any]:
    """What one duty's card shows: its clock, how its deadline was set, its forms."""
    duty = clock.duty
    auto_id = f"duty-{duty.pk}-%s"
    return {
        "clock": clock,
        "duty": duty,
        "hours": _hours(clock.deadline - duty.starts_at) if clock.deadline else None,
        "open": duty.done_at is None,
        "decision_form": decision_form
        or DecisionForm(
            auto_id=auto_id,
            initial={"decision": duty.decision if duty.decision != Decision.PENDING else None},
        ),
        "done_form": done_form or DoneForm(auto_id=auto_id, workspace=workspace),
    }


def incident_page(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    incident: Incident,
    *,
    status: int = 200,
    transition_form: TransitionForm | None = None,
    phase_form: PhaseForm | None = None,
    duty_forms: dict[Any, dict[str, Any]] | None = None,
) -> HttpResponse:
    """Render the incident page (with a failed form bound, after a refused action)."""
    now = timezone.now()
    clocks = selectors.incident_clocks(incident=incident, now=now)
    duty_forms = duty_forms or {}
    categories = dict(Category.choices)
    return render(
        request,
        "incidents/incident_detail.html",
        {
            "incident": incident,
            "now": now,
            "cards": [duty_card(c, workspace, **duty_forms.get(c.duty.pk, {})) for c in clocks],
            "next": selectors.next_clock(clocks),
            "history": selectors.incident_history(incident=incident),
            "categories": [categories.get(c, c) for c in incident.data_categories],
            "subject_kinds": [SUBJECT_KINDS.get(k, k) for k in incident.subject_kinds],
            "can_manage": can(membership, "incidents.manage"),
            "transition_form": transition_form or TransitionForm(incident=incident),
            "phase_form": phase_form or PhaseForm(),
            "sections": page_sections(),
            "profile": profile_for(workspace.jurisdiction),
            "section": "register",
        },
        status=status,
    )


@workspace_view("incidents.view")
def incident_detail(request: HttpRequest, workspace: Workspace, membership: Membership, reference: str) -> HttpResponse:
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    return incident_page(request, workspace, membership, incident)


@workspace_view("incidents.manage")
def incident_edit_view(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str
) -> HttpResponse:
    """Change the facts; a corrected awareness restarts the open clocks."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    form = IncidentForm(
        request.POST if request.method == "POST" else None,
        workspace=workspace,
        initial=IncidentForm.initial_for(incident),
    )
    if request.method == "POST" and form.is_valid():
        try:
            incident_edit(incident=incident, data=form.to_input(), actor=request_user(request))
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Incident {incident.reference} updated.")
            return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)
    return render(
        request,
        "incidents/incident_form.html",
        {"form": form, "incident": incident, "profile": profile_for(workspace.jurisdiction), "section": "register"},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@workspace_view("incidents.manage")
def incident_status(request: HttpRequest, workspace: Workspace, membership: Membership, reference: str) -> HttpResponse:
    """Move the incident along suspected → confirmed → contained → closed (closing needs a reason)."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    form = TransitionForm(request.POST, incident=incident)
    if form.is_valid():
        try:
            incident = incident_transition(
                incident=incident,
                to=form.cleaned_data["to"],
                reason=form.cleaned_data["reason"],
                actor=request_user(request),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"{incident.reference} is now {IncidentStatus(incident.status).label.lower()}.")
            return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)
    return incident_page(request, workspace, membership, incident, status=400, transition_form=form)


@require_POST
@workspace_view("incidents.manage")
def incident_update_add(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str
) -> HttpResponse:
    """Add information in phases (GDPR Art. 33(4))."""
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    form = PhaseForm(request.POST)
    if form.is_valid():
        try:
            incident_phase_add(incident=incident, text=form.cleaned_data["text"], actor=request_user(request))
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "Update added to the incident's history.")
            return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)
    return incident_page(request, workspace, membership, incident, status=400, phase_form=form)
