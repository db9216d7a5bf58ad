"""Key rotation without downtime.

1. Each workspace gets a fresh workspace key wrapped by the primary master key
   (if its newest one is under an older master, or when ``new_workspace_keys``).
2. Subject keys still under an older workspace key are re-wrapped to the new one,
   in batches, one transaction per batch. A subject key's material does not
   change, so every field value stays readable throughout; an interrupted run is
   simply run again and continues where it stopped (it selects what is left).
3. Workspace keys that no subject key uses any more are retired (material erased).
   When no live workspace key refers to an old master key, that master key can be
   removed from FIELD_ENCRYPTION_KEYS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from audit import actions
from audit.services import audit_record
from kernel.crypto import keyring
from kernel.crypto.keys import get_key_provider
from kernel.models import SubjectKey, WorkspaceKey
from kernel.tenancy import workspace_context


@dataclass
class RotationResult:
    workspaces: int = 0
    new_workspace_keys: int = 0
    rewrapped: int = 0
    remaining: int = 0
    retired: int = 0


def pending_count(workspace: Workspace) -> int:
    with workspace_context(workspace):
        active = keyring.active_workspace_key(workspace.pk)
        return SubjectKey.objects.exclude(workspace_key=active).filter(shredded_at__isnull=True).count()


def rotate_workspace(
    workspace: Workspace,
    *,
    batch_size: int = 500,
    max_batches: int | None = None,
    new_workspace_key: bool = False,
    on_batch: Callable[[int], None] | None = None,
    result: RotationResult | None = None,
) -> RotationResult:
    result = result or RotationResult()
    result.workspaces += 1
    primary = get_key_provider().primary_key_id
    with workspace_context(workspace):
        newest = WorkspaceKey.objects.filter(retired_at__isnull=True).order_by("-created_at").first()
        if newest is None or newest.master_key_id != primary or new_workspace_key:
            keyring.workspace_key_create(workspace.pk)
            keyring.clear_cache()
            result.new_workspace_keys += 1
        active = keyring.active_workspace_key(workspace.pk)
    batches = 0
    while max_batches is None or batches < max_batches:
        with workspace_context(workspace):
            batch = list(
                SubjectKey.objects.exclude(workspace_key=active)
                .filter(shredded_at__isnull=True)
                .order_by("pk")[:batch_size]
            )
            if not batch:
                break
            for sk in batch:
                keyring.subject_key_rewrap(sk, active)
        batches += 1
        result.rewrapped += len(batch)
        if on_batch:
            on_batch(len(batch))
    with workspace_context(workspace):
        remaining = SubjectKey.objects.exclude(workspace_key=active).filter(shredded_at__isnull=True).count()
        result.remaining += remaining
        if remaining == 0:
            with transaction.atomic():
                # Shredded subject keys hold no material; move them so old keys can retire.
                SubjectKey.objects.exclude(workspace_key=active).filter(shredded_at__isnull=False).update(
                    workspace_key=active
                )
                # Retire only keys nothing refers to (a key another process just created stays).
                retired = (
                    WorkspaceKey.objects.exclude(pk=active.pk)
                    .exclude(pk__in=SubjectKey.objects.values("workspace_key_id"))
                    .filter(retired_at__isnull=True)
                    .update(retired_at=timezone.now(), wrapped_key=b"")
                )
                result.retired += retired
                audit_record(
                    action=actions.KEYS_ROTATED,
                    workspace=workspace,
                    metadata={"master_key_id": primary, "workspace_key": str(active.pk), "retired": retired},
                )
    keyring.clear_cache()
    return result


def master_keys_in_use() -> dict[str, int]:
    """Master key id → number of live workspace keys wrapped by it (all workspaces)."""
    counts: dict[str, int] = {}
    for ws in Workspace.objects.all():
        with workspace_context(ws):
            for master_id in WorkspaceKey.objects.filter(retired_at__isnull=True).values_list(
                "master_key_id", flat=True
            ):
                counts[master_id] = counts.get(master_id, 0) + 1
    return counts
