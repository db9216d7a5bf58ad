"""Legal holds under /w/<slug>/retention/holds/: the list (retention.view) with its
filters and CSV export; placing, reviewing and lifting (holds.manage); and the debt
page's "place a hold" form. Views parse, call one selector or service, render."""

from __future__ import annotations

import zoneinfo
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
from debtors.decorators import load_debt
from debtors.models import Debt, HoldScope
from debtors.views import debt_panel_context
from kernel.csv_stream import csv_line_writer
from kernel.tenancy.decorators import workspace_view
from retention import holds, selectors
from retention.forms import (
    DebtHoldForm,
    HoldFilterForm,
    HoldLiftForm,
    HoldPlaceForm,
    HoldReviewForm,
    service_errors_onto,
)

EXPORT_HEADER = [
    "hold",
    "scope",
    "covers",
    "reason",
    "case_reference",
    "placed_by",
    "placed_at",
    "review_on",
    "review",
    "lifted_by",
    "lifted_at",
    "lift_reason",
]


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


def _list(
    request: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    *,
    place: HoldPlaceForm | None = None,
    failed: tuple[str, Any, Any] | None = None,  # (which form, hold id, bound form)
    status: int = 200,
) -> HttpResponse:
    if failed is not None and failed[2].non_field_errors():
        # e.g. the hold was lifted meanwhile: its row (and form) may no longer be listed
        messages.error(request, " ".join(failed[2].non_field_errors()))
    now = timezone.now()
    filter_form = HoldFilterForm(request.GET or None, workspace=workspace)
    page = _page_number(request)
    rows, has_more = selectors.holds_page(workspace=workspace, filters=filter_form.filters(), page=page, now=now)
    query = request.GET.copy()
    query.pop("page", None)
    can_manage = can(membership, "holds.manage")
    return render(
        request,
        "retention/holds.html",
        {
            "filter_form": filter_form,
            "rows": rows,
            "counts": selectors.hold_counts(workspace=workspace, now=now),
            "page": page,
            "has_more": has_more,
            "query": query.urlencode(),
            "filtered": any(v for k, v in request.GET.items() if k != "page"),
            "can_manage": can_manage,
            "place_form": (place or HoldPlaceForm(workspace=workspace)) if can_manage else None,
            "failed": failed,
            "today": selectors.workspace_today(workspace, now),
            "section": "holds",
        },
        status=status,
    )


