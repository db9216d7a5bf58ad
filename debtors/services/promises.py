"""Promises to pay: kept when payments since the promise reach its amount by the
due date, broken otherwise — evaluated on each payment and by a daily task."""

from __future__ import annotations

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import NOT_COLLECTABLE, Debt, DebtStatus, EntryKind, LedgerEntry, PromiseStatus, PromiseToPay
from debtors.services.status import activate_if_new, debt_event, debt_lock, debt_status_set


def promise_create(*, debt: Debt, amount_minor: int, due_on: date, actor: Actor = None) -> PromiseToPay:
    if amount_minor <= 0:
        raise ValidationError({"amount": "The promised amount must be positive."})
    if due_on < timezone.localdate():
        raise ValidationError({"due_on": "The promise date cannot be in the past."})
    with transaction.atomic():
        debt = debt_lock(debt)
        if debt.status in NOT_COLLECTABLE:
            raise ValidationError(
                {"debt": f"The debt is {debt.get_status_display().lower()}; it is not being collected."}
            )
        if amount_minor > debt.balance_minor:
            raise ValidationError({"amount": "The promise exceeds the balance."})
        PromiseToPay.objects.for_workspace(debt.workspace_id).filter(debt=debt, status=PromiseStatus.PENDING).update(
            status=PromiseStatus.CANCELLED, evaluated_at=timezone.now()
        )
        promise = PromiseToPay.objects.for_workspace(debt.workspace_id).create(
            workspace_id=debt.workspace_id,
            debt=debt,
            amount_minor=amount_minor,
            due_on=due_on,
            created_by=actor_user(actor),
        )
        activate_if_new(debt, actor=actor)
        if debt.status == DebtStatus.ACTIVE:
            debt_status_set(debt, DebtStatus.PROMISE, actor=actor, reason="promise to pay")
        debt_event(debt, "promise", f"Promise to pay by {due_on}", amount_minor=amount_minor, obj=promise, actor=actor)
        audit_record(
            action=actions.PROMISE_CREATED,
            workspace=debt.workspace_id,
            obj=promise,
            actor_user_id=getattr(actor, "pk", None),
        )
    return promise


def _paid_since(promise: PromiseToPay) -> int:
    total = (
        LedgerEntry.objects.for_workspace(promise.workspace_id)
        .filter(debt_id=promise.debt_id, kind=EntryKind.PAYMENT, posted_at__gte=promise.made_at)
        .aggregate(s=Sum("amount_minor"))["s"]
    )
    return -(total or 0)


def promises_check_kept(*, debt: Debt) -> None:
    """After a payment: a pending promise whose amount is now covered is kept."""
    for promise in PromiseToPay.objects.for_workspace(debt.workspace_id).filter(
        debt=debt, status=PromiseStatus.PENDING
    ):
        if _paid_since(promise) >= promise.amount_minor:
            PromiseToPay.objects.for_workspace(debt.workspace_id).filter(
                pk=promise.pk, status=PromiseStatus.PENDING
            ).update(status=PromiseStatus.KEPT, evaluated_at=timezone.now())
            debt_event(debt, "promise_kept", "Promise kept", amount_minor=promise.amount_minor, obj=promise)
            if debt.status == DebtStatus.PROMISE and debt.balance_minor > 0:
                debt_status_set(debt, DebtStatus.ACTIVE, reason="promise kept")


def promises_evaluate(*, workspace_id: int, today: date | None = None) -> dict[str, int]:
    """Daily: pending promises whose date has passed are kept or broken."""
    today = today or timezone.localdate()
    counts = {"kept": 0, "broken": 0}
    due = (
        PromiseToPay.objects.for_workspace(workspace_id)
        .filter(status=PromiseStatus.PENDING, due_on__lt=today)
        .select_related("debt")
    )
    for promise in due:
        with transaction.atomic():
            kept = _paid_since(promise) >= promise.amount_minor
            status = PromiseStatus.KEPT if kept else PromiseStatus.BROKEN
            if (
                not PromiseToPay.objects.for_workspace(workspace_id)
                .filter(pk=promise.pk, status=PromiseStatus.PENDING)
                .update(status=status, evaluated_at=timezone.now())
            ):
                continue
            counts["kept" if kept else "broken"] += 1
            debt = debt_lock(promise.debt)
            debt_event(
                debt,
                f"promise_{status}",
                f"Promise due {promise.due_on} {status}",
                amount_minor=promise.amount_minor,
                obj=promise,
            )
            if debt.status == DebtStatus.PROMISE:
                debt_status_set(debt, DebtStatus.ACTIVE, reason=f"promise {status}")
    return counts
