from __future__ import annotations

from django.contrib import admin

from kernel.admin_base import TenantAdmin
from kernel.models import SubjectKey, WorkspaceKey


@admin.register(WorkspaceKey)
class WorkspaceKeyAdmin(TenantAdmin):
    list_display = ("id", "workspace", "master_key_id", "created_at", "retired_at")
    exclude = ("wrapped_key",)
    readonly_fields = ("workspace", "master_key_id", "created_at", "retired_at")


@admin.register(SubjectKey)
class SubjectKeyAdmin(TenantAdmin):
    list_display = ("id", "workspace", "subject_type", "subject_id", "workspace_key", "created_at", "shredded_at")
    list_filter = ("subject_type",)
    exclude = ("wrapped_key",)
    readonly_fields = ("workspace", "subject_type", "subject_id", "workspace_key", "created_at", "shredded_at")
