"""Celery tasks of the breach register: the deadline reminders (every 15 minutes)."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from incidents import notice_tasks  # noqa: F401  (registers the notices' task with the worker)
from incidents.reminders import duty_reminders_run


@workspace_task()
def incident_reminders(workspace: Workspace) -> dict[str, int]:
    """Email who must act 24 h, 6 h and 1 h before each open duty's deadline, and once
    overdue; each reminder once per duty, safe to run twice (reminders.py)."""
    return duty_reminders_run(workspace=workspace)


@shared_task
def incident_reminders_all() -> int:
    """Beat entry point (every 15 minutes): one reminders task per workspace."""
    return fan_out(incident_reminders)
