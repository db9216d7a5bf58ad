"""The payments app's retention stores (payments/retention.py): a spent payment link's
token is wiped a month after the link stopped working (the link and its page stay),
and the processor's webhook events go after a year."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import Client, Workspace
from debtors.models import Debt, HoldReason, HoldScope
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from kernel.tenancy import workspace_context
from payments.models import LinkStatus, PaymentLink, WebhookEvent
from payments.processing import webhook_event_store
from payments.services import payment_link_create
from retention.engine import purge_run
from retention.holds import legal_hold_place
from retention.models import PurgeRun, RunStatus
from tests.conftest import World


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def purge(workspace: Workspace | None, store: str, now: datetime, *, dry_run: bool = False) -> PurgeRun:
    run = purge_run(workspace=workspace, category=store, now=now, dry_run=dry_run)
    assert run.status == RunStatus.DONE, run.errors
    return run


def _ago(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


# --- Spent payment-link tokens (PAYMENT_LINK_TOKENS: 30 days) -------------------------------

# name: (status, what happened how many days ago) — "due" ones stopped working over 30 days ago.
LINKS: dict[str, tuple[str, dict[str, int]]] = {
    "due_paid": (LinkStatus.PAID, {"paid_at": 40}),
    "due_revoked": (LinkStatus.REVOKED, {"revoked_at": 35}),
    "due_expired": (LinkStatus.EXPIRED, {"expires_at": 31}),
    "due_lapsed": (LinkStatus.ACTIVE, {"expires_at": 45}),  # never marked expired, but past its date
    "paid_recently": (LinkStatus.PAID, {"paid_at": 20}),
    "expired_recently": (LinkStatus.EXPIRED, {"expires_at": 10}),
    "active": (LinkStatus.ACTIVE, {}),
    "held_paid": (LinkStatus.PAID, {"paid_at": 40}),
}


def _seed_links(workspace: Workspace, now: datetime) -> dict[str, tuple[Any, str]]:
    """One debt per link (a debt has one active link per purpose); the held one under a
    hold on its debt. Returns name -> (link id, token)."""
    made = {}
    with workspace_context(workspace):
        client = Client.objects.for_workspace(workspace).first()
        assert client is not None
        for i, (name, (status, dates)) in enumerate(LINKS.items()):
            debtor = debtor_create(workspace=workspace, data=DebtorInput(full_name=f"Payer {i}"))
            debt = debt_create(
                workspace=workspace,
                client=client,
                debtor=debtor,
                data=DebtInput(reference=f"PAY-{i}", original_amount_minor=20_000, currency=workspace.currency),
            )
            issued = payment_link_create(debt=debt)
            change: dict[str, Any] = {"status": status, "created_at": _ago(now, 90)}
            change.update({field: _ago(now, days) for field, days in dates.items()})
            PaymentLink.objects.for_workspace(workspace).filter(pk=issued.link.pk).update(**change)
            made[name] = (issued.link.pk, issued.token)
            if name.startswith("held"):
                legal_hold_place(
                    workspace=workspace,
                    scope=HoldScope.DEBT,
                    reason=HoldReason.DISPUTE,
                    review_on=timezone.localdate() + timedelta(days=60),
                    debt=Debt.objects.for_workspace(workspace).get(pk=debt.pk),
                )
    return made


def _with_token(workspace: Workspace, made: dict[str, tuple[Any, str]]) -> set[str]:
    with workspace_context(workspace):
        kept = set(
            PaymentLink.objects.for_workspace(workspace).filter(token__isnull=False).values_list("pk", flat=True)
        )
        assert PaymentLink.objects.for_workspace(workspace).count() == len(made)  # no link row goes
    return {name for name, (pk, _) in made.items() if pk in kept}


def test_spent_links_lose_their_token_a_month_after_they_stopped_working(world: World, now: datetime) -> None:
    links_a = _seed_links(world.a, now)
    links_b = _seed_links(world.b, now)
    due = {name for name in LINKS if name.startswith("due_")}
    pages = {name: HttpClient().get(f"/pay/{token}/").status_code for name, (_, token) in links_a.items()}
    assert pages["due_paid"] == 410 and pages["active"] == 200

    dry = purge(world.a, "payments.spent_link_tokens", now, dry_run=True)
    assert dry.counts == {"PAYMENT_LINK_TOKENS": {"delete": 4}} and _with_token(world.a, links_a) == set(LINKS)

    run = purge(world.a, "payments.spent_link_tokens", now)

    assert run.counts == {"PAYMENT_LINK_TOKENS": {"delete": 4}}
    assert _with_token(world.a, links_a) == set(LINKS) - due
    assert _with_token(world.b, links_b) == set(LINKS)  # Globex's run is its own
    # The debtor's page still finds every link by its hash and says the same as before.
    assert {name: HttpClient().get(f"/pay/{token}/").status_code for name, (_, token) in links_a.items()} == pages
    assert purge(world.a, "payments.spent_link_tokens", now).counts == {}

    # A month on, the recently spent links' tokens go too; the held one stays.
    later = purge(world.a, "payments.spent_link_tokens", now + timedelta(days=30))
    assert later.counts == {"PAYMENT_LINK_TOKENS": {"delete": 2}}  # the recently paid and expired ones
    assert _with_token(world.a, links_a) == {"active", "held_paid"}


# --- Webhook events (SECURITY_LOGS: a year after they were received) ------------------------


def _event(event_id: str, days_ago: int, now: datetime) -> Any:
    event, created = webhook_event_store(
        provider="stripe",
        event_id=event_id,
        event_type="checkout.session.completed",
        object_id=f"cs_{event_id}",
        data={"session_id": f"cs_{event_id}", "amount_minor": 1000},
    )
    assert created
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=_ago(now, days_ago))
    return event.pk


def test_webhook_events_go_a_year_after_they_were_received(world: World, now: datetime) -> None:
    old = {_event("evt_old_1", 400, now), _event("evt_old_2", 366, now)}
    young = {_event("evt_young", 300, now)}

    dry = purge(None, "payments.webhook_events", now, dry_run=True)
    assert dry.counts == {"SECURITY_LOGS": {"delete": 2}} and WebhookEvent.objects.count() == 3
    run = purge(None, "payments.webhook_events", now)

    assert run.counts == {"SECURITY_LOGS": {"delete": 2}}
    assert set(WebhookEvent.objects.values_list("pk", flat=True)) == young
    assert not WebhookEvent.objects.filter(pk__in=old).exists()
    assert purge(None, "payments.webhook_events", now).counts == {}
