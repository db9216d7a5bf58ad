"""Purge receipts under /w/<slug>/retention/runs/ (retention.view): every run of the
workspace, nightly, from the command line or from the schedule page, and one run's
receipt: counts per category and action, each store's progress, errors, and what a
dry run would purge."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.roles import can
from kernel.tenancy.decorators import workspace_view
from retention import selectors
from retention.engine import LISTING_LIMIT


def _page_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        return 1


@workspace_view("retention.view")
def runs_list(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    page = _page_number(request)
    runs, has_more = selectors.runs_page(workspace=workspace, page=page)
    return render(
        request,
        "retention/runs.html",
        {
            "runs": runs,
            "page": page,
            "has_more": has_more,
            "running": selectors.purge_running(workspace=workspace, now=timezone.now()),
            "can_manage": can(membership, "retention.manage"),
            "section": "runs",
        },
    )


@workspace_view("retention.view")
def run_detail(request: HttpRequest, workspace: Workspace, membership: Membership, run_id: Any) -> HttpResponse:
    run = selectors.purge_run_get(workspace=workspace, run_id=run_id)
    return render(
        request,
        "retention/run_detail.html",
        {
            "run": run,
            "counts": selectors.run_counts(run),
            "stores": selectors.run_store_rows(run),
            "listing_limit": LISTING_LIMIT,
            "section": "runs",
        },
    )
