from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import NOT_COLLECTABLE, Debt, DebtStatus, EntryKind, LedgerEntry, OfferStatus, SettlementOffer
from debtors.services.ledger import entry_post
from debtors.services.status import activate_if_new, debt_event, debt_lock, debt_status_set


def offer_create(*, debt: Debt, amount_minor: int, expires_at: datetime, actor: Actor = None) -> SettlementOffer:
    """Offer to settle for less than the balance until ``expires_at``."""
    if expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The offer must expire in the future."})
    with transaction.atomic():
        debt = debt_lock(debt)
        if debt.status in NOT_COLLECTABLE:
            raise ValidationError(
                {"debt": f"The debt is {debt.get_status_display().lower()}; it is not being collected."}
            )
        if not 0 < amount_minor < debt.balance_minor:
            raise ValidationError({"amount": "A settlement is a positive amount below the balance."})
        discount_bps = round(10_000 * (debt.balance_minor - amount_minor) / debt.balance_minor)
        SettlementOffer.objects.for_workspace(debt.workspace_id).filter(debt=debt, status=OfferStatus.OPEN).update(
            status=OfferStatus.WITHDRAWN
        )
        offer = SettlementOffer.objects.for_workspace(debt.workspace_id).create(
            workspace_id=debt.workspace_id,
            debt=debt,
            amount_minor=amount_minor,
            discount_bps=discount_bps,
            expires_at=expires_at,
            created_by=actor_user(actor),
        )
        debt_event(
            debt,
            "offer",
            f"Settlement offered ({discount_bps / 100:.1f}% off) until {expires_at:%Y-%m-%d}",
            amount_minor=amount_minor,
            obj=offer,
            actor=actor,
        )
        audit_record(
            action=actions.OFFER_CREATED,
            workspace=debt.workspace_id,
            obj=offer,
            actor_user_id=getattr(actor, "pk", None),
        )
    return offer


def offer_settle(*, offer: SettlementOffer, actor: Actor = None) -> SettlementOffer:
    """Once the settlement amount is paid: write off the rest and mark the debt settled."""
    with transaction.atomic():
        debt = debt_lock(offer.debt)
        if offer.status != OfferStatus.OPEN or offer.expires_at <= timezone.now():
            raise ValidationError({"offer": "This offer is no longer open."})
        paid = -(
            LedgerEntry.objects.for_workspace(debt.workspace_id)
            .filter(debt=debt, kind=EntryKind.PAYMENT, posted_at__gte=offer.created_at)
            .aggregate(s=Sum("amount_minor"))["s"]
            or 0
        )
        if paid < offer.amount_minor:
            raise ValidationError({"offer": "The settlement amount has not been paid yet."})
        if debt.balance_minor > 0:
            entry_post(
                debt=debt,
                kind=EntryKind.ADJUSTMENT,
                amount_minor=-debt.balance_minor,
                memo="Settlement discount",
                actor=actor,
            )
        offer.status = OfferStatus.ACCEPTED
        offer.save(update_fields=["status"])
        activate_if_new(debt, actor=actor)
        debt_status_set(debt, DebtStatus.SETTLED, actor=actor, reason="settlement paid")
    return offer


def offers_expire(*, workspace_id: int) -> int:
    return (
        SettlementOffer.objects.for_workspace(workspace_id)
        .filter(status=OfferStatus.OPEN, expires_at__lte=timezone.now())
        .update(status=OfferStatus.EXPIRED)
    )
