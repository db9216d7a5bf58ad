"""Placing, reviewing and lifting legal holds (the model is ``debtors.LegalHold``).

A hold keeps what it covers from purges, erasure and contact until someone with a
reason lifts it. Every change is audited in its own transaction, refreshes
``Debt.legal_hold`` on the debts it covers (``debtors.services.holds.legal_hold_sync``)
and, when it is about one debt or one person, writes a line on the timeline of each
debt concerned (a portfolio or the whole workspace would mean thousands of lines: the
holds page and the audit trail say it once).

Holds are kept after they are lifted (who lifted it, when and why), and several holds
may cover the same thing: a second court case on a debt already held is a second
hold, and lifting one leaves the other in force.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Client, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import Debt, Debtor, HoldReason, HoldScope, LegalHold
from debtors.services.holds import legal_hold_sync
from debtors.services.status import debt_event
from retention.selectors import workspace_today

# A review date further out than this is a typo, not a plan.
MAX_REVIEW_DAYS = 10 * 366
CASE_REFERENCE_MAX = 200
LIFT_REASON_MAX = 300


def _check_review_on(workspace: Workspace, review_on: Any, now: datetime | None) -> date:
    if not isinstance(review_on, date):
        raise ValidationError({"review_on": "Give the date someone must review this hold."})
    today = workspace_today(workspace, now or timezone.now())
    if review_on <= today:
        raise ValidationError({"review_on": f"A review date after today ({today:%Y-%m-%d})."})
    if review_on > today + timedelta(days=MAX_REVIEW_DAYS):
        raise ValidationError({"review_on": "A review date within the next ten years."})
    return review_on


def _same_workspace(workspace: Workspace, obj: Any, field: str) -> None:
    if obj is None or obj.workspace_id != workspace.pk:
        raise ValidationError({field: "Not found in this workspace."})


def _target(
    workspace: Workspace, scope: str, debt: Debt | None, debtor: Debtor | None, client: Client | None
) -> dict[str, Any]:
    """The one target the scope names, checked to belong to the workspace."""
    given = {"debt": debt, "debtor": debtor, "client": client}
    wanted = {"debt": "debt", "debtor": "debtor", "portfolio": "client"}.get(str(scope))
    extra = [name for name, value in given.items() if value is not None and name != wanted]
    if extra:
        raise ValidationError({"scope": f"A hold on {HoldScope(scope).label.lower()} names nothing else."})
    if wanted is None:
        return {}
    _same_workspace(workspace, given[wanted], wanted)
    return {wanted: given[wanted]}


def _debts_named(workspace: Workspace, hold: LegalHold) -> list[Debt] | None:
    """The debts whose timeline tells of this hold: one debt, or one person's debts;
    None for a portfolio or the workspace (too many: no timeline lines)."""
    qs = Debt.objects.for_workspace(workspace)
    if hold.scope == HoldScope.DEBT:
        return list(qs.filter(pk=hold.debt_id))
    if hold.scope == HoldScope.DEBTOR:
        return list(qs.filter(debtor_id=hold.debtor_id).order_by("created_at"))
    return None


def _sync(workspace: Workspace, hold: LegalHold, debts: list[Debt] | None) -> int:
    """Refresh ``Debt.legal_hold`` where this hold changes anything."""
    if debts is not None:
        return legal_hold_sync(workspace=workspace, debt_ids=[d.pk for d in debts]) if debts else 0
    if hold.scope == HoldScope.PORTFOLIO:
        ids = list(Debt.objects.for_workspace(workspace).filter(client_id=hold.client_id).values_list("pk", flat=True))
        return legal_hold_sync(workspace=workspace, debt_ids=ids)
    return legal_hold_sync(workspace=workspace)


def _timeline(debts: list[Debt] | None, summary: str, hold: LegalHold, actor: Actor) -> None:
    for debt in debts or []:
        debt_event(debt, "legal_hold", summary, obj=hold, actor=actor_user(actor))


def _target_metadata(hold: LegalHold) -> dict[str, Any]:
    """Ids only: the case reference and reasons in words stay on the hold (they may
    name people; the audit trail is kept far longer)."""
    return {
        "scope": hold.scope,
        "reason": hold.reason,
        "debt": str(hold.debt_id or ""),
        "debtor": str(hold.debtor_id or ""),
        "client": str(hold.client_id or ""),
        "review_on": hold.review_on.isoformat(),
    }


def legal_hold_place(
    *,
    workspace: Workspace,
    scope: str,
    reason: str,
    review_on: date,
    case_reference: str = "",
    debt: Debt | None = None,
    debtor: Debtor | None = None,
    client: Client | None = None,
    actor: Actor = None,
    now: datetime | None = None,
) -> LegalHold:
    """Place a hold on one debt, one debtor (all their debts), a client's portfolio
    (its debts now and later) or the whole workspace, with a reason and a review date
    after today. The target must be the workspace's own. Holding what is already held
    is allowed: each hold answers to its own case and is lifted on its own."""
    if scope not in HoldScope.values:
        raise ValidationError({"scope": "Choose what the hold covers."})
    if reason not in HoldReason.values:
        raise ValidationError({"reason": "Choose why the data must be kept."})
    target = _target(workspace, scope, debt, debtor, client)
    review_on = _check_review_on(workspace, review_on, now)
    case_reference = " ".join((case_reference or "").split())
    if len(case_reference) > CASE_REFERENCE_MAX:
        raise ValidationError({"case_reference": f"At most {CASE_REFERENCE_MAX} characters."})
    with transaction.atomic():
        hold = LegalHold(
            workspace=workspace,
            scope=scope,
            reason=reason,
            case_reference=case_reference,
            review_on=review_on,
            placed_by=actor_user(actor),
            placed_at=now or timezone.now(),
            **target,
        )
        hold.save(force_insert=True)
        debts = _debts_named(workspace, hold)
        changed = _sync(workspace, hold, debts)
        _timeline(
            debts,
            f"Legal hold placed ({HoldReason(reason).label.lower()}); review by {review_on:%Y-%m-%d}",
            hold,
            actor,
        )
        audit_record(
            action=actions.LEGAL_HOLD_PLACED,
            workspace=workspace,
            obj=hold,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={**_target_metadata(hold), "debts_newly_held": changed},
        )
    return hold


def _locked_active(workspace: Workspace, hold: LegalHold) -> LegalHold:
    locked = LegalHold.objects.for_workspace(workspace).select_for_update().filter(pk=hold.pk).first()
    if locked is None:
        raise ValidationError({"hold": "Not found in this workspace."})
    if locked.lifted_at is not None:
        raise ValidationError({"hold": f"This hold was already lifted on {locked.lifted_at:%Y-%m-%d}."})
    return locked


def legal_hold_lift(
    *, workspace: Workspace, hold: LegalHold, reason: str, actor: Actor = None, now: datetime | None = None
) -> LegalHold:
    """Lift one active hold, saying why. What it covered is purged and contacted
    again only where no other active hold still covers it."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why the hold is no longer needed (the case closed, the inquiry ended…)."})
    if len(reason) > LIFT_REASON_MAX:
        raise ValidationError({"reason": f"At most {LIFT_REASON_MAX} characters."})
    with transaction.atomic():
        hold = _locked_active(workspace, hold)
        hold.lifted_at = now or timezone.now()
        hold.lifted_by = actor_user(actor)
        hold.lift_reason = reason
        hold.save(update_fields=["lifted_at", "lifted_by", "lift_reason"])
        debts = _debts_named(workspace, hold)
        changed = _sync(workspace, hold, debts)
        still = set(
            Debt.objects.for_workspace(workspace)
            .filter(pk__in=[d.pk for d in debts or []], legal_hold=True)
            .values_list("pk", flat=True)
        )
        for debt in debts or []:
            summary = f"Legal hold lifted ({HoldReason(hold.reason).label.lower()})"
            if debt.pk in still:
                summary += "; another hold still covers this debt"
            debt_event(debt, "legal_hold", summary, obj=hold, actor=actor_user(actor))
        audit_record(
            action=actions.LEGAL_HOLD_LIFTED,
            workspace=workspace,
            obj=hold,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={**_target_metadata(hold), "debts_released": changed},
        )
    return hold


