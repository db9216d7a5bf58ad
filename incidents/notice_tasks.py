"""Celery task of the notices to the people affected: one batch per run, queued again
while people are left (imported by ``incidents.tasks`` so the worker registers it).

Safe to run twice or in two workers at once: each batch locks the rows it takes and
skips rows another worker holds (``notices.incident_notices_batch``). A worker killed
mid-batch loses nothing: its batch rolls back, and the run is picked up again by the
first of: "Resume" on the incident page (at once), ``incident_notices_resume_all``
(runs with no progress for 10 minutes; a beat entry every 15 minutes), or the task's
own message, acknowledged only after the run (``CELERY_TASK_ACKS_LATE``), which Redis
hands to another worker after its visibility timeout (an hour by default).
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from incidents import notices


@workspace_task(bind=True)
def incident_notices_run(task: Task, workspace: Workspace, incident_id: str, size: int | None = None) -> dict[str, Any]:
    size = size or notices.BATCH_SIZE
    while True:
        result = notices.incident_notices_batch(workspace=workspace, incident_id=incident_id, size=size)
        handled = result.sent + result.no_contact + result.failed
        # Nothing handled: not started, stopped, or the rest is held by another worker's batch.
        if result.finished or not handled or not result.remaining:
            break
        if not task.request.is_eager:
            incident_notices_run.apply_async(args=[workspace.pk, incident_id, size])
            break
        # In-process (the embedded default, tests): no broker; the next batch at once.
    return {"sent": result.sent, "remaining": result.remaining, "finished": result.finished}


@workspace_task()
def incident_notices_resume(workspace: Workspace) -> int:
    """Runs of notices that stopped (a killed worker) are queued again (notices.py)."""
    return notices.notices_resume_stalled(workspace=workspace)


@shared_task
def incident_notices_resume_all() -> int:
    """Beat entry point (every 15 minutes): one resume task per workspace."""
    return fan_out(incident_notices_resume)
