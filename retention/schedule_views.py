"""The retention schedule under /w/<slug>/retention/: every category with what it
covers, its period and who set it, what is due; the workspace's own periods, dry
runs and purges started here (retention.manage); the schedule as CSV.
Views parse, call one selector or service, render."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership, Workspace
from accounts.roles import can
from accounts.types import request_user
from kernel.csv_stream import csv_line_writer
from kernel.tenancy.decorators import workspace_view
from reporting.charts import Bar, horizontal_bars
from retention import selectors
from retention.forms import PeriodForm, service_errors_onto
from retention.runs import purge_queue
from retention.schedules import retention_setting_clear, retention_setting_set

SCHEDULE_HEADER = [
    "category",
    "trigger",
    "days",
    "period",
    "set_by",
    "source",
    "legal_minimum_days",
    "actions",
    "stores",
    "due_now",
    "due_within_30_days",
]


def _chart(rows: list[selectors.ScheduleRow]) -> dict[str, Any]:
    """Records due within 30 days by category (the table after it has the numbers)."""
    counted = [r for r in rows if r.workspace_acts]
    bars = [Bar(r.label, r.due_soon.count, str(r.due_soon)) for r in counted]
    total = sum(r.due_soon.count for r in counted)
    svg = horizontal_bars(
        chart_id="chart-retention-due",
        title="Records due within the next 30 days, by category",
        desc=f"{total:,} records of this workspace reach the end of their period within 30 days"
        + (": " + ", ".join(f"{b.label} {b.text}" for b in bars) if bars else "."),
        bars=bars,
    )
    return {
        "id": "retention-due",
        "title": "Due within the next 30 days",
        "svg": svg,
        "columns": ["Category", "Due now", "Within 30 days"],
        "rows": [[r.label, str(r.due_now), str(r.due_soon)] for r in counted],
        "note": "Held records are not counted: a legal hold keeps them.",
        "total": total,
    }


def _render(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    *,
    failed: PeriodForm | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    rows = selectors.schedule(workspace=workspace, now=now)
    can_manage = can(membership, "retention.manage")
    forms: dict[str, PeriodForm] = {}
    if can_manage:
        for row in rows:
            if not row.workspace_acts:
                continue
            initial = {"days": row.period.days, "reason": row.period.workspace_reason}
            forms[row.category] = PeriodForm(category=row.category, initial=initial)
        if failed is not None:
            forms[failed.initial["category"]] = failed
    return render(
        request,
        "retention/schedule.html",
        {
            "rows": [{"row": row, "form": forms.get(row.category)} for row in rows],
            "chart": _chart(rows),
            "running": selectors.purge_running(workspace=workspace, now=now),
            "runs": selectors.runs_latest(workspace=workspace),
            "can_manage": can_manage,
            "open_category": failed.initial["category"] if failed is not None else "",
            "section": "schedule",
        },
        status=status,
    )


@workspace_view("retention.view")
def schedule(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    return _render(request, workspace, membership)


@require_POST
@workspace_view("retention.manage")
def period_set(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """The workspace's own period for a category, or ("clear") back to the default.
    A period below a legal minimum is refused next to the field, naming the law."""
    category = str(request.POST.get("category", "")).upper()
    if request.POST.get("clear"):
        try:
            retention_setting_clear(workspace=workspace, category=category, actor=request_user(request))
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{selectors.category_label(category)}: back to the default period.")
        return redirect("retention_schedule", workspace_slug=workspace.slug)
    form = PeriodForm(request.POST, category=category)
    if form.is_valid():
        try:
            retention_setting_set(
                workspace=workspace,
                category=category,
                days=form.cleaned_data["days"],
                reason=form.cleaned_data["reason"],
                actor=request_user(request),
            )
        except ValidationError as exc:
            service_errors_onto(form, exc)
        else:
            messages.success(
                request,
                f"{selectors.category_label(category)}: kept for "
                f"{selectors.days_in_words(form.cleaned_data['days'])} in this workspace.",
            )
            return redirect("retention_schedule", workspace_slug=workspace.slug)
    return _render(request, workspace, membership, failed=form, status=400)


@require_POST
@workspace_view("retention.manage")
def run_start(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Dry run or purge now, on a worker; the receipt is listed at once."""
    dry_run = request.POST.get("kind") != "purge"
    try:
        run = purge_queue(workspace=workspace, dry_run=dry_run, actor=request_user(request))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("retention_schedule", workspace_slug=workspace.slug)
    what = "Dry run" if dry_run else "Purge"
    messages.success(
        request,
        f"{what} queued on a worker: its receipt fills in as it goes"
        + (" and lists what would go; nothing is changed." if dry_run else "."),
    )
    return redirect("retention_run", workspace_slug=workspace.slug, run_id=run.pk)


@workspace_view("retention.view")
def schedule_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> StreamingHttpResponse:
    """The schedule as CSV (no personal data: categories, periods, laws, counts)."""
    rows = selectors.schedule(workspace=workspace, now=timezone.now())

    def stream() -> Iterator[str]:
        w = csv_line_writer()
        yield w.writerow(SCHEDULE_HEADER)
        for r in rows:
            yield w.writerow(
                [
                    r.category,
                    r.trigger,
                    r.period.days,
                    r.period_words,
                    r.period.set_by,
                    r.period.source,
                    r.period.minimum_days or "",
                    "; ".join(r.actions),
                    "; ".join(s.store.label for s in r.stores),
                    str(r.due_now).replace(",", ""),
                    str(r.due_soon).replace(",", ""),
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="retention-schedule-{workspace.slug}.csv"'
    return response
