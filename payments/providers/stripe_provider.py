"""Stripe Checkout through the official SDK. A Checkout Session per payment with
``client_reference_id`` = the payment link's id, the amount in minor units, and an
idempotency key, so a retried request never creates a second session."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import stripe
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from payments.providers.base import PaymentProvider, ProviderCheckout, ProviderPayment


def _client() -> stripe.StripeClient:
    if not settings.STRIPE_SECRET_KEY:
        raise ImproperlyConfigured("Set the STRIPE_SECRET_KEY environment variable to use the Stripe provider.")
    return stripe.StripeClient(settings.STRIPE_SECRET_KEY)


def payment_from_session(session: Any) -> ProviderPayment:
    intent = session.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    return ProviderPayment(
        session_id=session["id"],
        payment_id=str(intent or session["id"]),
        link_id=str(session.get("client_reference_id") or ""),
        amount_minor=int(session.get("amount_total") or 0),
        currency=str(session.get("currency") or "").upper(),
        paid=session.get("payment_status") == "paid",
        created=datetime.fromtimestamp(session["created"]).astimezone() if session.get("created") else None,
    )


class StripeProvider(PaymentProvider):
    name = "stripe"

    def create_checkout(
        self,
        *,
        link_id: str,
        amount_minor: int,
        currency: str,
        description: str,
        idempotency_key: str,
        success_url: str,
        cancel_url: str,
    ) -> ProviderCheckout:
        session = _client().v1.checkout.sessions.create(
            params={
                "mode": "payment",
                "client_reference_id": link_id,
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": currency.lower(),
                            "unit_amount": amount_minor,
                            "product_data": {"name": description},
                        },
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
                "metadata": {"payment_link_id": link_id},
            },
            options={"idempotency_key": idempotency_key},
        )
        return ProviderCheckout(session_id=session.id, redirect_url=str(session.url))

    def recent_payments(self, *, since: datetime) -> Iterable[ProviderPayment]:
        sessions = _client().v1.checkout.sessions.list(
            params={"created": {"gte": int(since.timestamp())}, "limit": 100}
        )
        for session in sessions.auto_paging_iter():
            yield payment_from_session(session)
