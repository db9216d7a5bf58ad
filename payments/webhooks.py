"""Stripe webhooks at /webhooks/stripe/.

1. The signature is verified with the stripe SDK (a bad or missing signature, or
   a timestamp older than the tolerance → 400; nothing is stored).
2. The event is stored once by its id (a replay or a concurrent duplicate finds it).
3. Processing is idempotent and order-independent: a payment posts once, keyed
   by the payment intent; a refund or chargeback that arrives before its payment
   is kept and processed when the payment lands.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.models import WebhookEvent
from payments.providers.stripe_provider import payment_from_session
from payments.services import ProcessResult, chargeback_process, payment_process, refund_process

log = logging.getLogger(__name__)

HANDLED = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "charge.refunded",
    "charge.dispute.created",
}


def _slim(event_type: str, obj: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Keep only what processing needs (no customer details)."""
    if event_type.startswith("checkout.session."):
        p = payment_from_session(obj)
        return p.payment_id, {
            "session_id": p.session_id,
            "payment_id": p.payment_id,
            "link_id": p.link_id,
            "amount_minor": p.amount_minor,
            "currency": p.currency,
            "paid": p.paid if event_type != "checkout.session.async_payment_failed" else False,
            "payment_status": obj.get("payment_status"),
        }
    if event_type == "charge.refunded":
        refunds = [{"id": r["id"], "amount": r["amount"]} for r in (obj.get("refunds") or {}).get("data", [])]
        return str(obj.get("payment_intent") or ""), {
            "charge_id": obj.get("id"),
            "payment_id": obj.get("payment_intent"),
            "amount_refunded": obj.get("amount_refunded", 0),
            "refunds": refunds,
        }
    if event_type == "charge.dispute.created":
        return str(obj.get("payment_intent") or ""), {
            "dispute_id": obj.get("id"),
            "payment_id": obj.get("payment_intent"),
            "amount": obj.get("amount"),
        }
    return "", {}


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
        from payments.providers.base import ProviderPayment

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


@csrf_exempt
@require_POST
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    secret = settings.STRIPE_WEBHOOK_SECRET
    signature = request.headers.get("Stripe-Signature", "")
    if not secret or not signature:
        return JsonResponse({"error": "missing signature"}, status=400)
    try:
        event = stripe.Webhook.construct_event(
            request.body, signature, secret, tolerance=settings.STRIPE_WEBHOOK_TOLERANCE
        )
    except (ValueError, stripe.SignatureVerificationError):
        return JsonResponse({"error": "invalid signature"}, status=400)
    event_type = event["type"]
    if event_type not in HANDLED:
        return JsonResponse({"received": True, "handled": False})
    # The signature covers these exact bytes; read them as plain JSON.
    object_id, data = _slim(event_type, json.loads(request.body)["data"]["object"])
    try:
        with transaction.atomic():
            stored, created = WebhookEvent.objects.get_or_create(
                provider="stripe",
                event_id=event["id"],
                defaults={"type": event_type, "object_id": object_id, "data": data},
            )
    except IntegrityError:  # a concurrent delivery stored it first
        stored, created = WebhookEvent.objects.get(provider="stripe", event_id=event["id"]), False
    outcome = process_stored_event(stored.pk)
    log.info("stripe event %s %s: %s", event["id"], event_type, outcome)
    return JsonResponse({"received": True, "duplicate": not created, "outcome": outcome})
