from __future__ import annotations

import logging
from datetime import datetime

from celery import Task, shared_task

from accounts.models import Workspace
from kernel.context import request_info
from kernel.tenancy import workspace_context

log = logging.getLogger(__name__)


@shared_task
def policy_notify_debtors(policy_id: str) -> int:
    """After a material policy change: notify every debtor with an email, in batches."""
    from consent.notifications import policy_change_notify_all

    return policy_change_notify_all(policy_id=policy_id)


# A provider that fails for a moment gets five more tries over about half an hour
# (1, 2, 4, 8 and 16 minutes apart); then the message is marked failed.
DELIVERY_RETRIES = 5
DELIVERY_FIRST_RETRY_SECONDS = 60


def _delivery_attempt(workspace_id: int, communication_id: str, since: datetime | None, attempt: int) -> str | None:
    """Try once; the outcome, or None to try again later. The claim and the
    outcome are committed on their own; the hand-off to the provider happens
    between them, outside any transaction."""
    from consent.communications import (
        NO_ANSWER,
        DeliveryError,
        communication_failed,
        delivery_claim,
        delivery_release,
        delivery_send,
        delivery_sent,
    )
    from debtors.models import Communication

    workspace = Workspace.objects.get(pk=workspace_id)
    with request_info(source="task"):
        with workspace_context(workspace):
            comm = (
                Communication.objects.select_related("debt", "debt__debtor", "debt__workspace")
                .filter(pk=communication_id)
                .first()
            )
            if comm is None:
                return "missing"
            claimed = delivery_claim(communication=comm, queued_at=since)
        if isinstance(claimed, str):
            return claimed
        bug: Exception | None = None
        try:
            message_id = delivery_send(claimed)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # ours, not the provider's: record it, then let it surface
            error, bug = DeliveryError(f"{type(exc).__name__} during the hand-off; {NO_ANSWER}", transient=False), exc
        else:
            with workspace_context(workspace):
                delivery_sent(communication_id=communication_id, workspace_id=workspace_id, message_id=message_id)
            return "sent"
        with workspace_context(workspace):
            if error.transient and attempt <= DELIVERY_RETRIES:
                delivery_release(communication_id=communication_id, workspace_id=workspace_id)
                log.warning("communication %s: %s; trying again (attempt %d)", communication_id, error, attempt)
                return None
            communication_failed(communication=comm, error=str(error), attempts=attempt)
        if bug is not None:
            raise bug
        return "failed"


@shared_task(bind=True, max_retries=DELIVERY_RETRIES)
def deliver_communication(self: Task, workspace_id: int, communication_id: str, queued_at: str | None = None) -> str:
    since = datetime.fromisoformat(queued_at) if queued_at else None
    attempt = self.request.retries + 1
    while (outcome := _delivery_attempt(workspace_id, communication_id, since, attempt)) is None:
        if not self.request.is_eager:
            raise self.retry(countdown=DELIVERY_FIRST_RETRY_SECONDS * 2 ** (attempt - 1))
        attempt += 1  # in-process (embedded default, tests): no broker to wait on; again at once
    return outcome


@shared_task
def sequences_advance_all() -> int:
    ids = list(Workspace.objects.values_list("pk", flat=True))
    for workspace_id in ids:
        sequences_advance.delay(workspace_id)
    return len(ids)


@shared_task
def sequences_advance(workspace_id: int) -> dict[str, int]:
    from consent.sequences import sequences_run_due

    workspace = Workspace.objects.get(pk=workspace_id)
    with request_info(source="task"):
        return sequences_run_due(workspace=workspace)
