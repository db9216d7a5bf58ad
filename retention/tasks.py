"""Nightly purges: one task per workspace plus one for the installation's own stores.

Each task continues the run a killed worker left unfinished (same clock, same
cursors) before it starts a new one, so a crash costs a night at most and nothing is
done twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from kernel.context import request_info
from kernel.tenancy import workspace_context
from retention.engine import purge_execute, purge_run
from retention.models import RunTrigger
from retention.selectors import purge_run_get


def _receipt(run: Any) -> dict[str, Any]:
    return {"run": str(run.pk), "status": run.status, "total": run.total, "errors": len(run.errors)}


@workspace_task(context=False)  # the engine opens one short transaction per batch
def purge_expired_workspace(workspace: Workspace, trigger: str = RunTrigger.NIGHTLY) -> dict[str, Any]:
    return _receipt(purge_run(workspace=workspace, trigger=trigger))


@shared_task
def purge_expired_global() -> dict[str, Any]:
    with request_info(source="task"):
        return _receipt(purge_run(workspace=None))


@shared_task
def purge_expired_all() -> int:
    """Beat entry point: the installation's stores, then one task per workspace."""
    purge_expired_global.delay()
    return fan_out(purge_expired_workspace, include_closed=True)


@workspace_task(context=False)  # the engine opens one short transaction per batch
def purge_run_continue(workspace: Workspace, run_id: str) -> dict[str, Any]:
    """A run started from the schedule page (``retention.runs.purge_queue``): do it.
    Run twice, the second finds it finished and does nothing."""
    with workspace_context(workspace):
        run = purge_run_get(workspace=workspace, run_id=run_id)
    return _receipt(purge_execute(run=run))
