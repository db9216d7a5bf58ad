"""The privacy desk under /w/<slug>/privacy/: the queue of rights requests, its CSV
export, the figures and the workspace's privacy contact — and the debt page's
"log a request" form. The request page and its actions are in
``desk_request_views``. Views parse, call one selector or service, render."""

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
from django.views.decorators.http import require_POST

from accounts.jurisdictions import profile_for
from accounts.models import Membership, Workspace
from accounts.roles import can
from accounts.selectors import members_list
from accounts.types import request_user
from debtors.decorators import load_debt
from debtors.models import Debt
from debtors.views import debt_panel_context
from kernel.csv_stream import csv_line_writer
from kernel.tenancy.decorators import workspace_view
from privacy_requests import deadlines, desk_services, selectors
from privacy_requests.forms_desk import DeskFilterForm, LogRequestForm, PrivacyContactForm
from privacy_requests.models import PrivacyRequest, RequestType
from privacy_requests.services import privacy_request_create
from reporting.charts import Bar, bar_chart, horizontal_bars

EXPORT_HEADER = [
    "reference",
    "type",
    "status",
    "channel",
    "received_at",
    "clock_started_at",
    "due_at",
    "extended_due_at",
    "days_left",
    "closed_at",
]


def form_errors_from(form: Any, exc: ValidationError) -> None:
    """A service's ValidationError onto the form, next to the fields it names."""
    for field, errors in getattr(exc, "message_dict", {"__all__": exc.messages}).items():
        form.add_error(field if field in form.fields else None, errors)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


# --- The debt page: log a request ------------------------------------------------------


