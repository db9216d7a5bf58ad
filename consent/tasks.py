from __future__ import annotations

from celery import shared_task


@shared_task
def policy_notify_debtors(policy_id: str) -> int:
    """After a material policy change: notify every debtor with an email, in batches.
    Delivered through the communications service (which applies the contact rules)."""
    from consent.notifications import policy_change_notify_all

    return policy_change_notify_all(policy_id=policy_id)
