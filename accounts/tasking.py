"""What every workspace task does before its one service call, written once.

A task takes ids, never model instances (STYLE.md §4). ``@workspace_task`` turns
a function of a workspace into a Celery task of a workspace *id*: it loads the
workspace, marks the audit trail's source as ``task`` and, unless the task
manages its own transactions (``context=False``), runs the body inside the
workspace's context (scoped managers, row-level security)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from celery import shared_task

from accounts.models import Workspace
from kernel.context import request_info
from kernel.tenancy import workspace_context


def workspace_task(*, context: bool = True, **options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@workspace_task()`` over ``def body(workspace, *args)`` (or ``def body(task,
    workspace, *args)`` with ``bind=True``) registers a task called with
    ``(workspace_id, *args)``; the task keeps the body's module and name."""
    bind = bool(options.get("bind"))

    def decorator(body: Callable[..., Any]) -> Any:
        def run_with(workspace_id: int, call: Callable[[Workspace], Any]) -> Any:
            workspace = Workspace.objects.get(pk=workspace_id)
            with request_info(source="task"):
                if not context:
                    return call(workspace)
                with workspace_context(workspace):
                    return call(workspace)

        if bind:

            @functools.wraps(body)
            def bound(task: Any, workspace_id: int, *args: Any, **kwargs: Any) -> Any:
                return run_with(workspace_id, lambda ws: body(task, ws, *args, **kwargs))

            return shared_task(**options)(bound)

        @functools.wraps(body)
        def plain(workspace_id: int, *args: Any, **kwargs: Any) -> Any:
            return run_with(workspace_id, lambda ws: body(ws, *args, **kwargs))

        return shared_task(**options)(plain)

    return decorator


def fan_out(task: Any, *, include_closed: bool = False) -> int:
    """Queue ``task`` once per workspace (the beat entry points); how many were queued.
    A closed workspace has stopped working: only duties that remove data
    (``include_closed``: retention's purge, expiring files) still run for it."""
    workspaces = Workspace.objects.order_by("pk")
    if not include_closed:
        workspaces = workspaces.filter(closed_at__isnull=True)
    ids = list(workspaces.values_list("pk", flat=True))
    for workspace_id in ids:
        task.delay(workspace_id)
    return len(ids)
