"""The breach register under /w/<slug>/incidents/: the list of every incident (notified
or not, GDPR Art. 33(5)), its CSV export, the form to record one, and the register's
settings (the workspace's own target). The incident page and its actions are in
``incident_views`` and ``duty_views``. Views parse, call one selector or service, render.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Membership, Workspace
from accounts.roles import can
from accounts.types import request_user
from incidents import selectors
from incidents.forms import IncidentForm, RegisterFilterForm, TargetHoursForm
from incidents.register_services import authority_target_save, incidents_export_record
from incidents.services import incident_create, thresholds_for
from kernel.csv_stream import csv_line_writer
from kernel.tenancy.decorators import workspace_view

EXPORT_HEADER = [
    "reference",
    "title",
    "status",
    "occurred_at",
    "aware_at",
    "high_risk",
    "cert_in_listed",
    "data_unintelligible",
    "approx_subjects",
    "approx_records",
    "next_duty",
    "next_deadline",
    "next_deadline_fixed_in_law",
    "duties",
    "duties_settled",
    "duties_late",
    "closed_at",
]


def form_errors_from(form: Any, exc: ValidationError) -> None:
    """A service's ValidationError onto the form, next to the fields it names."""
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


@workspace_view("incidents.view")
def register(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Every incident, the most recent awareness first, each with its next deadline."""
    form = RegisterFilterForm(request.GET or None)
    filters = form.filters()
    now = timezone.now()
    page = _page_number(request)
    rows, has_more = selectors.register_page(workspace=workspace, filters=filters, now=now, page=page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "incidents/register.html",
        {
            "form": form,
            "rows": rows,
            "counts": selectors.register_counts(workspace=workspace, now=now),
            "page": page,
            "has_more": has_more,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
            "can_manage": can(membership, "incidents.manage"),
            "now": now,
            "section": "register",
        },
    )


def _local_iso(moment: datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return moment.astimezone(zone).isoformat(timespec="minutes") if moment else ""


@workspace_view("incidents.view")
def register_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> StreamingHttpResponse:
    """The register with its filters as CSV (references, titles, statuses, numbers and
    dates in the workspace's zone; no person's data); the export is audited first."""
    filters = RegisterFilterForm(request.GET or None).filters()
    now = timezone.now()
    incidents = list(selectors.register_incidents(workspace=workspace, filters=filters, now=now))
    incidents_export_record(
        workspace=workspace,
        rows=len(incidents),
        filters=[k for k, v in request.GET.items() if v],
        actor=request_user(request),
    )
    zone = zoneinfo.ZoneInfo(workspace.timezone)

    def stream() -> Iterator[str]:
        w = csv_line_writer()
        yield w.writerow(EXPORT_HEADER)
        for incident in incidents:
            row = selectors.register_row(incident, now)
            nxt = row.next
            yield w.writerow(
                [
                    incident.reference,
                    incident.title,
                    incident.status,
                    _local_iso(incident.occurred_at, zone),
                    _local_iso(incident.aware_at, zone),
                    "yes" if incident.high_risk else "no",
                    "yes" if incident.cert_in_listed else "no",
                    "yes" if incident.data_unintelligible else "no",
                    "" if incident.approx_subjects is None else incident.approx_subjects,
                    "" if incident.approx_records is None else incident.approx_records,
                    nxt.duty.label if nxt else "",
                    _local_iso(nxt.deadline, zone) if nxt else "",
                    ("yes" if nxt.fixed else "no") if nxt and nxt.deadline else "",
                    row.total,
                    row.done,
                    row.late,
                    _local_iso(incident.closed_at, zone),
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="incidents-{workspace.slug}-{now.astimezone(zone):%Y-%m-%d}.csv"'
    )
    return response


@workspace_view("incidents.manage")
def incident_new(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Record an incident: suspected at first; its clocks start at awareness."""
    form = IncidentForm(request.POST if request.method == "POST" else None, workspace=workspace)
    if request.method == "POST" and form.is_valid():
        try:
            incident = incident_create(workspace=workspace, data=form.to_input(), actor=request_user(request))
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, f"Incident {incident.reference} recorded; its clocks are running.")
            return redirect("incidents:incident", workspace_slug=workspace.slug, reference=incident.reference)
    return render(
        request,
        "incidents/incident_form.html",
        {"form": form, "incident": None, "profile": profile_for(workspace.jurisdiction), "section": "register"},
        status=400 if request.method == "POST" else 200,
    )


@workspace_view("incidents.view", write_perm="incidents.manage")
def register_settings(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """The workspace's own target for duties the law gives no fixed hours, and the
    duties its jurisdiction profile sets (read-only: they are the law)."""
    thresholds = thresholds_for(workspace)
    form = TargetHoursForm(
        request.POST if request.method == "POST" else None,
        initial={"authority_target_hours": thresholds.authority_target_hours},
    )
    if request.method == "POST" and form.is_valid():
        try:
            authority_target_save(
                workspace=workspace,
                hours=form.cleaned_data["authority_target_hours"],
                actor=request_user(request),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "The register's target is saved.")
            return redirect("incidents:settings", workspace_slug=workspace.slug)
    return render(
        request,
        "incidents/register_settings.html",
        {
            "form": form,
            "can_edit": can(membership, "incidents.manage"),
            "profile": profile_for(workspace.jurisdiction),
            "target_hours": thresholds.authority_target_hours,
            "section": "settings",
        },
        status=400 if request.method == "POST" else 200,
    )
