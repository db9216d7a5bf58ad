from __future__ import annotations

from django.core.mail import send_mail

from accounts.models import Workspace
from debtors.models import LedgerEntry
from debtors.services.money import from_minor
from kernel.tenancy import workspace_context


def receipt_send(*, workspace_id: int, entry_id: str) -> bool:
    """Email a receipt for a payment, if the debtor has an email. A receipt is a
    transactional message the debtor expects, not collection contact."""
    workspace = Workspace.objects.get(pk=workspace_id)
    with workspace_context(workspace):
        entry = LedgerEntry.objects.select_related("debt", "debt__debtor", "debt__client").filter(pk=entry_id).first()
        if entry is None or not entry.debt.debtor.email:
            return False
        debt = entry.debt
        send_mail(
            subject=f"Receipt: {from_minor(-entry.amount_minor, debt.currency)} {debt.currency} received",
            message=(
                f"Thank you. {workspace.name} received {from_minor(-entry.amount_minor, debt.currency)} {debt.currency} "
                f"on {entry.posted_at:%Y-%m-%d} for account {debt.reference} ({debt.client.name}).\n"
                f"Remaining balance: {from_minor(debt.balance_minor, debt.currency)} {debt.currency}.\n"
                f"Receipt number: {entry.pk}\n"
            ),
            from_email=None,
            recipient_list=[debt.debtor.email],
        )
    return True
