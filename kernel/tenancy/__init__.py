"""Tenancy: the current workspace, scoped managers and the database context.

Every tenant-owned row carries ``workspace_id``. Code reads tenant rows only
through ``TenantManager`` (``Model.objects``), which filters on the workspace set
by ``workspace_context`` and raises ``WorkspaceNotSet`` when there is none: it
never fails open. On PostgreSQL the same context sets ``app.workspace_id`` for
the transaction so row-level security refuses other workspaces' rows even to a
buggy raw query (see ``kernel.tenancy.rls`` and docs/tenancy.md).
"""

from __future__ import annotations

from .context import (
    WorkspaceNotSet,
    current_workspace,
    current_workspace_id,
    db_scope,
    workspace_context,
)

__all__ = [
    "WorkspaceNotSet",
    "current_workspace",
    "current_workspace_id",
    "db_scope",
    "workspace_context",
]
