"""Operator admin for tenant models.

An operator works inside one workspace at a time (chosen with the "Work in this
workspace" action on the Workspaces list, kept in the session): tenant lists show
only that workspace's rows, so PostgreSQL row-level security holds in the admin
too. Secret and key material is never displayed.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from kernel.tenancy.context import _workspace


class TenantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_select_related = ("workspace",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        ws = _workspace.get()
        qs = self.model.unscoped.all()
        if ws is None:
            return qs.none()
        return qs.filter(workspace_id=ws.pk)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        ws = _workspace.get()
        if ws is None:
            messages.info(request, "Choose a workspace first: Workspaces → select one → “Work in this workspace”.")
        else:
            messages.info(request, f"Showing rows of workspace {ws.slug}.")
        return super().changelist_view(request, extra_context)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
