"""The built-in sandbox: a local checkout page (/pay/sandbox/<session>/) that
completes a payment through the same idempotent path as a provider webhook. For the
demo and offline use; never moves real money."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.urls import reverse

from payments.models import CheckoutSession
from payments.providers.base import PaymentProvider, ProviderCheckout, ProviderPayment


class SandboxProvider(PaymentProvider):
    name = "sandbox"

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
        session_id = f"sbx_cs_{secrets.token_urlsafe(18)}"
        return ProviderCheckout(session_id=session_id, redirect_url=reverse("sandbox_checkout", args=[session_id]))

    def recent_payments(self, *, since: datetime) -> Iterable[ProviderPayment]:
        # The sandbox's "provider side" is our own CheckoutSession table: completed
        # sandbox sessions are exactly those the sandbox page marked paid.
        for s in CheckoutSession.objects.filter(provider=self.name, created_at__gte=since, status="completed"):
            yield ProviderPayment(
                s.provider_session_id,
                s.provider_payment_id,
                str(s.link_id),
                s.amount_minor,
                s.currency,
                True,
                s.created_at,
            )
