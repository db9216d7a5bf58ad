"""Operator admin for the platform-wide privacy documents: policy versions and the
sub-processor register (neither belongs to a workspace)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Model
from django.forms import ModelForm
from django.http import HttpRequest

from accounts.types import request_user
from audit import actions
from audit.services import audit_record
from consent.models import PolicyVersion, SubProcessor
from consent.services import policy_publish


class PolicyVersionForm(ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = PolicyVersion
        fields = ("kind", "version", "effective_at", "material_change", "text")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if PolicyVersion.objects.filter(kind=data.get("kind"), version=data.get("version")).exists():
            raise ValidationError({"version": "This version already exists; publish a new one."})
        return data


@admin.register(PolicyVersion)
class PolicyVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Publishing is adding a version (through ``policy_publish``: hashed, audited, a
    material change notifies debtors). A published version is never edited or
    deleted: consent records point at its exact text."""

    form = PolicyVersionForm
    list_display = ("kind", "version", "effective_at", "material_change", "created_at")
    list_filter = ("kind", "material_change")
    ordering = ("kind", "-effective_at")
    readonly_fields = ("text_hash", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None:  # published: everything is read-only
            return ("kind", "version", "effective_at", "material_change", "text", "text_hash", "created_at")
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:
            return  # nothing is editable
        published = policy_publish(
            kind=obj.kind,
            version=obj.version,
            text=obj.text,
            effective_at=obj.effective_at,
            material_change=obj.material_change,
            actor=request_user(request),
        )
        obj.pk, obj.text_hash, obj.created_at = published.pk, published.text_hash, published.created_at
        obj._state.adding = False


@admin.register(SubProcessor)
class SubProcessorAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The public sub-processor register (``/legal/sub-processors/``); every change
    is audited."""

    list_display = ("name", "purpose", "region", "transfer_safeguard", "since")
    search_fields = ("name", "purpose")
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _audit(
            actions.SUBPROCESSOR_CHANGED if change else actions.SUBPROCESSOR_ADDED,
            obj,
            request,
            sorted(form.changed_data),
        )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        _audit(actions.SUBPROCESSOR_REMOVED, obj, request, [])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


def _audit(action: str, obj: Model, request: HttpRequest, fields: list[str]) -> None:
    audit_record(
        action=action,
        workspace=None,
        obj=obj,
        actor_user_id=getattr(request.user, "pk", None),
        metadata={"name": getattr(obj, "name", ""), "fields": fields},
    )
