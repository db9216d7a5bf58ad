"""The audit app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

The audit trail is kept for ``SECURITY_LOGS`` (a year: DPDP Rules r.8(3)). Two stores
per chain, in this order (ADR 0016): ``audit.checkpoint`` signs a checkpoint at the
last event past the period, after re-verifying the chain up to it; ``audit.events``
then deletes the events up to that checkpoint. The global chain (security events of
no workspace) has the same pair as installation-wide stores.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from audit.checkpoints import (
    audit_events_prune,
    chain_events,
    checkpoint_boundary,
    checkpoint_latest,
    checkpoint_sign,
    prunable_before,
)
from audit.models import AuditEvent, chain_key
from kernel.privacy.registry import SECURITY_LOGS
from kernel.retention import Action, PurgeContext, RetentionStore, Scope, register_store

ORDER = 900  # after the domain stores; the checkpoint before the deletion it allows


def _workspace_id(ctx: PurgeContext) -> int | None:
    return getattr(ctx.workspace, "pk", None)


def _before(ctx: PurgeContext) -> datetime:
    return prunable_before(cutoff=ctx.cutoff)


def _held(ctx: PurgeContext) -> bool:
    # A hold on the whole workspace keeps its audit trail too. The audit app sits below
    # the holds (debtors), so the engine says so in the context.
    return bool(ctx.options.get("workspace_held"))


def _checkpoint_due(ctx: PurgeContext) -> list[str]:
    """The chain, when events past the period are not yet behind a signed checkpoint."""
    if _held(ctx):
        return []
    boundary = checkpoint_boundary(workspace_id=_workspace_id(ctx), before=_before(ctx))
    if boundary is None:
        return []
    latest = checkpoint_latest(chain=boundary.chain)
    return [boundary.chain] if latest is None or latest.seq < boundary.seq else []


def _checkpoint_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    # Not atomic: re-verifying a year of events takes longer than one short transaction.
    # Applied again (a crash before the count was recorded), it finds its checkpoint and counts it again.
    return 1 if keys and checkpoint_sign(workspace=ctx.workspace, before=_before(ctx)) is not None else 0


def _checkpoint_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    boundary = checkpoint_boundary(workspace_id=_workspace_id(ctx), before=_before(ctx))
    if boundary is None:
        return []
    return [f"{boundary.chain}: sign a checkpoint at event #{boundary.seq} ({boundary.created_at:%Y-%m-%d})"]


def _events_due(ctx: PurgeContext) -> QuerySet[AuditEvent]:
    """Events past the period and behind the newest signed checkpoint (in a dry run,
    behind the checkpoint the run would sign)."""
    workspace_id = _workspace_id(ctx)
    events = chain_events(workspace_id=workspace_id)
    if _held(ctx):
        return events.none()
    before = _before(ctx)
    if ctx.dry_run:
        boundary = checkpoint_boundary(workspace_id=workspace_id, before=before)
        limit = boundary.seq if boundary is not None else 0
    else:
        latest = checkpoint_latest(chain=chain_key(workspace_id))
        limit = latest.seq if latest is not None else 0
    return events.filter(seq__lte=limit, created_at__lt=before)


def _events_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    return audit_events_prune(workspace=ctx.workspace, ids=keys, run_id=ctx.run_id)


def _events_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = AuditEvent.unscoped.filter(pk__in=keys).order_by("seq").values_list("chain", "seq", "created_at", "action")
    return [f"{chain} #{seq} {created:%Y-%m-%d} {action}" for chain, seq, created, action in rows]


_CHECKPOINT_COVERS = (
    "a signed statement of the chain's hash at the last event past its period, where the kept part starts"
)
_EVENTS_COVERS = "who did what and when: actor ids, IP address and browser, object ids and field names"

for scope, prefix, where in (
    (Scope.WORKSPACE, "audit", "the workspace's"),
    (Scope.GLOBAL, "audit.global", "the installation's"),
):
    register_store(
        RetentionStore(
            name=f"{prefix}.checkpoint",
            rule=SECURITY_LOGS,
            label=f"Audit trail checkpoint ({where} chain)",
            covers=_CHECKPOINT_COVERS,
            action=Action.CHECKPOINT,
            due=_checkpoint_due,
            apply=_checkpoint_apply,
            scope=scope,
            atomic=False,
            order=ORDER,
            describe=_checkpoint_describe,
        )
    )
    register_store(
        RetentionStore(
            name=f"{prefix}.events",
            rule=SECURITY_LOGS,
            label=f"Audit trail ({where} chain)",
            covers=_EVENTS_COVERS,
            action=Action.DELETE,
            due=_events_due,
            apply=_events_apply,
            scope=scope,
            models=("audit.auditevent",),
            order=ORDER + 1,
            describe=_events_describe,
        )
    )
