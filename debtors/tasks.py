"""Celery tasks for the debtors app. Tasks take ids, set the workspace, call one service."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from debtors.services.upkeep import collections_upkeep_run


@workspace_task(context=False)  # each step commits on its own
def collections_upkeep(workspace: Workspace) -> dict[str, int]:
    return collections_upkeep_run(workspace=workspace)


@shared_task
def collections_upkeep_all() -> int:
    """Beat entry point: one upkeep task per workspace."""
    return fan_out(collections_upkeep)