def legal_hold_review(
    *, workspace: Workspace, hold: LegalHold, review_on: date, actor: Actor = None, now: datetime | None = None
) -> LegalHold:
    """Record that an active hold was reviewed and is still needed, with the date of
    its next review (after today)."""
    review_on = _check_review_on(workspace, review_on, now)
    with transaction.atomic():
        hold = _locked_active(workspace, hold)
        was = hold.review_on
        hold.review_on = review_on
        hold.save(update_fields=["review_on"])
        _timeline(
            _debts_named(workspace, hold),
            f"Legal hold reviewed: still needed; next review {review_on:%Y-%m-%d}",
            hold,
            actor,
        )
        audit_record(
            action=actions.LEGAL_HOLD_REVIEWED,
            workspace=workspace,
            obj=hold,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={**_target_metadata(hold), "was": was.isoformat()},
        )
    return hold


def legal_holds_export_record(*, workspace: Workspace, rows: int, filters: list[str], actor: Actor = None) -> None:
    """The holds list left the application as a file (debt references are the
    debtors' data): recorded before the file is sent."""
    audit_record(
        action=actions.RETENTION_HOLDS_EXPORTED,
        workspace=workspace,
        actor_user_id=getattr(actor_user(actor), "pk", None),
        object_type="debtors.legalhold",
        metadata={"rows": rows, "filters": sorted(filters)},
    )
