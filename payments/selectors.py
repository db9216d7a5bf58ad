"""Reads for the payments pages: a debt's payment links, the email templates that
can carry one, and the reconciliation runs and exceptions. Every lookup by id is a
404 whether the row is missing or another workspace's (or another debt's)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from accounts.models import Workspace
from communications.models import MessageTemplate
from debtors.models import Debt
from payments.models import PaymentLink, ReconciliationException, ReconciliationRun

RUNS_SHOWN = 30
EXCEPTIONS_SHOWN = 200


def debt_payment_link_get(*, debt: Debt, link_id: Any) -> PaymentLink:
    """A payment link of this debt."""
    link = PaymentLink.objects.for_workspace(debt.workspace_id).filter(debt=debt, pk=link_id).first()
    if link is None:
        raise Http404("No such payment link")
    return link


def link_email_templates(*, workspace: Workspace) -> list[str]:
    """Names of the workspace's active email templates that carry the payment link
    (a template without ``{{ payment_link }}`` would send the debtor no link)."""
    qs = MessageTemplate.objects.for_workspace(workspace).filter(
        channel="email", is_active=True, body__contains="payment_link"
    )
    return sorted(set(qs.values_list("name", flat=True)))


def reconciliation_overview(*, workspace: Workspace) -> dict[str, Any]:
    """The latest runs and the open exceptions, newest first."""
    runs = list(ReconciliationRun.objects.for_workspace(workspace).order_by("-started_at")[:RUNS_SHOWN])
    open_exceptions = list(
        ReconciliationException.objects.for_workspace(workspace)
        .filter(resolved_at__isnull=True)
        .select_related("run")
        .order_by("-created_at")[:EXCEPTIONS_SHOWN]
    )
    return {"runs": runs, "exceptions": open_exceptions}


def reconciliation_exception_get(*, workspace: Workspace, exception_id: Any) -> ReconciliationException:
    exception = ReconciliationException.objects.for_workspace(workspace).filter(pk=exception_id).first()
    if exception is None:
        raise Http404("No such exception")
    return exception
