from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from kernel.context import request_info


@shared_task
def reconcile_all() -> int:
    ids = list(Workspace.objects.values_list("pk", flat=True))
    for workspace_id in ids:
        reconcile_workspace.delay(workspace_id)
    return len(ids)


@shared_task
def reconcile_workspace(workspace_id: int) -> dict[str, int]:
    from payments.reconciliation import reconciliation_run

    with request_info(source="task"):
        run = reconciliation_run(workspace=Workspace.objects.get(pk=workspace_id))
    return {
        "checked": run.sessions_checked,
        "posted": run.payments_posted,
        "expired": run.links_expired,
        "exceptions": run.exceptions_found,
    }


@shared_task
def process_webhook_event(event_pk: int) -> str:
    from payments.webhooks import process_stored_event

    return process_stored_event(event_pk)
