from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import ApiKey, Client, Invitation, Membership, User, Workspace
from accounts.services import api_key_revoke
from kernel.admin_base import TenantAdmin


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ("email",)
    list_display = ("email", "full_name", "is_active", "is_staff", "date_joined")
    search_fields = ("email", "full_name")
    list_filter = ("is_active", "is_staff")
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Profile", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    filter_horizontal = ("groups",)


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("slug", "name", "jurisdiction", "currency", "timezone", "require_mfa", "created_at")
    list_filter = ("jurisdiction", "require_mfa")
    search_fields = ("slug", "name")
    readonly_fields = ("slug", "created_at")
    actions = ["work_in_workspace"]

    @admin.action(description="Work in this workspace (tenant lists show its rows)")
    def work_in_workspace(self, request: HttpRequest, queryset: QuerySet[Workspace]) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one workspace.", messages.WARNING)
            return
        ws = queryset.get()
        request.session["admin_workspace_id"] = ws.pk
        self.message_user(request, f"Now working in {ws.slug}.", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(TenantAdmin):
    list_display = ("user", "role", "client", "workspace", "created_at")
    list_filter = ("role",)
    search_fields = ("user__email",)
    readonly_fields = ("workspace", "user", "created_at")


@admin.register(Invitation)
class InvitationAdmin(TenantAdmin):
    list_display = ("email", "role", "workspace", "created_at", "expires_at", "accepted_at", "revoked_at")
    exclude = ("token_hash",)
    readonly_fields = (
        "workspace",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "revoked_at",
    )


@admin.register(ApiKey)
class ApiKeyAdmin(TenantAdmin):
    list_display = ("name", "prefix", "client", "workspace", "created_at", "last_used_at", "revoked_at")
    exclude = ("key_hash",)
    readonly_fields = ("workspace", "prefix", "client", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.action(description="Revoke selected keys")
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        for key in queryset:
            api_key_revoke(api_key=key, actor=request.user)  # type: ignore[arg-type]
        self.message_user(request, "Keys revoked.", messages.SUCCESS)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Client)
class ClientAdmin(TenantAdmin):
    list_display = ("name", "reference", "commission_rate_bps", "workspace", "created_at")
    search_fields = ("name", "reference")
    readonly_fields = ("workspace", "created_at")
