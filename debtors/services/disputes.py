"""Disputes: an open dispute puts the debt on hold (status 'disputed') until resolved."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.types import Actor
from audit import actions
from audit.services import audit_record
from debtors.models import ALLOWED_TRANSITIONS, NOT_COLLECTABLE, Debt, DebtStatus, Dispute, DisputeStatus
from debtors.services.debtors import refuse_if_erased
from debtors.services.status import debt_event, debt_lock, debt_status_set

REASONS = {"not_mine", "wrong_amount", "paid", "identity_theft", "other"}


def dispute_open(*, debt: Debt, reason: str, details: str = "", source: str = "agent", actor: Actor = None) -> Dispute:
    """Open a dispute (its details encrypted under the person's key); refused once the
    person was erased (``PersonErased``)."""
    refuse_if_erased(workspace_id=debt.workspace_id, debtor_id=debt.debtor_id)
    if reason not in REASONS:
        raise ValidationError({"reason": f"Use one of: {', '.join(sorted(REASONS))}."})
    with transaction.atomic():
        debt = debt_lock(debt)
        if Dispute.objects.for_workspace(debt.workspace_id).filter(debt=debt, status=DisputeStatus.OPEN).exists():
            raise ValidationError({"debt": "This debt already has an open dispute."})
        dispute = Dispute(
            workspace_id=debt.workspace_id,
            debt=debt,
            debtor_id=debt.debtor_id,
            reason=reason,
            details=details or None,
            source=source,
        )
        dispute.save(force_insert=True)
        if debt.status != DebtStatus.DISPUTED:
            Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(status_before_hold=debt.status)
            debt.status_before_hold = debt.status
            if DebtStatus.DISPUTED in ALLOWED_TRANSITIONS[debt.status]:
                debt_status_set(debt, DebtStatus.DISPUTED, actor=actor, reason=f"dispute: {reason}")
        debt_event(debt, "dispute_opened", f"Dispute opened ({reason})", obj=dispute, actor=actor)
        audit_record(
            action=actions.DISPUTE_OPENED,
            workspace=debt.workspace_id,
            obj=dispute,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"reason": reason, "source": source},
        )
    return dispute


def dispute_resolve(*, dispute: Dispute, upheld: bool, resolution: str, actor: Actor = None) -> Dispute:
    """Upheld: the debt is closed (correct the ledger separately if the amount was
    wrong). Rejected: collection resumes in the status it had before."""
    if not resolution.strip():
        raise ValidationError({"resolution": "Describe the outcome."})
    with transaction.atomic():
        debt = debt_lock(dispute.debt)
        if (
            not Dispute.objects.for_workspace(dispute.workspace_id)
            .filter(pk=dispute.pk, status=DisputeStatus.OPEN)
            .update(
                status=DisputeStatus.UPHELD if upheld else DisputeStatus.REJECTED,
                resolved_at=timezone.now(),
                resolution=resolution[:200],
            )
        ):
            raise ValidationError({"dispute": "This dispute is already resolved."})
        dispute.refresh_from_db()
        if debt.status == DebtStatus.DISPUTED:
            if upheld:
                debt_status_set(debt, DebtStatus.CLOSED, actor=actor, reason="dispute upheld")
            else:
                back = debt.status_before_hold or DebtStatus.ACTIVE
                # Resume collection; where the table has no way back to the old
                # status (promise, payment plan), resume as active.
                if back in NOT_COLLECTABLE or back not in ALLOWED_TRANSITIONS[DebtStatus.DISPUTED]:
                    back = DebtStatus.ACTIVE
                debt_status_set(debt, back, actor=actor, reason="dispute rejected")
        debt_event(debt, "dispute_resolved", f"Dispute {'upheld' if upheld else 'rejected'}", obj=dispute, actor=actor)
        audit_record(
            action=actions.DISPUTE_RESOLVED,
            workspace=debt.workspace_id,
            obj=dispute,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"upheld": upheld},
        )
    return dispute
