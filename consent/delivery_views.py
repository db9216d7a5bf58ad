"""The delivery problems page: messages that did not reach the debtor — refused by
the rules, withheld at sending time, failed, bounced, or stuck in the hand-off."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership, Workspace
from collectpro.tenancy.decorators import workspace_view
from debtors import selectors
from debtors.models import Communication, DebtEvent

PROBLEMS = {
    "failed": "Failed (the provider did not take it, or may have sent it)",
    "bounced": "Bounced",
    "refused": "Refused or withheld by the contact rules",
    "sending": "Stuck in the hand-off",
}
PAGE_SIZE = 50


@workspace_view("workspace.view")
def delivery_problems(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Outbound messages that went wrong, newest first, over the debts the member
    sees; each with the reason its timeline gives."""
    if membership.client_id is not None:
        raise Http404("No such page")
    status = request.GET.get("status", "")
    statuses = [status] if status in PROBLEMS else list(PROBLEMS)
    visible = selectors.debts_visible_to(workspace=workspace, membership=membership)
    messages = (
        Communication.objects.for_workspace(workspace)
        .filter(direction="outbound", status__in=statuses, debt__in=visible.values("pk"))
        .select_related("debt")
        .only("id", "channel", "status", "occurred_at", "template", "refusal_reasons", "debt__reference")
        .order_by("-occurred_at", "-id")
    )
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    ids = [str(m.pk) for m in page]
    summaries: dict[str, str] = {}
    for object_id, summary in (
        DebtEvent.objects.for_workspace(workspace)
        .filter(object_type="communication", object_id__in=ids)
        .order_by("created_at")
        .values_list("object_id", "summary")
    ):
        summaries[object_id] = summary  # the latest line about the message wins
    rows = [
        {
            "message": m,
            "reason": summaries.get(str(m.pk), "") or ", ".join(r.get("code", "") for r in (m.refusal_reasons or [])),
        }
        for m in page
    ]
    context = {"rows": rows, "page": page, "status": status, "problems": PROBLEMS, "section": "problems"}
    return render(request, "consent/delivery_problems.html", context)
