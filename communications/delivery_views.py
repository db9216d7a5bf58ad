"""The delivery problems page: messages that did not reach the debtor — refused by
the rules, withheld at sending time, failed, bounced, or stuck in the hand-off."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership, Workspace
from communications.selectors import message_reasons, undelivered_messages
from kernel.tenancy.decorators import workspace_view

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
    messages = undelivered_messages(workspace=workspace, membership=membership, statuses=statuses)
    page = Paginator(messages, PAGE_SIZE).get_page(request.GET.get("page"))
    reasons = message_reasons(workspace=workspace, messages=list(page))
    rows = [{"message": m, "reason": reasons[m.pk]} for m in page]
    context = {"rows": rows, "page": page, "status": status, "problems": PROBLEMS, "section": "problems"}
    return render(request, "consent/delivery_problems.html", context)