@workspace_view("retention.view", write_perm="holds.manage")
def holds_list(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """GET: the holds. POST: place one on a debt, a client's portfolio or the workspace."""
    if request.method != "POST":
        return _list(request, workspace, membership)
    form = HoldPlaceForm(request.POST, workspace=workspace)
    if form.is_valid():
        d = form.cleaned_data
        try:
            hold = holds.legal_hold_place(
                workspace=workspace,
                scope=d["scope"],
                reason=d["reason"],
                case_reference=d["case_reference"],
                review_on=d["review_on"],
                actor=request_user(request),
                **form.target(),
            )
        except ValidationError as exc:
            service_errors_onto(form, exc)
        else:
            row = selectors.hold_rows(
                workspace=workspace, holds=[hold], today=selectors.workspace_today(workspace, timezone.now())
            )[0]
            messages.success(request, f"Legal hold placed: {row.covers}.")
            return redirect("retention_holds", workspace_slug=workspace.slug)
    return _list(request, workspace, membership, place=form, status=400)


@require_POST
@workspace_view("holds.manage")
def hold_lift(request: HttpRequest, workspace: Workspace, membership: Membership, hold_id: Any) -> HttpResponse:
    hold = selectors.legal_hold_get(workspace=workspace, hold_id=hold_id)
    form = HoldLiftForm(request.POST, auto_id=f"lift_{hold.pk}_%s")
    if form.is_valid():
        try:
            holds.legal_hold_lift(
                workspace=workspace, hold=hold, reason=form.cleaned_data["reason"], actor=request_user(request)
            )
        except ValidationError as exc:
            service_errors_onto(form, exc)
        else:
            messages.success(request, "Legal hold lifted.")
            return redirect("retention_holds", workspace_slug=workspace.slug)
    return _list(request, workspace, membership, failed=("lift", hold.pk, form), status=400)


@require_POST
@workspace_view("holds.manage")
def hold_review(request: HttpRequest, workspace: Workspace, membership: Membership, hold_id: Any) -> HttpResponse:
    hold = selectors.legal_hold_get(workspace=workspace, hold_id=hold_id)
    form = HoldReviewForm(request.POST, auto_id=f"review_{hold.pk}_%s")
    if form.is_valid():
        try:
            holds.legal_hold_review(
                workspace=workspace, hold=hold, review_on=form.cleaned_data["review_on"], actor=request_user(request)
            )
        except ValidationError as exc:
            service_errors_onto(form, exc)
        else:
            messages.success(request, f"Review recorded; next review by {form.cleaned_data['review_on']:%Y-%m-%d}.")
            return redirect("retention_holds", workspace_slug=workspace.slug)
    return _list(request, workspace, membership, failed=("review", hold.pk, form), status=400)


@workspace_view("retention.view")
def holds_export(request: HttpRequest, workspace: Workspace, membership: Membership) -> StreamingHttpResponse:
    """The holds with the list's filters as CSV (debt references and client names,
    never a debtor's name); the export is audited first."""
    now = timezone.now()
    today = selectors.workspace_today(workspace, now)
    filters = HoldFilterForm(request.GET or None, workspace=workspace).filters()
    found = list(selectors.legal_holds(workspace=workspace, filters=filters, today=today))
    rows = selectors.hold_rows(workspace=workspace, holds=found, today=today)
    holds.legal_holds_export_record(
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
            h = r.hold
            yield w.writerow(
                [
                    h.pk,
                    h.scope,
                    r.covers,
                    h.reason,
                    h.case_reference,
                    h.placed_by.email if h.placed_by else "",
                    h.placed_at.astimezone(tz).isoformat(timespec="seconds"),
                    h.review_on.isoformat(),
                    r.review_state,
                    h.lifted_by.email if h.lifted_by else "",
                    h.lifted_at.astimezone(tz).isoformat(timespec="seconds") if h.lifted_at else "",
                    h.lift_reason,
                ]
            )

    response = StreamingHttpResponse(stream(), content_type="text/csv")
    response["Content-Disposition"] = (
        f'attachment; filename="legal-holds-{workspace.slug}-{now.astimezone(tz):%Y-%m-%d}.csv"'
    )
    return response


# --- The debt page ----------------------------------------------------------------------


@require_POST
@workspace_view("holds.manage")
@load_debt(workable=True)
def debt_hold_place(request: HttpRequest, workspace: Workspace, membership: Membership, debt: Debt) -> HttpResponse:
    """A hold on this debt, or on its debtor (every debt of theirs and their data)."""
    form = DebtHoldForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        target: dict[str, Any] = {"debt": debt} if d["scope"] == HoldScope.DEBT else {"debtor": debt.debtor}
        try:
            holds.legal_hold_place(
                workspace=workspace,
                scope=d["scope"],
                reason=d["reason"],
                case_reference=d["case_reference"],
                review_on=d["review_on"],
                actor=request_user(request),
                **target,
            )
        except ValidationError as exc:
            service_errors_onto(form, exc)
        else:
            messages.success(
                request,
                "Legal hold placed on this debt."
                if d["scope"] == HoldScope.DEBT
                else "Legal hold placed on the debtor.",
            )
            if _is_htmx(request):
                return render(
                    request, "debtors/_debt_panel.html", debt_panel_context(request, workspace, membership, debt)
                )
            return redirect("debt_detail", workspace_slug=workspace.slug, debt_id=debt.pk)
    context = debt_panel_context(request, workspace, membership, debt, holds={"form": form})
    if _is_htmx(request):
        return render(request, "debtors/_debt_panel.html", context)
    return render(request, "debtors/debt_detail.html", context, status=400)
