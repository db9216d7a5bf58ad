"""Build debtors and debts through the services (never raw model saves)."""

from __future__ import annotations

import itertools

from accounts.models import Client, Workspace
from debtors.models import Debt
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create

_seq = itertools.count(1)


def make_debt(
    workspace: Workspace,
    *,
    client_ref: str | None = None,
    amount_minor: int = 100_000,
    status: str = "active",
    email: str | None = None,
    **debt_fields: object,
) -> Debt:
    """A debt with a fresh debtor, in ``workspace`` (call inside workspace_context)."""
    n = next(_seq)
    client = (
        Client.objects.for_workspace(workspace).get(reference=client_ref)
        if client_ref
        else Client.objects.for_workspace(workspace).order_by("created_at").first()
    )
    debtor = debtor_create(
        workspace=workspace,
        data=DebtorInput(
            full_name=f"Debtor {n}",
            email=email or f"debtor{n}@example.com",
            phone=f"+91 98{n:08d}",
            national_id=f"NID{n:06d}",
        ),
    )
    debt = debt_create(
        workspace=workspace,
        client=client,
        debtor=debtor,
        data=DebtInput(
            reference=f"REF-{n:05d}", original_amount_minor=amount_minor, currency=workspace.currency, **debt_fields
        ),
    )  # type: ignore[arg-type]
    if status != "new":
        debt = debt_change_status(debt=debt, status=status)
    return debt
