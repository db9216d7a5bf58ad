"""Payment plans with installments; missed installments are detected daily."""

from __future__ import annotations

from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import (
    NOT_COLLECTABLE,
    Debt,
    DebtStatus,
    Installment,
    InstallmentAllocation,
    InstallmentStatus,
    LedgerEntry,
    PaymentPlan,
    PlanStatus,
)
from debtors.services.status import activate_if_new, debt_event, debt_lock, debt_status_set

FREQUENCIES = {"weekly": 7, "biweekly": 14, "monthly": None}
MAX_INSTALLMENTS = 120


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    # Clamp to the month's last day (31 Jan + 1 month = 28/29 Feb).
    for d in (day.day, 30, 29, 28):
        try:
            return day.replace(year=year, month=month, day=d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def plan_schedule(*, total_minor: int, count: int, frequency: str, first_due: date) -> list[tuple[date, int]]:
    """Split ``total`` into ``count`` installments; the remainder goes to the last one
    so the schedule sums exactly to the total."""
    if frequency not in FREQUENCIES:
        raise ValidationError({"frequency": "Use weekly, biweekly or monthly."})
    if not 1 <= count <= MAX_INSTALLMENTS:
        raise ValidationError({"installments": f"Between 1 and {MAX_INSTALLMENTS} installments."})
    if total_minor <= 0:
        raise ValidationError({"total": "The plan total must be positive."})
    base, remainder = divmod(total_minor, count)
    if base == 0:
        raise ValidationError({"installments": "Too many installments for this amount."})
    step = FREQUENCIES[frequency]
    out = []
    for i in range(count):
        due = first_due + timedelta(days=step * i) if step else _add_months(first_due, i)
        out.append((due, base + (remainder if i == count - 1 else 0)))
    return out


def plan_create(
    *, debt: Debt, total_minor: int, count: int, frequency: str, first_due: date, actor: Actor = None
) -> PaymentPlan:
    """One active plan per debt; the debt moves to 'payment plan'."""
    schedule = plan_schedule(total_minor=total_minor, count=count, frequency=frequency, first_due=first_due)
    if first_due < timezone.localdate():
        raise ValidationError({"first_due": "The first installment cannot be in the past."})
    with transaction.atomic():
        debt = debt_lock(debt)
        if debt.status in NOT_COLLECTABLE:
            raise ValidationError(
                {"debt": f"The debt is {debt.get_status_display().lower()}; it is not being collected."}
            )
        if total_minor > debt.balance_minor:
            raise ValidationError({"total": "The plan total exceeds the balance."})
        if PaymentPlan.objects.for_workspace(debt.workspace_id).filter(debt=debt, status=PlanStatus.ACTIVE).exists():
            raise ValidationError({"plan": "This debt already has an active plan."})
        plan = PaymentPlan.objects.for_workspace(debt.workspace_id).create(
            workspace_id=debt.workspace_id,
            debt=debt,
            total_minor=total_minor,
            frequency=frequency,
            created_by=actor_user(actor),
        )
        Installment.objects.for_workspace(debt.workspace_id).bulk_create(
            [
                Installment(workspace_id=debt.workspace_id, plan=plan, seq=i + 1, due_on=due, amount_minor=amount)
                for i, (due, amount) in enumerate(schedule)
            ]
        )
        activate_if_new(debt, actor=actor)
        if debt.status != DebtStatus.PAYMENT_PLAN:
            debt_status_set(debt, DebtStatus.PAYMENT_PLAN, actor=actor, reason="plan agreed")
        debt_event(
            debt,
            "plan_created",
            f"Payment plan: {count} × {frequency}",
            amount_minor=total_minor,
            obj=plan,
            actor=actor,
        )
        audit_record(
            action=actions.PLAN_CREATED, workspace=debt.workspace_id, obj=plan, actor_user_id=getattr(actor, "pk", None)
        )
    return plan


def allocate_payment_to_plan(*, debt: Debt, amount_minor: int, entry: LedgerEntry | None = None) -> None:
    """Apply a payment to the active plan's oldest unpaid installments, recording
    each share against ``entry`` (so a reversal can take back exactly that)."""
    ws = debt.workspace_id
    plan = (
        PaymentPlan.objects.for_workspace(ws)
        .filter(debt=debt, status=PlanStatus.ACTIVE)
        .order_by("-created_at")
        .first()
    )
    if plan is None:
        return
    remaining = amount_minor
    shares: list[InstallmentAllocation] = []
    for inst in (
        Installment.objects.for_workspace(ws).filter(plan=plan).exclude(status=InstallmentStatus.PAID).order_by("seq")
    ):
        if remaining <= 0:
            break
        take = min(remaining, inst.amount_minor - inst.paid_minor)
        if take <= 0:
            continue
        inst.paid_minor += take
        remaining -= take
        if inst.paid_minor >= inst.amount_minor:
            inst.status = InstallmentStatus.PAID
        inst.save(update_fields=["paid_minor", "status"])
        if entry is not None:
            shares.append(InstallmentAllocation(workspace_id=ws, entry=entry, installment=inst, amount_minor=take))
    InstallmentAllocation.objects.for_workspace(ws).bulk_create(shares)
    if not Installment.objects.for_workspace(ws).filter(plan=plan).exclude(status=InstallmentStatus.PAID).exists():
        plan.status = PlanStatus.COMPLETED
        plan.save(update_fields=["status"])
        debt_event(debt, "plan_completed", "Payment plan completed", obj=plan)
        # Money still owed beyond the plan: the debt is no longer on a plan.
        if debt.status == DebtStatus.PAYMENT_PLAN and debt.balance_minor > 0:
            debt_status_set(debt, DebtStatus.ACTIVE, reason="plan completed")


def unallocate_payment_from_plan(
    *, debt: Debt, payment: LedgerEntry, reversal: LedgerEntry, actor: Actor = None
) -> None:
    """A payment was reversed (bounced, charged back, posted in error): the
    installments it paid owe those amounts again — exactly the shares recorded when
    it was allocated, each taken back on the reversal entry. Money it paid beyond
    the plan, or before the plan, is not the plan's business. A plan the payment
    had completed is active again (and the debt back on it), unless another plan
    was agreed since: then it is broken."""
    ws = debt.workspace_id
    shares = list(
        InstallmentAllocation.objects.for_workspace(ws).filter(entry=payment).select_related("installment__plan")
    )
    if not shares:
        shares = _legacy_shares(debt=debt, payment=payment)
    if not shares:
        return
    for share in shares:
        inst = share.installment
        inst.paid_minor -= share.amount_minor
        if inst.status == InstallmentStatus.PAID and inst.paid_minor < inst.amount_minor:
            inst.status = InstallmentStatus.PENDING  # the daily check marks it missed if it is overdue
        inst.save(update_fields=["paid_minor", "status"])
    InstallmentAllocation.objects.for_workspace(ws).bulk_create(
        [
            InstallmentAllocation(
                workspace_id=ws, entry=reversal, installment=share.installment, amount_minor=-share.amount_minor
            )
            for share in shares
        ]
    )
    plan = shares[0].installment.plan
    taken = sum(share.amount_minor for share in shares)
    debt_event(
        debt,
        "plan_payment_reversed",
        "Reversed payment taken back from the payment plan",
        amount_minor=taken,
        obj=plan,
        actor=actor,
    )
    if plan.status != PlanStatus.COMPLETED:
        return
    if PaymentPlan.objects.for_workspace(ws).filter(debt=debt, status=PlanStatus.ACTIVE).exists():
        plan.status = PlanStatus.BROKEN
        plan.save(update_fields=["status"])
        debt_event(debt, "plan_broken", "Payment plan broken: a payment to it was reversed", obj=plan, actor=actor)
        return
    plan.status = PlanStatus.ACTIVE
    plan.save(update_fields=["status"])
    debt_event(debt, "plan_reopened", "Payment plan active again: a payment to it was reversed", obj=plan, actor=actor)
    if debt.status == DebtStatus.ACTIVE:  # a paid debt is active again already (the reversal)
        debt_status_set(debt, DebtStatus.PAYMENT_PLAN, actor=actor, reason="plan active again")


def _legacy_shares(*, debt: Debt, payment: LedgerEntry) -> list[InstallmentAllocation]:
    """Shares for a payment allocated before shares were recorded: only on a plan
    that has paid installments but no recorded share at all (its payments all came
    before), agreed before the payment; taken newest installment first, at most
    the payment's amount. Unsaved rows, for ``unallocate_payment_from_plan``."""
    ws = debt.workspace_id
    plan = (
        PaymentPlan.objects.for_workspace(ws)
        .filter(debt=debt, status__in=[PlanStatus.ACTIVE, PlanStatus.COMPLETED], created_at__lte=payment.posted_at)
        .order_by("-created_at")
        .first()
    )
    if plan is None or InstallmentAllocation.objects.for_workspace(ws).filter(installment__plan=plan).exists():
        return []
    remaining, shares = -payment.amount_minor, []
    for inst in Installment.objects.for_workspace(ws).filter(plan=plan, paid_minor__gt=0).order_by("-seq"):
        if remaining <= 0:
            break
        take = min(remaining, inst.paid_minor)
        inst.plan = plan
        shares.append(InstallmentAllocation(workspace_id=ws, entry=payment, installment=inst, amount_minor=take))
        remaining -= take
    return shares


def installments_mark_missed(*, workspace_id: int, today: date | None = None, grace_days: int = 0) -> int:
    """Mark installments past due (plus grace) and unpaid as missed; the plan is
    broken and the debt goes back to active. Safe to run twice: it only touches
    pending installments (conditional update)."""
    today = today or timezone.localdate()
    cutoff = today - timedelta(days=grace_days)
    missed = 0
    overdue = (
        Installment.objects.for_workspace(workspace_id)
        .filter(status=InstallmentStatus.PENDING, due_on__lt=cutoff, plan__status=PlanStatus.ACTIVE)
        .select_related("plan", "plan__debt")
        .order_by("plan_id", "seq")
    )
    for inst in overdue:
        with transaction.atomic():
            claimed = (
                Installment.objects.for_workspace(workspace_id)
                .filter(pk=inst.pk, status=InstallmentStatus.PENDING)
                .update(status=InstallmentStatus.MISSED)
            )
            if not claimed:
                continue
            missed += 1
            plan = inst.plan
            debt = debt_lock(plan.debt)
            if (
                PaymentPlan.objects.for_workspace(workspace_id)
                .filter(pk=plan.pk, status=PlanStatus.ACTIVE)
                .update(status=PlanStatus.BROKEN)
            ):
                debt_event(
                    debt,
                    "installment_missed",
                    f"Installment {inst.seq} due {inst.due_on} missed; plan broken",
                    amount_minor=inst.amount_minor - inst.paid_minor,
                    obj=plan,
                )
                audit_record(
                    action=actions.PLAN_BROKEN, workspace=workspace_id, obj=plan, metadata={"installment": inst.seq}
                )
                if debt.status == DebtStatus.PAYMENT_PLAN:
                    debt_status_set(debt, DebtStatus.ACTIVE, reason="plan broken")
    return missed
