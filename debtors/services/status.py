"""A debt's row lock, its status transitions and its timeline: what every debt
service (ledger, plans, promises, offers, disputes) writes through. Kept apart
from the ledger so those services and the ledger can use each other's rules
without importing each other."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.services import audit_record
from debtors.models import ALLOWED_TRANSITIONS, Debt, DebtEvent, DebtStatus
from debtors.services.priority import rescore


def debt_event(
    debt: Debt, kind: str, summary: str, *, amount_minor: int | None = None, obj: Any = None, actor: Any = None
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
        actor=actor if getattr(actor, "pk", None) else None,
    )


def _lock(debt: Debt) -> Debt:
    return Debt.objects.for_workspace(debt.workspace_id).select_for_update().get(pk=debt.pk)


def _set_status(debt: Debt, status: str, *, actor: Any = None, reason: str = "") -> Debt:
    """Move a debt along an allowed transition (caller holds the row lock)."""
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
        action="debt.status_changed",
        workspace=debt.workspace_id,
        obj=debt,
        actor_user_id=getattr(actor, "pk", None),
        metadata={"from": old, "to": status},
    )
    return debt


def activate_if_new(debt: Debt, *, actor: Any = None) -> Debt:
    """Working a debt that was just placed (a plan, a settlement) starts collection."""
    if debt.status == DebtStatus.NEW:
        _set_status(debt, DebtStatus.ACTIVE, actor=actor, reason="collection started")
    return debt
