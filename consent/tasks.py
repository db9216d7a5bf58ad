from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from collectpro.context import request_info
from collectpro.tenancy import workspace_context


@shared_task
def policy_notify_debtors(policy_id: str) -> int:
    """After a material policy change: notify every debtor with an email, in batches."""
    from consent.notifications import policy_change_notify_all

    return policy_change_notify_all(policy_id=policy_id)


@shared_task(bind=True, max_retries=5, default_retry_delay=60)
def deliver_communication(self: object, workspace_id: int, communication_id: str) -> str:
    from consent.communications import deliver
    from debtors.models import Communication

    workspace = Workspace.objects.get(pk=workspace_id)
    with request_info(source="task"), workspace_context(workspace):
        comm = (
            Communication.objects.select_related("debt", "debt__debtor", "debt__workspace")
            .filter(pk=communication_id)
            .first()
        )
        if comm is None:
            return "missing"
        return deliver(communication=comm)


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
