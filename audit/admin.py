from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from audit.models import AuditEvent
from kernel.tenancy.context import _workspace


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read-only: the trail is append-only."""

    list_display = ("chain", "seq", "created_at", "action", "actor_user_id", "object_type", "object_id", "ip")
    list_filter = ("action", "source")
    search_fields = ("object_id", "request_id", "action")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        ws = _workspace.get()
        qs = AuditEvent.unscoped.all()
        return qs.filter(workspace_id=ws.pk) if ws is not None else qs.filter(workspace__isnull=True)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