@require_POST
@workspace_view("privacy.log")
@load_debt(workable=True)
def request_log(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """An agent logs a request the debtor made by phone, email, letter or in person.
    Identity was checked by the agent (how is recorded), so the request is verified
    and its clock starts at receipt. Bad input writes nothing."""
    form = LogRequestForm(request.POST, workspace=workspace)
    if form.is_valid():
        d = form.cleaned_data
        try:
            created = privacy_request_create(
                workspace=workspace,
                type=d["type"],
                channel=d["channel"],
                received_at=form.received_at(),
                debtor=debt.debtor,
                details=d["details"],
                verified_by=d["identity_check"],
                actor=request_user(request),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            due = created.effective_due_at
            messages.success(
                request,
                f"{RequestType(created.type).label} request {created.reference} logged"
                + (f"; answer by {due.astimezone(zoneinfo.ZoneInfo(workspace.timezone)):%Y-%m-%d}." if due else "."),
            )
            if _is_htmx(request):
                return render(
                    request, "debtors/_debt_panel.html", debt_panel_context(request, workspace, membership, debt)
                )
            return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)
    context = debt_panel_context(request, workspace, membership, debt, privacy={"form": form})
    if _is_htmx(request):
        return render(request, "debtors/_debt_panel.html", context)
    return render(request, "debtors/debt_detail.html", context, status=400)


# --- The queue ----------------------------------------------------------------------------


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


@workspace_view("privacy.view")
def desk(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Open requests by the deadline in force, overdue and due-soon highlighted."""
    form = DeskFilterForm(request.GET or None)
    filters = form.filters()
    now = timezone.now()
    page = _page_number(request)
    rows, has_more = selectors.desk_page(workspace=workspace, filters=filters, now=now, page=page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "privacy_requests/desk_queue.html",
        {
            "form": form,
            "rows": [_row(r, workspace, now) for r in rows],
            "counts": selectors.desk_counts(workspace=workspace, now=now),
            "page": page,
            "has_more": has_more,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
            "can_manage": can(membership, "privacy.manage"),
            "contact": selectors.privacy_contact_get(workspace=workspace),
            "section": "requests",
        },
    )


def _row(request: PrivacyRequest, workspace: Workspace, now: datetime) -> dict[str, Any]:
    return {"request": request, "due": selectors.deadline_state(request, workspace=workspace, now=now)}


def _local_iso(moment: datetime | None, tz: zoneinfo.ZoneInfo) -> str:
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment else ""


@workspace_view("privacy.view")
def desk_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> StreamingHttpResponse:
    """The queue with its filters as CSV (no personal data: references, types,
    statuses and dates in the workspace's zone); the export is audited first."""
    filters = DeskFilterForm(request.GET or None).filters()
    now = timezone.now()
    rows = list(selectors.desk_requests(workspace=workspace, filters=filters, now=now))
    desk_services.privacy_requests_export_record(
        workspace=workspace,
        rows=len(rows),
        filters=[k for k, v in request.GET.items() if v],
        actor=request_user(request),
    )
    tz = zoneinfo.ZoneInfo(workspace.timezone)

    def stream() -> Iterator[str]:
        w = csv_line_writer()
        yield w.writerow(EXPORT_HEADER)
        for r in rows:
            left = selectors.days_left(r, workspace=workspace, now=now)
            yield w.writerow(
                [
                    r.reference,
                    r.type,
                    r.status,
                    r.channel,
                    _local_iso(r.received_at, tz),
                    _local_iso(r.clock_started_at, tz),
                    _local_iso(r.due_at, tz),
                    _local_iso(r.extended_due_at, tz),
                    "" if left is None else left,
                    _local_iso(r.closed_at, tz),
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="privacy-requests-{workspace.slug}-{now.astimezone(tz):%Y-%m-%d}.csv"'
    )
    return response


# --- Figures -------------------------------------------------------------------------------


def _chart(chart_id: str, title: str, svg: str, columns: list[str], rows: list[list[str]]) -> dict[str, Any]:
    """What ``debtors/_chart.html`` renders: the SVG, then the same numbers as a table."""
    return {"id": chart_id, "title": title, "svg": svg, "columns": columns, "rows": rows, "note": ""}


def _figures_charts(f: selectors.DeskFigures) -> list[dict[str, Any]]:
    totals = [sum(month.values()) for month in f.per_month]
    month_bars = [Bar(f"{m:%b %y}", total, str(total), f"{m:%B %Y}") for m, total in zip(f.months, totals, strict=True)]
    by_month = bar_chart(
        chart_id="chart-requests-by-month",
        title=f"Requests received per month, last {len(f.months)} months",
        desc=f"{sum(totals)} requests from {f.months[0]:%B %Y} to {f.months[-1]:%B %Y}; the table breaks them down by type.",
        bars=month_bars,
    )
    labels = dict(RequestType.choices)
    columns = ["Month", *[labels[t].split(" (")[0] for t in f.types], "Total"]
    rows = [
        [f"{m:%B %Y}", *[str(month.get(t, 0)) for t in f.types], str(total)]
        for m, month, total in zip(f.months, f.per_month, totals, strict=True)
    ]
    by_type_totals = [(t, sum(month.get(t, 0) for month in f.per_month)) for t in f.types]
    by_type = horizontal_bars(
        chart_id="chart-requests-by-type",
        title="Requests by type, last 12 months",
        desc=", ".join(f"{labels[t].split(' (')[0]}: {n}" for t, n in by_type_totals) or "No requests.",
        bars=[Bar(labels[t].split(" (")[0], n, str(n)) for t, n in by_type_totals],
    )
    return [
        _chart("requests-by-month", "Requests by type per month", by_month, columns, rows),
        _chart(
            "requests-by-type",
            "Requests by type",
            by_type,
            ["Type", "Requests"],
            [[labels[t].split(" (")[0], str(n)] for t, n in by_type_totals],
        ),
    ]


@workspace_view("privacy.view")
def figures(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    f = selectors.desk_figures(workspace=workspace, now=timezone.now())
    median = f.median_days_to_close
    return render(
        request,
        "privacy_requests/desk_figures.html",
        {
            "figures": f,
            "median": f"{median:.1f}" if median is not None else "",
            "charts": _figures_charts(f) if any(f.per_month) else [],
            "section": "figures",
        },
    )


# --- The privacy contact -----------------------------------------------------------------


@workspace_view("privacy.view", write_perm="privacy.manage")
def contact_settings(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Who is reminded of deadlines, what the public pages show, and (India) the
    published period to answer in. Every member with privacy.view reads it;
    privacy.manage changes it."""
    members = [m.user for m in members_list(workspace=workspace) if m.client_id is None]
    contact = selectors.privacy_contact_get(workspace=workspace)
    initial = (
        {
            "contact_user": contact.contact_user_id,
            "contact_name": contact.contact_name,
            "contact_email": contact.contact_email,
            "contact_phone": contact.contact_phone,
            "grievance_period_days": contact.grievance_period_days,
        }
        if contact
        else {}
    )
    form = PrivacyContactForm(
        request.POST if request.method == "POST" else None, initial=initial, workspace=workspace, members=members
    )
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            desk_services.privacy_contact_save(
                workspace=workspace,
                contact_user=d["contact_user"],
                contact_name=d["contact_name"],
                contact_email=d["contact_email"],
                contact_phone=d["contact_phone"],
                grievance_period_days=d.get("grievance_period_days"),
                actor=request_user(request),
            )
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(request, "Privacy contact saved.")
            return redirect("privacy_desk_settings", workspace_slug=workspace.slug)
    profile = profile_for(workspace.jurisdiction)
    return render(
        request,
        "privacy_requests/desk_settings.html",
        {
            "form": form,
            "can_edit": can(membership, "privacy.manage"),
            "profile": profile,
            "period": deadlines.answer_period(
                workspace, grievance_period_days=contact.grievance_period_days if contact else None
            ),
            "extension": deadlines.extension_period(profile),
            "section": "settings",
        },
        status=400 if request.method == "POST" else 200,
    )
