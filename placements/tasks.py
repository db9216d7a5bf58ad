"""Celery tasks for placement imports. The import task keeps its first name, so
jobs queued by an older release still run."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import workspace_task
from placements.imports import placement_import_execute


@workspace_task(context=False, bind=True, acks_late=True, name="debtors.tasks.placement_import_run")
def placement_import_run(task: Any, workspace: Workspace, import_id: str) -> str:
    job = placement_import_execute(workspace=workspace, import_id=import_id)
    return str(job.status)


@shared_task
def placements_upkeep_all() -> int:
    """Nothing left to do: rejects files are deleted by the nightly retention purge
    (placements/retention.py), closed workspaces included. Kept so that the hourly
    beat entry an earlier release left in the database (django-celery-beat keeps
    removed entries) still finds its task."""
    return 0
