"""A debt's row lock, its status transitions and its timeline: what every debt
service (ledger, plans, promises, offers, disputes) writes through. Kept apart
from the ledger so those services and the ledger can use each other's rules
without importing each other."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import ALLOWED_TRANSITIONS, Debt, DebtEvent, DebtStatus
from debtors.services.priority import rescore


def debt_event(
    debt: Debt, kind: str, summary: str, *, amount_minor: int | None = None, obj: Any = None, actor: Actor = None
) -> DebtEvent:
    """Add a line to the debt's timeline (no personal data in ``summary``)."""
    return DebtEvent.objects.for_workspace(debt.workspace_id).create(
        workspace_id=debt.workspace_id,
        debt=debt,
        kind=kind,
        summary=summary[:200],
        amount_minor=amount_minor,
        object_type=obj._meta.model_name if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        actor=actor_user(actor),
    )


def debt_lock(debt: Debt) -> Debt:
    """The debt's row, locked for this transaction. Every writer of a debt's money
    or status takes this lock first, so concurrent writers queue on the debt."""
    return Debt.objects.for_workspace(debt.workspace_id).select_for_update().get(pk=debt.pk)


def debt_status_set(debt: Debt, status: str, *, actor: Actor = None, reason: str = "") -> Debt:
    """Move a debt along an allowed transition (the caller holds ``debt_lock``):
    the status, its priority score, a timeline line and an audit event together."""
    old = debt.status
    if status == old:
        return debt
    if status not in ALLOWED_TRANSITIONS[old]:
        raise ValidationError({"status": f"A debt cannot go from {old} to {status}."})
    Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(status=status, updated_at=timezone.now())
    debt.status = status
    rescore(debt)
    debt_event(debt, "status", f"Status {old} → {status}" + (f" ({reason})" if reason else ""), actor=actor)
    audit_record(
        action=actions.DEBT_STATUS_CHANGED,
        workspace=debt.workspace_id,
        obj=debt,
        actor_user_id=getattr(actor, "pk", None),
        metadata={"from": old, "to": status},
    )
    return debt


def activate_if_new(debt: Debt, *, actor: Actor = None) -> Debt:
    """Working a debt that was just placed (a plan, a settlement) starts collection."""
    if debt.status == DebtStatus.NEW:
        debt_status_set(debt, DebtStatus.ACTIVE, actor=actor, reason="collection started")
    return debt
