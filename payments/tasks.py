from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from payments.processing import process_stored_event
from payments.reconciliation import reconciliation_run


@workspace_task(context=False)  # the provider is asked outside any transaction
def reconcile_workspace(workspace: Workspace) -> dict[str, int]:
    run = reconciliation_run(workspace=workspace)
    return {
        "checked": run.sessions_checked,
        "posted": run.payments_posted,
        "expired": run.links_expired,
        "exceptions": run.exceptions_found,
    }


@shared_task
def reconcile_all() -> int:
    return fan_out(reconcile_workspace)


@shared_task
def process_webhook_event(event_pk: int) -> str:
    return process_stored_event(event_pk)
