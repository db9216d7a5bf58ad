"""Reconciliation: ask the provider what was paid recently and make the ledger agree.

Posts any payment the ledger lacks through the same idempotent path as webhooks
(a lost webhook costs nothing), flags mismatches for review, expires stale links.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import Workspace
from kernel.tenancy import workspace_context
from payments.models import CheckoutSession, LinkStatus, PaymentLink, ReconciliationException, ReconciliationRun
from payments.processing import payment_process
from payments.providers import get_provider

LOOKBACK = timedelta(days=3)


def reconciliation_run(*, workspace: Workspace, provider_name: str | None = None) -> ReconciliationRun:
    provider = get_provider(provider_name)
    now = timezone.now()
    with workspace_context(workspace):
        run = ReconciliationRun.objects.create(workspace=workspace)
        own_sessions = dict(
            CheckoutSession.objects.filter(
                provider=provider.name, created_at__gte=now - LOOKBACK - timedelta(days=1)
            ).values_list("provider_session_id", "amount_minor")
        )
    checked = posted = flagged = 0
    if provider.name == "sandbox":  # its "provider side" is our own table
        with workspace_context(workspace):
            reported = list(provider.recent_payments(since=now - LOOKBACK))
    else:  # an HTTP call: made outside any database transaction
        reported = list(provider.recent_payments(since=now - LOOKBACK))
    for payment in reported:
        if payment.session_id not in own_sessions:
            continue  # another workspace's session (one provider account serves many)
        checked += 1
        if not payment.paid:
            continue
        with workspace_context(workspace):
            if payment.amount_minor != own_sessions[payment.session_id]:
                ReconciliationException.objects.create(
                    workspace=workspace,
                    run=run,
                    kind="amount_mismatch",
                    provider_session_id=payment.session_id,
                    detail=f"Provider says {payment.amount_minor}, we asked for {own_sessions[payment.session_id]} (minor units).",
                )
                flagged += 1
        result = payment_process(payment, provider=provider.name)
        if result.created:
            posted += 1
        elif result.entry is None and result.note not in ("already posted",):
            with workspace_context(workspace):
                ReconciliationException.objects.create(
                    workspace=workspace,
                    run=run,
                    kind="not_posted",
                    provider_session_id=payment.session_id,
                    detail=result.note[:300],
                )
            flagged += 1
    with workspace_context(workspace):
        expired = PaymentLink.objects.filter(status=LinkStatus.ACTIVE, expires_at__lte=now).update(
            status=LinkStatus.EXPIRED
        )
        ReconciliationRun.objects.filter(pk=run.pk).update(
            finished_at=timezone.now(),
            sessions_checked=checked,
            payments_posted=posted,
            links_expired=expired,
            exceptions_found=flagged,
        )
        run.refresh_from_db()
    return run
