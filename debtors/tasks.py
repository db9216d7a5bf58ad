"""Celery tasks for the debtors app. Tasks take ids, set the workspace, call one service."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from kernel.context import request_info
from kernel.tenancy import workspace_context


@shared_task
def collections_upkeep_all() -> int:
    """Beat entry point: fan out one upkeep task per workspace."""
    ids = list(Workspace.objects.values_list("pk", flat=True))
    for workspace_id in ids:
        collections_upkeep.delay(workspace_id)
    return len(ids)


@shared_task
def collections_upkeep(workspace_id: int) -> dict[str, int]:
    """Missed installments, promises due, expired offers, old rejects files, then
    the priority scores (which those change) — each idempotent, each committed on
    its own (a failing step does not undo the others)."""
    from debtors.services.offers import offers_expire
    from debtors.services.plans import installments_mark_missed
    from debtors.services.priority import priorities_refresh_in_batches
    from debtors.services.promises import promises_evaluate

    workspace = Workspace.objects.get(pk=workspace_id)
    with request_info(source="task"):
        with workspace_context(workspace):
            missed = installments_mark_missed(workspace_id=workspace_id)
        with workspace_context(workspace):
            promises = promises_evaluate(workspace_id=workspace_id)
        with workspace_context(workspace):
            expired = offers_expire(workspace_id=workspace_id)
        rescored = priorities_refresh_in_batches(workspace=workspace)
    return {
        "installments_missed": missed,
        **{f"promises_{k}": v for k, v in promises.items()},
        "offers_expired": expired,
        "priorities_changed": rescored,
    }


@shared_task
def dashboard_warm_all() -> int:
    ids = list(Workspace.objects.values_list("pk", flat=True))
    for workspace_id in ids:
        dashboard_warm.delay(workspace_id)
    return len(ids)


@shared_task
def dashboard_warm(workspace_id: int) -> int:
    """Recompute a workspace's dashboard figures so page views read them from cache."""
    from debtors.dashboard import warm

    workspace = Workspace.objects.get(pk=workspace_id)
    with request_info(source="task"), workspace_context(workspace):
        return warm(workspace=workspace)
