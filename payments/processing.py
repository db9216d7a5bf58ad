"""The one idempotent path every provider payment takes into the ledger (webhook,
sandbox page, reconciliation), and the stored provider events that feed it.

A stored event is processed in order-independent fashion: a refund or chargeback
that arrives before its payment waits, and is processed as soon as the payment
posts (``_process_deferred``), which is why the events live next to the payments."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from debtors.models import Debt, DebtStatus, LedgerEntry, SettlementOffer
from debtors.services import ledger
from debtors.services.disputes import dispute_open
from debtors.services.offers import offer_settle
from kernel.tenancy import workspace_context
from payments.models import CheckoutSession, CheckoutStatus, LinkPurpose, LinkStatus, PaymentLink, WebhookEvent
from payments.providers import ProviderPayment
from payments.receipts import receipt_send
from payments.services import amount_due, session_by_ref


@dataclass(frozen=True)
class ProcessResult:
    entry: LedgerEntry | None
    created: bool
    note: str


def payment_process(payment: ProviderPayment, *, provider: str) -> ProcessResult:
    """Post a provider payment to the ledger exactly once (keyed by the provider's
    payment id), whatever order or number of times it is reported."""
    session = session_by_ref(payment.session_id)
    if session is None:
        return ProcessResult(None, False, "unknown checkout session")
    with workspace_context(session.workspace):
        if not payment.paid:
            CheckoutSession.objects.filter(pk=session.pk, status=CheckoutStatus.OPEN).update(
                status=CheckoutStatus.FAILED
            )
            return ProcessResult(None, False, "payment failed")
        if payment.link_id and payment.link_id != str(session.link_id):
            return ProcessResult(None, False, "client_reference_id does not match the session's link")
        link = PaymentLink.objects.select_related("debt").get(pk=session.link_id)
        debt = link.debt
        with transaction.atomic():
            CheckoutSession.objects.filter(pk=session.pk).update(
                status=CheckoutStatus.COMPLETED, provider_payment_id=payment.payment_id, completed_at=timezone.now()
            )
            try:
                with transaction.atomic():
                    entry, created = ledger.payment_record(
                        debt=debt,
                        amount_minor=payment.amount_minor,
                        method=provider,
                        reference=payment.session_id[:100],
                        external_id=f"{provider}:{payment.payment_id}",
                    )
            except ValidationError as exc:
                # Money arrived for a closed debt: keep the books honest, flag it.
                return ProcessResult(None, False, "; ".join(exc.messages))
            if created and link.purpose == LinkPurpose.SETTLEMENT and link.offer_id:
                try:
                    with transaction.atomic():
                        offer_settle(offer=SettlementOffer.objects.get(pk=link.offer_id))
                except ValidationError:
                    pass  # paid after expiry or partly: the payment stands, the offer doesn't
            if created:
                if link.purpose != LinkPurpose.CUSTOM or amount_due(link) <= 0:
                    PaymentLink.objects.filter(pk=link.pk, status=LinkStatus.ACTIVE).update(
                        status=LinkStatus.PAID, paid_at=timezone.now()
                    )
                transaction.on_commit(lambda: receipt_send(workspace_id=link.workspace_id, entry_id=str(entry.pk)))
        _process_deferred(payment.payment_id, provider)
    return ProcessResult(entry, created, "posted" if created else "already posted")


def refund_process(*, provider: str, payment_id: str, refund_id: str, amount_minor: int) -> ProcessResult:
    session = session_by_ref(payment_id)
    if session is None:
        return ProcessResult(None, False, "deferred: payment not posted yet")
    with workspace_context(session.workspace):
        debt = Debt.objects.get(pk=PaymentLink.objects.get(pk=session.link_id).debt_id)
        entry, created = ledger.refund_post(
            debt=debt, amount_minor=amount_minor, external_id=f"{provider}:{refund_id}", memo="Provider refund"
        )
    return ProcessResult(entry, created, "refunded" if created else "already refunded")


def chargeback_process(*, provider: str, payment_id: str, dispute_id: str) -> ProcessResult:
    """A card dispute: reverse the payment and open a dispute on the debt."""
    session = session_by_ref(payment_id)
    if session is None:
        return ProcessResult(None, False, "deferred: payment not posted yet")
    with workspace_context(session.workspace):
        payment_entry = LedgerEntry.objects.filter(external_id=f"{provider}:{payment_id}").first()
        if payment_entry is None:
            return ProcessResult(None, False, "deferred: payment not posted yet")
        if LedgerEntry.objects.filter(reverses=payment_entry).exists():
            return ProcessResult(None, False, "already reversed")
        try:
            with transaction.atomic():
                reversal = ledger.entry_reverse(entry=payment_entry, memo=f"Chargeback {dispute_id}"[:200])
                debt = Debt.objects.get(pk=payment_entry.debt_id)
                if debt.status != DebtStatus.DISPUTED:
                    dispute_open(
                        debt=debt, reason="other", details=f"Card chargeback {dispute_id}", source="chargeback"
                    )
        except (ValidationError, IntegrityError):
            return ProcessResult(None, False, "already reversed")
    return ProcessResult(reversal, True, "chargeback reversed")


def _process_deferred(payment_id: str, provider: str) -> None:
    """Events that arrived before their payment (a refund before the completion
    event) are processed as soon as the payment exists."""
    for event_pk in WebhookEvent.objects.filter(
        provider=provider, object_id=payment_id, processed_at__isnull=True
    ).values_list("pk", flat=True):
        transaction.on_commit(partial(process_stored_event, event_pk))


def _process(event: WebhookEvent) -> ProcessResult | None:
    d = event.data
    if event.type in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
    ):
        if event.type == "checkout.session.completed" and d.get("payment_status") not in (
            "paid",
            "no_payment_required",
        ):
            return ProcessResult(None, False, "awaiting async payment")
        return payment_process(
            ProviderPayment(
                d["session_id"], d["payment_id"], d["link_id"], d["amount_minor"], d["currency"], d["paid"]
            ),
            provider="stripe",
        )
    if event.type == "charge.refunded":
        results = [
            refund_process(provider="stripe", payment_id=d["payment_id"], refund_id=r["id"], amount_minor=r["amount"])
            for r in d.get("refunds", [])
        ]
        if not d.get("refunds") and d.get("amount_refunded"):
            results = [
                refund_process(
                    provider="stripe",
                    payment_id=d["payment_id"],
                    refund_id=f"{d['charge_id']}-total",
                    amount_minor=d["amount_refunded"],
                )
            ]
        return results[-1] if results else None
    if event.type == "charge.dispute.created":
        return chargeback_process(provider="stripe", payment_id=d["payment_id"], dispute_id=d["dispute_id"])
    return None


def process_stored_event(event_pk: int) -> str:
    """(Re)process one stored event; marks it processed unless it must wait."""
    with transaction.atomic():
        event = WebhookEvent.objects.select_for_update().get(pk=event_pk)
        if event.processed_at is not None:
            return event.outcome
        result = _process(event)
        outcome = result.note if result else "ignored"
        if not outcome.startswith("deferred"):
            event.processed_at = timezone.now()
        event.outcome = outcome[:200]
        event.save(update_fields=["processed_at", "outcome"])
    return outcome


def webhook_event_store(
    *, provider: str, event_id: str, event_type: str, object_id: str, data: dict[str, Any]
) -> tuple[WebhookEvent, bool]:
    """Store a verified provider event once by its id: a replay, or a concurrent
    delivery that stored it first, returns the stored event and ``created=False``."""
    try:
        with transaction.atomic():
            return WebhookEvent.objects.get_or_create(
                provider=provider,
                event_id=event_id,
                defaults={"type": event_type, "object_id": object_id, "data": data},
            )
    except IntegrityError:  # a concurrent delivery stored it first
        return WebhookEvent.objects.get(provider=provider, event_id=event_id), False
