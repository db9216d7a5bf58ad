"""The payments app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

A payment link's token goes with the person (their erasure deletes it), but a link
that can no longer be used needs its token for nothing: it is kept (encrypted) only
to show or send an *active* link again, while the debtor's page finds a link by the
token's hash, which stays. So a spent link's token is wiped after a short period, and
the link row stays with the debt's books. Webhook events are the processor's word on
each payment (ids and amounts, no card or contact data), kept as a security log.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from debtors.models import Debt
from debtors.services.holds import debts_unheld
from kernel.privacy.registry import SECURITY_LOGS, Retention
from kernel.retention import Action, PurgeContext, RetentionStore, Scope, register_store
from payments.models import PaymentLink, WebhookEvent

PAYMENT_LINK_TOKENS = Retention(
    30,
    "the link stopped working (paid, revoked or expired)",
    "data minimisation (GDPR Art. 5(1)(c), DPDP Act s.8(7)): a spent link's token has no further use",
    name="PAYMENT_LINK_TOKENS",
)


# --- Spent payment-link tokens (per workspace) ----------------------------------------------


def _spent_links_due(ctx: PurgeContext) -> QuerySet[PaymentLink]:
    """Links with a token that stopped working before the cutoff — paid, revoked or
    past their expiry, whichever came first — on debts no legal hold covers."""
    workspace, cutoff = ctx.workspace, ctx.cutoff
    unheld = debts_unheld(workspace=workspace, debts=Debt.objects.for_workspace(workspace)).values("pk")
    return (
        PaymentLink.objects.for_workspace(workspace)
        .filter(token__isnull=False, debt_id__in=unheld)
        .filter(Q(paid_at__lt=cutoff) | Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff))
    )


def _spent_links_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    return int(
        PaymentLink.objects.for_workspace(ctx.workspace).filter(pk__in=keys, token__isnull=False).update(token=None)
    )


def _spent_links_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = PaymentLink.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
    return [
        f"payment link {pk} ({status}) on debt {ref}, expired {expires:%Y-%m-%d}"
        for pk, status, ref, expires in rows.values_list("pk", "status", "debt__reference", "expires_at")
    ]


register_store(
    RetentionStore(
        name="payments.spent_link_tokens",
        rule=PAYMENT_LINK_TOKENS,
        label="Tokens of spent payment links",
        covers=(
            "the encrypted token of a link that was paid, revoked or expired; the link (amount, status, dates) "
            "stays with the debt, and its page still answers by the token's hash"
        ),
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("payments.paymentlink",),
        due=_spent_links_due,
        apply=_spent_links_apply,
        describe=_spent_links_describe,
    )
)


# --- Webhook events (global) ----------------------------------------------------------------


def _webhooks_due(ctx: PurgeContext) -> QuerySet[WebhookEvent]:
    return WebhookEvent.objects.filter(received_at__lt=ctx.cutoff)


def _webhooks_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    _, per_model = WebhookEvent.objects.filter(pk__in=keys).delete()
    return int(per_model.get(WebhookEvent._meta.label, 0))


def _webhooks_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = WebhookEvent.objects.filter(pk__in=keys).order_by("pk")
    return [
        f"{provider} event {pk} ({kind}), received {when:%Y-%m-%d}"
        for pk, provider, kind, when in rows.values_list("pk", "provider", "type", "received_at")
    ]


register_store(
    RetentionStore(
        name="payments.webhook_events",
        rule=SECURITY_LOGS,
        label="Payment processor events (webhooks)",
        covers=(
            "each event the processor sent: its type and ids (checkout session, payment, link) and amounts; "
            "no card or contact data. The payments themselves are in the ledger, under FINANCIAL_RECORDS"
        ),
        action=Action.DELETE,
        scope=Scope.GLOBAL,
        models=("payments.webhookevent",),
        trigger="the event was received",
        due=_webhooks_due,
        apply=_webhooks_apply,
        describe=_webhooks_describe,
    )
)
