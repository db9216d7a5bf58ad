"""Base classes for tenant-owned models."""

from __future__ import annotations

import os
import time
import uuid
from typing import Any, ClassVar, TypeVar

from django.db import models

from kernel.tenancy.context import current_workspace_id

_M = TypeVar("_M", bound=models.Model)


_UUID7_RAND = ((1 << 80) - 1) & ~(0xF << 76) & ~(0b11 << 62)  # the 74 random bits
_UUID7_FIXED = (0x7 << 76) | (0b10 << 62)  # version 7, RFC 9562 variant
_MS48 = (1 << 48) - 1


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): unguessable like uuid4, but new
    rows land at the end of B-tree indexes, which keeps big tables fast.

    Built without ``UUID.__init__`` (which re-validates the integer): imports make
    millions of these, and this costs a third of the constructor's time."""
    value = (
        ((time.time_ns() // 1_000_000) & _MS48) << 80
        | (int.from_bytes(os.urandom(10), "big") & _UUID7_RAND)
        | _UUID7_FIXED
    )
    made = object.__new__(uuid.UUID)
    object.__setattr__(made, "int", value)
    object.__setattr__(made, "is_safe", uuid.SafeUUID.unknown)
    return made


def stable_label(model: type[models.Model] | models.Model) -> str:
    """The model's name as bound into ciphertexts, blind indexes and audit events.

    A model moved to another app declares its first name in ``stable_label``, so
    its values still decrypt, its blind indexes still match and its audit history
    reads as one (ADR 0015)."""
    return getattr(model, "stable_label", None) or model._meta.label_lower


class TenantQuerySet(models.QuerySet[_M]):
    pass


class TenantManager(models.Manager[_M]):
    """The default manager of every tenant model: rows of the current workspace only.

    Raises ``WorkspaceNotSet`` when no workspace is in context. Use
    ``for_workspace(ws)`` to name the workspace explicitly.
    """

    def get_queryset(self) -> models.QuerySet[_M]:
        return super().get_queryset().filter(workspace_id=current_workspace_id())

    def for_workspace(self, workspace: Any) -> models.QuerySet[_M]:
        workspace_id = getattr(workspace, "pk", workspace)
        if workspace_id is None:
            raise ValueError("for_workspace() needs a saved workspace")
        return super().get_queryset().filter(workspace_id=workspace_id)


class TenantModel(models.Model):
    """A row owned by one workspace.

    ``objects`` is scoped to the current workspace; ``unscoped`` exists for the
    operator admin and cross-workspace system jobs, which must say so explicitly.
    PostgreSQL row-level security is created for every concrete subclass
    (``kernel.tenancy.rls``). ``rls_extra_read`` may widen *reads* with one more
    predicate (e.g. an API key row readable by the hash of the presented key).
    """

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    workspace = models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+")

    objects: ClassVar[TenantManager[Any]] = TenantManager()
    unscoped: ClassVar[models.Manager[Any]] = models.Manager()

    rls_extra_read: ClassVar[str] = ""

    class Meta:
        abstract = True


def workspace_key_unindexed() -> models.ForeignKey[Any, Any]:
    """``TenantModel.workspace`` without its own index, for the high-volume tables
    whose every index already starts with ``workspace``: an index on the tenant
    column alone would only slow their writes (a placement import writes millions of
    rows). Tenant queries, and row-level security, use those composite indexes."""
    return models.ForeignKey("accounts.Workspace", on_delete=models.CASCADE, related_name="+", db_index=False)


def tenant_models() -> list[type[models.Model]]:
    from django.apps import apps

    return [m for m in apps.get_models() if issubclass(m, TenantModel) and not m._meta.abstract and m._meta.managed]


class WorkspaceKey(TenantModel):
    """A workspace's key-encryption key, stored wrapped by a master key."""

    master_key_id = models.CharField(max_length=32)
    wrapped_key = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "retired_at", "created_at"])]

    def __str__(self) -> str:
        return f"workspace key {self.pk} (master {self.master_key_id})"


class SubjectKey(TenantModel):
    """One person's (or the workspace's own) data key, wrapped by a workspace key.

    Deleting ``wrapped_key`` (crypto-shredding) makes every value encrypted under it
    unreadable at once, including copies in backups."""

    subject_type = models.CharField(max_length=32)
    subject_id = models.CharField(max_length=64)
    workspace = workspace_key_unindexed()
    # Rotation finds keys by (workspace, workspace_key); a key is never deleted.
    workspace_key = models.ForeignKey(WorkspaceKey, on_delete=models.PROTECT, related_name="+", db_index=False)
    wrapped_key = models.BinaryField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)
    shredded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "subject_type", "subject_id"], name="subject_key_unique_subject"
            )
        ]
        indexes = [models.Index(fields=["workspace", "workspace_key"])]

    def __str__(self) -> str:
        return f"{self.subject_type}:{self.subject_id}"
