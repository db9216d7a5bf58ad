"""Signed checkpoints and pruning of the audit trail (ADR 0016).

Old events leave the trail in two steps, each its own retention store
(``audit/retention.py``): first ``checkpoint_sign`` re-verifies the events since the
previous checkpoint and signs the hash of the last event past its period; then
``audit_events_prune`` deletes events up to that checkpoint, oldest first, through
the database's guarded prune function. What is kept still verifies: its first event
links to the signed hash (``audit.selectors.verify_chain``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from audit import actions
from audit.models import AuditChain, AuditCheckpoint, AuditEvent, chain_key
from audit.selectors import GENESIS, _checkpoint_chain_problem, checkpoints_of, link_problem
from audit.services import audit_record
from audit.signing import checkpoint_signature, checkpoint_signature_problem
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope, no_workspace
from kernel.tenancy.rls import prune_append_only

PAGE = 2000  # events re-verified per read (each in its own short transaction)


class CheckpointRefused(Exception):
    """The chain does not verify where the checkpoint would vouch for it: nothing is
    signed and nothing is pruned, so the evidence stays for ``verify_audit_chain``."""


class PruneRefused(Exception):
    """The database refused to delete audit events the store found due (its floor or
    guard disagrees): the batch is rolled back whole."""


@contextmanager
def _scope(workspace: Any) -> Iterator[None]:
    """One transaction in the chain's tenancy: the workspace's, or none (the global chain)."""
    if workspace is None:
        with no_workspace(), db_scope():
            yield
    else:
        with workspace_context(workspace):
            yield


def prunable_before(*, cutoff: datetime) -> datetime:
    """The earlier of the retention cutoff and the database's floor for audit events
    (``AuditEvent.rls_prune_min_days``): what is due is exactly what may be deleted."""
    return min(cutoff, timezone.now() - timedelta(days=AuditEvent.rls_prune_min_days))


def checkpoint_latest(*, chain: str) -> AuditCheckpoint | None:
    return AuditCheckpoint.unscoped.filter(chain=chain).order_by("-seq").first()


def chain_events(*, workspace_id: int | None) -> QuerySet[AuditEvent]:
    """The events of one chain, filtered by workspace too so the (workspace, …) indexes serve."""
    events = AuditEvent.unscoped.filter(chain=chain_key(workspace_id))
    return events.filter(workspace__isnull=True) if workspace_id is None else events.filter(workspace_id=workspace_id)


def checkpoint_boundary(*, workspace_id: int | None, before: datetime) -> AuditEvent | None:
    """The newest event of the chain created before ``before``: where a checkpoint
    signed now would be (one index probe on (workspace, -created_at))."""
    return chain_events(workspace_id=workspace_id).filter(created_at__lt=before).order_by("-created_at", "-seq").first()


def _verified_through(
    workspace: Any, chain: str, latest: AuditCheckpoint | None, target: int, before: datetime
) -> AuditEvent | None:
    """Re-verify the events after ``latest`` up to ``target``; the last one a checkpoint
    may vouch for (None: none). Stops early at an event not older than ``before`` (a
    clock that went backwards), so everything up to a checkpoint is past its period."""
    expected_seq = latest.seq + 1 if latest is not None else 1
    expected_prev = latest.event_hash if latest is not None else GENESIS
    last: AuditEvent | None = None
    while expected_seq <= target:
        with _scope(workspace):
            page = list(
                AuditEvent.unscoped.filter(chain=chain, seq__gte=expected_seq, seq__lte=target).order_by("seq")[:PAGE]
            )
        if not page:
            raise CheckpointRefused(f"{chain}: event #{expected_seq} is missing (row deleted?)")
        for event in page:
            problem = link_problem(event, expected_seq=expected_seq, expected_prev=expected_prev)
            if problem is not None:
                raise CheckpointRefused(f"{chain}: event #{event.seq} (id {event.pk}): {problem}")
            if event.created_at >= before:
                return last
            last, expected_prev, expected_seq = event, event.hash, expected_seq + 1
    return last


def checkpoint_sign(*, workspace: Any, before: datetime) -> AuditCheckpoint | None:
    """Sign a checkpoint at the newest event of the workspace's chain (the global chain
    when ``workspace`` is None) created before ``before``; return the checkpoint that
    covers that event (new or already there), or None when no event is that old.

    Rules: a checkpoint vouches only for a chain it has just verified — the previous
    checkpoint's signature and every event since are checked first, and any fault
    raises ``CheckpointRefused`` with nothing signed; checkpoints only move forward
    and each signs the one before it; signing is audited (``audit.checkpoint_signed``
    with the signature, so removing a checkpoint is noticed). Reads in short
    transactions; the signature and its event commit together."""
    workspace_id = getattr(workspace, "pk", workspace)
    chain = chain_key(workspace_id)
    with _scope(workspace):
        boundary = checkpoint_boundary(workspace_id=workspace_id, before=before)
        latest = checkpoint_latest(chain=chain)
    if boundary is None:
        return None
    if latest is not None and latest.seq >= boundary.seq:
        return latest
    if latest is not None and (problem := checkpoint_signature_problem(latest)):
        raise CheckpointRefused(f"{chain}: the checkpoint at #{latest.seq} {problem}")
    through = _verified_through(workspace, chain, latest, boundary.seq, before)
    if through is None:
        return latest
    with _scope(workspace):
        AuditChain.objects.select_for_update().filter(key=chain).first()  # one signer per chain
        current = checkpoint_latest(chain=chain)
        if getattr(current, "pk", None) != getattr(latest, "pk", None):
            if current is not None and current.seq >= through.seq:
                return current
            raise CheckpointRefused(f"{chain}: another checkpoint was signed meanwhile; run again")
        first = AuditEvent.unscoped.filter(chain=chain).order_by("seq").values_list("seq", flat=True).first()
        checkpoint = AuditCheckpoint(
            chain=chain,
            workspace_id=workspace_id,
            seq=through.seq,
            event_hash=through.hash,
            event_created_at=through.created_at,
            first_seq=first or through.seq,
            signed_at=timezone.now(),
            previous_signature=latest.signature if latest is not None else "",
        )
        key_id, checkpoint.signature = checkpoint_signature(checkpoint)
        checkpoint.save(force_insert=True)
        audit_record(
            action=actions.AUDIT_CHECKPOINT_SIGNED,
            workspace=workspace_id,
            obj=checkpoint,
            metadata={
                "seq": checkpoint.seq,
                "signature": checkpoint.signature,
                "key_id": key_id,
                "first_seq": checkpoint.first_seq,
                "previous_seq": latest.seq if latest is not None else 0,
            },
        )
    return checkpoint


def audit_events_prune(*, workspace: Any, ids: list[Any], run_id: str = "") -> int:
    """Delete the audit events ``ids`` of the workspace's chain (the global chain when
    ``workspace`` is None) that continue the pruned part of the chain, oldest first, up
    to the newest signed checkpoint; how many went. Call it in the chain's tenancy.

    Rules: only a run of consecutive events starting at the oldest one kept, and only
    up to a checkpoint (the kept part must start from one; the database's prune
    function enforces the checkpoint and the one-year floor again); a deletion the
    database refuses in part raises ``PruneRefused`` so nothing of the batch goes;
    every pruning is audited (``audit.events_pruned`` with the last sequence number,
    which is where ``verify_chain`` expects the chain to start)."""
    workspace_id = getattr(workspace, "pk", workspace)
    chain = chain_key(workspace_id)
    latest = checkpoint_latest(chain=chain)
    if latest is None or not ids:
        return 0
    events = chain_events(workspace_id=workspace_id)
    first = events.order_by("seq").values_list("seq", flat=True).first()
    if first is None:
        return 0
    rows = sorted(events.filter(pk__in=ids, seq__lte=latest.seq).values_list("seq", "pk"))
    chosen: list[Any] = []
    expected = first
    for seq, pk in rows:
        if seq != expected:
            break
        chosen.append(pk)
        expected = seq + 1
    if not chosen:
        return 0
    # Prune only behind a checkpoint that proves itself: every checkpoint's signature and
    # link, and the event it names still there with the hash it signed. A row inserted
    # by anyone without the signing key deletes nothing.
    problem = _checkpoint_chain_problem(chain, checkpoints_of(chain=chain))
    named = events.filter(seq=latest.seq).values_list("hash", flat=True).first()
    if problem is not None or named != latest.event_hash:
        why = problem.reason if problem is not None else "the event it names is missing or changed"
        raise PruneRefused(f"{chain}: the checkpoint at #{latest.seq} does not verify ({why}): nothing pruned")
    deleted = prune_append_only(AuditEvent, chosen)
    if deleted != len(chosen):
        raise PruneRefused(
            f"{chain}: the database pruned {deleted} of {len(chosen)} events #{first}–#{expected - 1} "
            f"(younger than {AuditEvent.rls_prune_min_days} days or past the last checkpoint)"
        )
    audit_record(
        action=actions.AUDIT_EVENTS_PRUNED,
        workspace=workspace_id,
        metadata={
            "first_seq": first,
            "last_seq": expected - 1,
            "count": deleted,
            "checkpoint_seq": latest.seq,
            "run": run_id,
        },
    )
    return deleted
