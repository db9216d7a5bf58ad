"""The authority reports of an incident: the pre-filled report as a page and as a PDF,
one per authority duty (incidents/reports.py). Anyone who may read the register may
read them (auditors included); nothing is written."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import Membership, Workspace
from incidents import selectors
from incidents.report_pdf import report_pdf
from incidents.reports import authority_report
from kernel.tenancy.decorators import workspace_view


@require_GET
@workspace_view("incidents.view")
def report_page(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str, duty_id: uuid.UUID
) -> HttpResponse:
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    duty = selectors.duty_get(incident=incident, duty_id=duty_id)
    report = authority_report(incident=incident, duty=duty)
    return render(request, "incidents/report_authority.html", {"report": report, "incident": incident})


@require_GET
@workspace_view("incidents.view")
def report_download(
    request: HttpRequest, workspace: Workspace, membership: Membership, reference: str, duty_id: uuid.UUID
) -> HttpResponse:
    incident = selectors.incident_get(workspace=workspace, reference=reference)
    duty = selectors.duty_get(incident=incident, duty_id=duty_id)
    report = authority_report(incident=incident, duty=duty)
    response = HttpResponse(report_pdf(report), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    return response
