"""Celery tasks for placement imports. The import task keeps its first name, so
jobs queued by an older release still run."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from placements.imports import placement_import_execute, placement_rejects_purge


@workspace_task(context=False, bind=True, acks_late=True, name="debtors.tasks.placement_import_run")
def placement_import_run(task: Any, workspace: Workspace, import_id: str) -> str:
    job = placement_import_execute(workspace=workspace, import_id=import_id)
    return str(job.status)


@workspace_task()
def placements_upkeep(workspace: Workspace) -> dict[str, int]:
    """Rejects files (rejected rows in clear text) are deleted after their retention period."""
    return {"rejects_purged": placement_rejects_purge(workspace_id=workspace.pk)}


@shared_task
def placements_upkeep_all() -> int:
    return fan_out(placements_upkeep)
