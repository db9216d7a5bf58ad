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
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from payments.processing import process_stored_event, webhook_event_store
from payments.providers.stripe_provider import payment_from_session

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
    stored, created = webhook_event_store(
        provider="stripe", event_id=event["id"], event_type=event_type, object_id=object_id, data=data
    )
    outcome = process_stored_event(stored.pk)
    log.info("stripe event %s %s: %s", event["id"], event_type, outcome)
    return JsonResponse({"received": True, "duplicate": not created, "outcome": outcome})
