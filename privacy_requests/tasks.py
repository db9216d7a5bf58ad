"""Celery tasks of the rights-request app: the daily deadline reminders here; the
export, erasure and verification tasks live in their own modules, imported here
so the worker registers them."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from privacy_requests import erasure_tasks, export_tasks, verification_tasks  # noqa: F401  (registers their tasks)
from privacy_requests.reminders import privacy_reminders_run


@workspace_task()
def privacy_reminders(workspace: Workspace) -> dict[str, int]:
    """The privacy contact's reminders at 7 and 2 days before each open request's
    deadline, and the overdue alerts; safe to run twice (reminders.py)."""
    return privacy_reminders_run(workspace=workspace)


@shared_task
def privacy_reminders_all() -> int:
    """Beat entry point (daily): one reminders task per workspace."""
    return fan_out(privacy_reminders)
