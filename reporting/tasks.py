"""Dashboard warming. The tasks keep the names they had in the debtors app, so the
beat schedule and queued tasks of an older release still find them."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from reporting.dashboard import warm


@workspace_task(name="debtors.tasks.dashboard_warm")
def dashboard_warm(workspace: Workspace) -> int:
    """Recompute a workspace's dashboard figures so page views read them from cache."""
    return warm(workspace=workspace)


@shared_task(name="debtors.tasks.dashboard_warm_all")
def dashboard_warm_all() -> int:
    return fan_out(dashboard_warm)
