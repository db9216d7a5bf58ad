from __future__ import annotations

from celery import shared_task

from consent.notifications import policy_change_notify_all


@shared_task
def policy_notify_debtors(policy_id: str) -> int:
    """After a material policy change: notify every debtor with an email, in batches."""
    return policy_change_notify_all(policy_id=policy_id)
