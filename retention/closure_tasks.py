"""Building a closing workspace's export on a worker (thin: ids in, one service)."""

from __future__ import annotations

from accounts.models import Workspace
from accounts.tasking import workspace_task
from retention.closure_export import workspace_export_run


@workspace_task(context=False)  # the build opens its own workspace context
def closure_export_build(workspace: Workspace) -> str:
    """Build the full export of a closed workspace; returns the export's id ("" when
    the workspace is no longer closed)."""
    return workspace_export_run(workspace=workspace)
