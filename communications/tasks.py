"""Celery tasks for messages: delivery, sequences and the hourly upkeep.

Names of the tasks that existed before this app are kept (``name=``), so messages
queued by an older release are still delivered after an upgrade."""

from __future__ import annotations

from datetime import datetime

from celery import Task, shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from communications.delivery import (
    DELIVERY_FIRST_RETRY_SECONDS,
    DELIVERY_RETRIES,
    communications_unstick,
    delivery_attempt,
)


@workspace_task(context=False, bind=True, max_retries=DELIVERY_RETRIES, name="consent.tasks.deliver_communication")
def deliver_communication(task: Task, workspace: Workspace, communication_id: str, queued_at: str | None = None) -> str:
    since = datetime.fromisoformat(queued_at) if queued_at else None
    attempt = task.request.retries + 1
    while (
        outcome := delivery_attempt(
            workspace=workspace, communication_id=communication_id, since=since, attempt=attempt
        )
    ) is None:
        if not task.request.is_eager:
            raise task.retry(countdown=DELIVERY_FIRST_RETRY_SECONDS * 2 ** (attempt - 1))
        attempt += 1  # in-process (embedded default, tests): no broker to wait on; again at once
    return outcome


@workspace_task(context=False, name="consent.tasks.sequences_advance")  # each debt in its own transaction
def sequences_advance(workspace: Workspace) -> dict[str, int]:
    # Imported here: sequences send messages, and sending queues tasks from this module.
    from communications.sequences import sequences_run_due

    return sequences_run_due(workspace=workspace)


@workspace_task()
def communications_upkeep(workspace: Workspace) -> dict[str, int]:
    """Messages stuck in the hand-off for longer than every retry together are failed."""
    return {"messages_unstuck": communications_unstick(workspace_id=workspace.pk)}


@shared_task(name="consent.tasks.sequences_advance_all")
def sequences_advance_all() -> int:
    return fan_out(sequences_advance)


@shared_task
def communications_upkeep_all() -> int:
    return fan_out(communications_upkeep)
