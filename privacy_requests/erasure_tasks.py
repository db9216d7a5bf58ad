"""Celery tasks that execute approved erasure plans (erasure work)."""

from __future__ import annotations

from typing import Any

from accounts.models import Workspace
from accounts.tasking import workspace_task
from privacy_requests import erasure


@workspace_task(context=False)
def erasure_run(workspace: Workspace, plan_id: str) -> dict[str, Any]:
    """Execute an approved erasure plan, or what is left of it: each step runs in its
    own transaction and is recorded, so a retry (or a second delivery) only does the
    rest and a finished plan changes nothing."""
    plan = erasure.erasure_execute_by_id(workspace=workspace, plan_id=plan_id)
    return {"plan": str(plan.pk), "status": plan.status}
