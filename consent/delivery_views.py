"""The delivery problems page: messages that did not reach the debtor — refused by
the rules, withheld at sending time, failed, bounced, or stuck in the hand-off."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership, Workspace
from debtors import selectors
from debtors.models import Communication, DebtEvent
from kernel.tenancy.decorators import workspace_view

PROBLEMS = {
    "failed": "Failed (the provider did not take it, or may have sent it)",
    "bounced": "Bounced",
    "refused": "Refused or withheld by the contact rules",
    "sending": "Stuck in the hand-off",
}
PAGE_SIZE = 50


def undelivered_messages(
    *, workspace: Workspace, membership: Membership, statuses: list[str]
) -> QuerySet[Communication]:
    """Outbound messages in ``statuses`` on the debts the member sees, newest first."""
    visible = selectors.debts_visible_to(workspace=workspace, membership=membership)
    return (
        Communication.objects.for_workspace(workspace)
        .filter(direction="outbound", status__in=statuses, debt__in=visible.values("pk"))
        .select_related("debt")
        .only("id", "channel", "status", "occurred_at", "template", "refusal_reasons", "debt__reference")
        .order_by("-occurred_at", "-id")
    )


def message_reasons(*, workspace: Workspace, messages: list[Communication]) -> dict[Any, str]:
    """Each message's reason: the latest timeline line about it (one query), else
    its refusal codes."""
    latest: dict[str, str] = {}
    for object_id, summary in (
        DebtEvent.objects.for_workspace(workspace)
        .filter(object_type="communication", object_id__in=[str(m.pk) for m in messages])
        .order_by("created_at")
        .values_list("object_id", "summary")
    ):
        latest[object_id] = summary
    return {
        m.pk: latest.get(str(m.pk)) or ", ".join(r.get("code", "") for r in (m.refusal_reasons or [])) for m in messages
    }


@workspace_view("workspace.view")
def delivery_problems(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    """Outbound messages that went wrong, newest first, over the debts the member
    sees; each with the reason its timeline gives."""
    if membership.client_id is not None:
        raise Http404("No such page")
    status = request.GET.get("status", "")
    statuses = [status] if status in PROBLEMS else list(PROBLEMS)
    messages = undelivered_messages(workspace=workspace, membership=membership, statuses=statuses)
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    reasons = message_reasons(workspace=workspace, messages=list(page))
    rows = [{"message": m, "reason": reasons[m.pk]} for m in page]
    context = {"rows": rows, "page": page, "status": status, "problems": PROBLEMS, "section": "problems"}
    return render(request, "consent/delivery_problems.html", context)
