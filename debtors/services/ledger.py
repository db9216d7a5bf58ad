"""The ledger: append-only entries, the balance as their sum.

Every entry is written by ``entry_post``, which updates ``Debt.balance_minor`` in the
same transaction with an atomic ``F()`` expression, so the cached balance cannot
drift from ``SUM(amount_minor)`` (a test checks it after random operations).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import ALLOWED_TRANSITIONS, Debt, DebtStatus, EntryKind, LedgerEntry
from debtors.services.money import from_minor
from debtors.services.plans import allocate_payment_to_plan, unallocate_payment_from_plan
from debtors.services.priority import rescore
from debtors.services.promises import promises_check_kept
from debtors.services.status import debt_event, debt_lock, debt_status_set
from debtors.signals import ledger_changed

# The sign each kind must have.
POSITIVE = {EntryKind.CHARGE, EntryKind.INTEREST, EntryKind.FEE, EntryKind.REFUND}
NEGATIVE = {EntryKind.PAYMENT}
EITHER = {EntryKind.ADJUSTMENT, EntryKind.REVERSAL}


def entry_post(
    *,
    debt: Debt,
    kind: str,
    amount_minor: int,
    effective_on: date | None = None,
    method: str = "",
    reference: str = "",
    external_id: str | None = None,
    memo: str = "",
    reverses: LedgerEntry | None = None,
    actor: Actor = None,
) -> LedgerEntry:
    """Append one entry and move the cached balance by the same amount, atomically."""
    if kind not in EntryKind.values:
        raise ValidationError({"kind": f"Unknown entry kind {kind!r}."})
    if amount_minor == 0:
        raise ValidationError({"amount": "The amount must not be zero."})
    if (kind in POSITIVE and amount_minor < 0) or (kind in NEGATIVE and amount_minor > 0):
        raise ValidationError({"amount": f"A {kind} has the wrong sign."})
    with transaction.atomic():
        entry = LedgerEntry(
            workspace_id=debt.workspace_id,
            debt=debt,
            kind=kind,
            amount_minor=amount_minor,
            currency=debt.currency,
            effective_on=effective_on or timezone.localdate(),
            method=method[:32],
            reference=reference[:100],
            external_id=external_id,
            memo=memo[:200],
            reverses=reverses,
            created_by=actor_user(actor),
        )
        entry.save(force_insert=True)
        updates: dict[str, Any] = {"balance_minor": F("balance_minor") + amount_minor, "updated_at": timezone.now()}
        if kind == EntryKind.PAYMENT:
            updates["last_payment_at"] = timezone.now()
        Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(**updates)
        debt.refresh_from_db(fields=["balance_minor", "last_payment_at", "updated_at"])
        rescore(debt)
        debt_event(
            debt,
            f"ledger.{kind}",
            f"{kind.title()} {from_minor(abs(amount_minor), debt.currency)} {debt.currency}",
            amount_minor=amount_minor,
            obj=entry,
            actor=actor,
        )
        workspace_id = debt.workspace_id
        transaction.on_commit(lambda: ledger_changed.send(sender=LedgerEntry, workspace_id=workspace_id))
        audit_record(
            action=actions.ledger(kind),
            workspace=debt.workspace_id,
            obj=entry,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"debt_id": str(debt.pk), "amount_minor": amount_minor},
        )
    return entry


def ledger_sum(debt: Debt) -> int:
    return (
        LedgerEntry.objects.for_workspace(debt.workspace_id).filter(debt=debt).aggregate(s=Sum("amount_minor"))["s"]
        or 0
    )


def payment_record(
    *,
    debt: Debt,
    amount_minor: int,
    paid_on: date | None = None,
    method: str = "manual",
    reference: str = "",
    external_id: str | None = None,
    actor: Actor = None,
) -> tuple[LedgerEntry, bool]:
    """Record money received. With ``external_id`` (a provider's payment id) the
    payment is posted exactly once however often it is reported: the second call
    returns the first entry and ``created=False``."""
    if amount_minor <= 0:
        raise ValidationError({"amount": "A payment must be a positive amount."})
    if external_id:
        existing = LedgerEntry.objects.for_workspace(debt.workspace_id).filter(external_id=external_id).first()
        if existing is not None:
            return existing, False
    try:
        with transaction.atomic():
            debt = debt_lock(debt)
            if debt.status in (DebtStatus.CLOSED, DebtStatus.RECALLED):
                raise ValidationError(
                    {"debt": f"The debt is {debt.get_status_display().lower()}; payments cannot be posted."}
                )
            entry = entry_post(
                debt=debt,
                kind=EntryKind.PAYMENT,
                amount_minor=-amount_minor,
                effective_on=paid_on,
                method=method,
                reference=reference,
                external_id=external_id,
                actor=actor,
            )
            allocate_payment_to_plan(debt=debt, amount_minor=amount_minor, entry=entry)
            promises_check_kept(debt=debt)
            if debt.balance_minor <= 0 and DebtStatus.PAID in ALLOWED_TRANSITIONS[debt.status]:
                debt_status_set(debt, DebtStatus.PAID, actor=actor, reason="balance paid in full")
    except IntegrityError:
        # A concurrent delivery of the same provider payment won the race.
        if external_id:
            return LedgerEntry.objects.for_workspace(debt.workspace_id).get(external_id=external_id), False
        raise
    return entry, True


def adjustment_post(*, debt: Debt, amount_minor: int, memo: str, actor: Actor = None) -> LedgerEntry:
    """A signed correction of what is owed (e.g. a fee waived: negative)."""
    if not memo.strip():
        raise ValidationError({"memo": "Say why the balance is adjusted."})
    with transaction.atomic():
        debt = debt_lock(debt)
        entry = entry_post(debt=debt, kind=EntryKind.ADJUSTMENT, amount_minor=amount_minor, memo=memo, actor=actor)
        _reopen_if_owing(debt, actor=actor, reason="balance adjusted")
    return entry


def fee_post(*, debt: Debt, kind: str, amount_minor: int, memo: str = "", actor: Actor = None) -> LedgerEntry:
    if kind not in (EntryKind.FEE, EntryKind.INTEREST, EntryKind.CHARGE):
        raise ValidationError({"kind": "Use fee, interest or charge."})
    with transaction.atomic():
        debt = debt_lock(debt)
        entry = entry_post(debt=debt, kind=kind, amount_minor=amount_minor, memo=memo, actor=actor)
        _reopen_if_owing(debt, actor=actor, reason=f"{kind} posted")
    return entry


def entry_reverse(*, entry: LedgerEntry, memo: str, actor: Actor = None) -> LedgerEntry:
    """Cancel an entry with an opposite one. An entry is reversed at most once, and a
    reversal cannot itself be reversed (post a new entry instead)."""
    if entry.kind == EntryKind.REVERSAL:
        raise ValidationError({"entry": "A reversal cannot be reversed; post a new entry."})
    if not memo.strip():
        raise ValidationError({"memo": "Say why the entry is reversed."})
    with transaction.atomic():
        debt = debt_lock(entry.debt)
        if LedgerEntry.objects.for_workspace(entry.workspace_id).filter(reverses=entry).exists():
            raise ValidationError({"entry": "This entry was already reversed."})
        try:
            with transaction.atomic():
                reversal = entry_post(
                    debt=debt,
                    kind=EntryKind.REVERSAL,
                    amount_minor=-entry.amount_minor,
                    memo=memo,
                    reverses=entry,
                    actor=actor,
                )
        except IntegrityError:
            raise ValidationError({"entry": "This entry was already reversed."}) from None
        _reopen_if_owing(debt, actor=actor, reason="a payment was reversed")
        if entry.kind == EntryKind.PAYMENT:
            unallocate_payment_from_plan(debt=debt, payment=entry, reversal=reversal, actor=actor)
    return reversal


def refund_post(
    *, debt: Debt, amount_minor: int, external_id: str | None = None, memo: str = "", actor: Actor = None
) -> tuple[LedgerEntry, bool]:
    """Money returned to the debtor: what they owe goes back up."""
    if amount_minor <= 0:
        raise ValidationError({"amount": "A refund must be a positive amount."})
    if external_id:
        existing = LedgerEntry.objects.for_workspace(debt.workspace_id).filter(external_id=external_id).first()
        if existing is not None:
            return existing, False
    with transaction.atomic():
        debt = debt_lock(debt)
        entry = entry_post(
            debt=debt, kind=EntryKind.REFUND, amount_minor=amount_minor, external_id=external_id, memo=memo, actor=actor
        )
        _reopen_if_owing(debt, actor=actor, reason="refund")
    return entry, True


def _reopen_if_owing(debt: Debt, *, actor: Actor = None, reason: str = "") -> None:
    """A debt shown as paid must owe nothing: once its balance is positive again
    (refund, reversal, fee, interest, adjustment) it goes back to active."""
    if debt.status == DebtStatus.PAID and debt.balance_minor > 0:
        debt_status_set(debt, DebtStatus.ACTIVE, actor=actor, reason=reason)
