"""Shared helpers of the security alerts' tests: thresholds set through the service,
people revealed and exports recorded as the pages record them, failed sign-ins through
the real sign-in form, debts in a workspace, and the alerts read back."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import Client, User, Workspace
from audit.services import record_personal_data_access
from debtors.models import Debt, Debtor
from debtors.services.data_access import debts_export_record
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from incidents.alerts import alert_thresholds_save, alerts_detect
from incidents.models import SecurityAlert
from kernel.context import request_info
from kernel.tenancy import workspace_context


def thresholds(workspace: Workspace, **values: Any) -> None:
    with workspace_context(workspace):
        alert_thresholds_save(workspace=workspace, values=values)


def debts(workspace: Workspace, n: int, *, prefix: str = "P") -> list[Debt]:
    """``n`` debts, each of its own debtor, placed with the workspace's first client."""
    with workspace_context(workspace):
        client = Client.objects.for_workspace(workspace).order_by("created_at").first()
        assert client is not None
        made = []
        for i in range(n):
            debtor = debtor_create(
                workspace=workspace,
                data=DebtorInput(full_name=f"Secret Name {prefix}{i}", email=f"{prefix.lower()}{i}@people.example"),
            )
            made.append(
                debt_create(
                    workspace=workspace,
                    client=client,
                    debtor=debtor,
                    data=DebtInput(
                        reference=f"{prefix}-{i}", original_amount_minor=10_000, currency=workspace.currency
                    ),
                )
            )
    return made


def reveal(workspace: Workspace, user: User, debtors: Iterable[Debtor], *, ip: str = "203.0.113.7") -> None:
    """The member saw each debtor's details (as the debt page's reveal records it)."""
    with workspace_context(workspace), request_info(actor_user_id=user.pk, ip=ip, source="web"):
        for debtor in debtors:
            record_personal_data_access(
                subject=debtor, fields=["full_name", "email"], purpose="agent reveal on debt page"
            )


def export(workspace: Workspace, user: User, *, rows: int, ip: str = "203.0.113.7") -> None:
    """The member exported the debt queue (as the queue's CSV records it)."""
    with workspace_context(workspace), request_info(actor_user_id=user.pk, ip=ip, source="web"):
        debts_export_record(workspace=workspace, rows=rows, filters=["status"])


def failed_sign_in(email: str, ip: str) -> int:
    """A wrong password on the sign-in form from ``ip``; the status answered."""
    client = HttpClient(REMOTE_ADDR=ip)
    return client.post("/accounts/login/", {"login": email, "password": "wrong-password-1"}).status_code


def detect(workspace: Workspace, now: datetime | None = None) -> dict[str, int]:
    with workspace_context(workspace):
        return alerts_detect(workspace=workspace, now=now or timezone.now())


def alerts(workspace: Workspace, **filters: Any) -> list[SecurityAlert]:
    with workspace_context(workspace):
        return list(SecurityAlert.objects.for_workspace(workspace).filter(**filters).order_by("created_at"))
