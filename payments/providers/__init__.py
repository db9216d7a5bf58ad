"""Payment providers behind one interface, chosen by settings.PAYMENT_PROVIDER.

Card data never touches CollectPro: every provider sends the debtor to its own
checkout page and tells us the outcome by webhook (or, for the sandbox, by its
local page calling the same processing path).
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string

from payments.providers.base import PaymentProvider, ProviderCheckout, ProviderPayment

PROVIDERS = {
    "sandbox": "payments.providers.sandbox.SandboxProvider",
    "stripe": "payments.providers.stripe_provider.StripeProvider",
}


def get_provider(name: str | None = None) -> PaymentProvider:
    name = name or settings.PAYMENT_PROVIDER
    try:
        path = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"Unknown payment provider {name!r}; use one of {', '.join(PROVIDERS)}") from None
    provider: PaymentProvider = import_string(path)()
    return provider


__all__ = ["PaymentProvider", "ProviderCheckout", "ProviderPayment", "get_provider"]
