"""The debt page's "Privacy requests" section (registered in PrivacyRequestsConfig.ready):
the debtor's rights requests with their status and days left, and the form an
agent logs a request with (received by phone, email, letter or in person)."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.roles import can
from debtors.models import Debt
from privacy_requests.forms_desk import LogRequestForm
from privacy_requests.selectors import deadline_state, requests_for_debtor


def debt_privacy_panel(
    *, workspace: Workspace, membership: Membership, debt: Debt, form: LogRequestForm | None = None
) -> dict[str, Any] | None:
    """None (hidden) for client users and for members who may neither log nor read
    privacy requests."""
    if membership.client_id is not None:
        return None
    can_log = can(membership, "privacy.log")
    can_view = can(membership, "privacy.view")
    if not (can_log or can_view):
        return None
    now = timezone.now()
    rows = [
        {"request": request, "due": deadline_state(request, workspace=workspace, now=now)}
        for request in requests_for_debtor(workspace=workspace, debtor_id=debt.debtor_id)
    ]
    return {
        "requests": rows,
        "can_log": can_log,
        "can_view": can_view,
        "form": (form or LogRequestForm(workspace=workspace)) if can_log else None,
    }
