from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ProviderCheckout:
    session_id: str
    redirect_url: str


@dataclass(frozen=True)
class ProviderPayment:
    """A completed (or failed) payment as the provider reports it, normalised."""

    session_id: str
    payment_id: str  # the id a payment is posted once by (payment intent / sandbox id)
    link_id: str  # client_reference_id
    amount_minor: int
    currency: str
    paid: bool
    created: datetime | None = None


class PaymentProvider(ABC):
    name: str

    @abstractmethod
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
    ) -> ProviderCheckout: ...

    @abstractmethod
    def recent_payments(self, *, since: datetime) -> Iterable[ProviderPayment]:
        """Sessions created since ``since`` with their outcome (for reconciliation)."""
