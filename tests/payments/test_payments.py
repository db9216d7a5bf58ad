"""Payment links, the debtor page, the sandbox provider, Stripe webhooks, reconciliation."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date

import pytest
import stripe
from django.db import connections
from django.test import Client as HttpClient
from django.test import override_settings

from debtors.models import Debt, DebtEvent, Dispute, LedgerEntry
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from kernel.tenancy import workspace_context
from payments.models import CheckoutSession, LinkStatus, PaymentLink, WebhookEvent
from payments.reconciliation import reconciliation_run
from payments.services import payment_link_create
from tests.conftest import api, login

WEBHOOK_SECRET = "whsec_test_secret_for_collectpro"


@pytest.fixture
def debt(world):
    with workspace_context(world.a):
        from accounts.models import Client

        debtor = debtor_create(
            workspace=world.a,
            data=DebtorInput(
                full_name="Meera Iyer",
                email="meera@example.com",
                phone="+91 98765 43210",
                address="12 MG Road, Pune",
                date_of_birth=date(1990, 5, 17),
                national_id="ABCPI1234K",
            ),
        )
        d = debt_create(
            workspace=world.a,
            client=Client.objects.get(reference="SAHYADRI"),
            debtor=debtor,
            data=DebtInput(reference="PAY-1", original_amount_minor=500_000, currency="INR"),
        )
        return debt_change_status(debt=d, status="active")


@pytest.fixture
def link(world, debt):
    with workspace_context(world.a):
        return payment_link_create(debt=debt)


def test_link_token_is_long_and_only_its_hash_is_searchable(world, link):
    token = link.url.rstrip("/").split("/")[-1]
    assert len(token) >= 22  # ≥ 128 bits of urlsafe base64
    with workspace_context(world.a):
        row = PaymentLink.objects.get(pk=link.link.pk)
    assert row.token_hash != token and token not in row.__dict__.get("token", "")


def test_holder_of_the_link_sees_nothing_personal_before_verifying(world, debt, link):
    page = HttpClient().get(link.url.replace("http://127.0.0.1:8000", "")).content.decode()
    assert "Acme Collections" in page and "Sahyadri Bank" in page
    for secret in ("Meera", "meera@example.com", "98765", "MG Road", "ABCPI1234K", "5000.00", "5,000.00", "1990"):
        assert secret not in page, secret


def _verify(c: HttpClient, path: str, answer: str):
    return c.post(path + "verify/", {"answer": answer})


def test_verification_by_dob_or_phone_digits_and_lockout(world, link):
    path = link.url.replace("http://127.0.0.1:8000", "")
    c = HttpClient()
    for _ in range(4):
        _verify(c, path, "1999-01-01")
    assert "Amount owed" not in c.get(path).content.decode()
    _verify(c, path, "1990-05-17")
    assert "5000.00" in c.get(path).content.decode()
    other = HttpClient()
    _verify(other, path, "3210")  # last four digits of the phone
    assert "5000.00" in other.get(path).content.decode()
    locked = HttpClient()
    for _ in range(5):
        _verify(locked, path, "0000")
    _verify(locked, path, "1990-05-17")  # right answer, but locked now
    assert "locked for 30 minutes" in locked.get(path).content.decode()


def test_pay_through_the_sandbox_and_see_the_receipt(world, debt, link, django_capture_on_commit_callbacks):
    path = link.url.replace("http://127.0.0.1:8000", "")
    c = HttpClient()
    _verify(c, path, "17/05/1990")
    r = c.post(path + "checkout/", {"option": "custom", "amount": "1500.00"})
    assert r.status_code == 302 and "/pay/sandbox/" in r["Location"]
    sandbox = r["Location"]
    assert "1500.00" in c.get(sandbox).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(sandbox, {"outcome": "pay"})
    receipt = c.get(r["Location"]).content.decode()
    assert "Payment received" in receipt and "3500.00" in receipt
    # A second click on the same sandbox page does not pay twice.
    c.post(sandbox, {"outcome": "pay"})
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).balance_minor == 350_000
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 1
        assert DebtEvent.objects.filter(debt=debt, kind="ledger.payment").exists()
    from django.core import mail

    assert any("Receipt" in m.subject and m.to == ["meera@example.com"] for m in mail.outbox)


def test_dispute_from_the_debtor_page_puts_the_debt_on_hold(world, debt, link):
    path = link.url.replace("http://127.0.0.1:8000", "")
    c = HttpClient()
    _verify(c, path, "1990-05-17")
    c.post(path + "dispute/", {"reason": "wrong_amount", "details": "I paid 2000 in cash"})
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).status == "disputed"
        assert Dispute.objects.get(debt=debt).source == "debtor"


def test_withdrawing_consent_on_the_debtor_page_stops_that_channel_at_once(world, debt, link):
    import zoneinfo
    from datetime import datetime

    from consent.rules import can_contact

    path = link.url.replace("http://127.0.0.1:8000", "")
    c = HttpClient()
    _verify(c, path, "1990-05-17")
    c.post(path + "preferences/", {"email": "on", "call": "on", "letter": "on", "whatsapp": "on"})  # sms unticked
    at = datetime(2026, 11, 23, 11, 0, tzinfo=zoneinfo.ZoneInfo("Asia/Kolkata"))
    with workspace_context(world.a):
        d = Debt.objects.select_related("debtor", "workspace").get(pk=debt.pk)
        assert {r.code for r in can_contact(d, "sms", at).reasons} == {"opted_out"}
        assert can_contact(d, "call", at).allowed


# --- Stripe webhooks -----------------------------------------------------------


def _signed(payload: dict, *, timestamp: int | None = None, secret: str = WEBHOOK_SECRET) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    ts = timestamp or int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{ts}.{body.decode()}", secret)
    return body, f"t={ts},v1={signature}"


def _post(client: HttpClient, payload: dict, **kw):
    body, header = _signed(payload, **kw)
    return client.post("/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header)


def _session_event(
    session_id: str,
    link_id: str,
    amount: int,
    *,
    event_id: str = "evt_1",
    pi: str = "pi_123",
    etype: str = "checkout.session.completed",
    status: str = "paid",
) -> dict:
    return {
        "id": event_id,
        "object": "event",
        "type": etype,
        "data": {
            "object": {
                "id": session_id,
                "object": "checkout.session",
                "client_reference_id": link_id,
                "amount_total": amount,
                "currency": "inr",
                "payment_intent": pi,
                "payment_status": status,
                "created": int(time.time()),
            }
        },
    }


@pytest.fixture
def stripe_session(world, link):
    """A checkout session as if created at Stripe for this link."""
    with workspace_context(world.a):
        return CheckoutSession.objects.create(
            workspace=world.a,
            link=link.link,
            provider="stripe",
            provider_session_id="cs_test_1",
            amount_minor=200_000,
            currency="INR",
            idempotency_key="k1",
        )


@override_settings(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_forged_or_stale_signatures_get_400_and_change_nothing(world, debt, stripe_session):
    c = HttpClient()
    payload = _session_event("cs_test_1", str(stripe_session.link_id), 200_000)
    body, header = _signed(payload, secret="whsec_wrong")
    assert (
        c.post("/webhooks/stripe/", body, content_type="application/json", HTTP_STRIPE_SIGNATURE=header).status_code
        == 400
    )
    assert c.post("/webhooks/stripe/", json.dumps(payload), content_type="application/json").status_code == 400
    assert _post(c, payload, timestamp=int(time.time()) - 3600).status_code == 400
    tampered_body, header = _signed(payload)
    assert (
        c.post(
            "/webhooks/stripe/",
            tampered_body.replace(b"200000", b"900000"),
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=header,
        ).status_code
        == 400
    )
    assert WebhookEvent.objects.count() == 0
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).balance_minor == 500_000


@override_settings(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_one_hundred_deliveries_post_one_payment(world, debt, stripe_session):
    c = HttpClient()
    for i in range(100):
        # the same event replayed, and the same payment in differently-numbered events
        eid = "evt_same" if i % 2 else f"evt_{i}"
        assert (
            _post(c, _session_event("cs_test_1", str(stripe_session.link_id), 200_000, event_id=eid)).status_code == 200
        )
    with workspace_context(world.a):
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 1
        assert Debt.objects.get(pk=debt.pk).balance_minor == 300_000


@pytest.mark.django_db(transaction=True)
@override_settings(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_concurrent_deliveries_post_one_payment(transactional_db, pg, world, debt, stripe_session):
    """On PostgreSQL (SQLite's shared in-memory test database cannot run concurrent writers)."""
    payload = _session_event("cs_test_1", str(stripe_session.link_id), 200_000, event_id="evt_conc")
    statuses: list[int] = []

    def deliver() -> None:
        try:
            statuses.append(_post(HttpClient(), payload).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) == 8
    with workspace_context(world.a):
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 1
    assert WebhookEvent.objects.filter(event_id="evt_conc").count() == 1


@override_settings(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_refund_after_payment_and_refund_before_payment(world, debt, stripe_session):
    c = HttpClient()
    refund = {
        "id": "evt_r1",
        "type": "charge.refunded",
        "object": "event",
        "data": {
            "object": {
                "id": "ch_1",
                "object": "charge",
                "payment_intent": "pi_123",
                "amount_refunded": 50_000,
                "refunds": {"data": [{"id": "re_1", "amount": 50_000}]},
            }
        },
    }
    # Out of order: the refund arrives first and waits.
    assert _post(c, refund).json()["outcome"].startswith("deferred")
    _post(c, _session_event("cs_test_1", str(stripe_session.link_id), 200_000))
    _post(c, refund)  # and a replay of it
    with workspace_context(world.a):
        d = Debt.objects.get(pk=debt.pk)
        assert d.balance_minor == 500_000 - 200_000 + 50_000
        assert LedgerEntry.objects.filter(debt=debt, kind="refund").count() == 1


@override_settings(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_chargeback_reverses_the_payment_and_opens_a_dispute(world, debt, stripe_session):
    c = HttpClient()
    _post(c, _session_event("cs_test_1", str(stripe_session.link_id), 200_000))
    dispute = {
        "id": "evt_d1",
        "type": "charge.dispute.created",
        "object": "event",
        "data": {"object": {"id": "dp_1", "object": "dispute", "payment_intent": "pi_123", "amount": 200_000}},
    }
    _post(c, dispute)
    _post(c, dispute)
    with workspace_context(world.a):
        d = Debt.objects.get(pk=debt.pk)
        assert d.balance_minor == 500_000 and d.status == "disputed"
        assert LedgerEntry.objects.filter(debt=debt, kind="reversal").count() == 1


@override_settings(STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET)
def test_async_payment_failure_posts_nothing(world, debt, stripe_session):
    c = HttpClient()
    _post(c, _session_event("cs_test_1", str(stripe_session.link_id), 200_000, status="unpaid"))
    _post(
        c,
        _session_event(
            "cs_test_1",
            str(stripe_session.link_id),
            200_000,
            event_id="evt_f",
            etype="checkout.session.async_payment_failed",
            status="unpaid",
        ),
    )
    with workspace_context(world.a):
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 0
        assert CheckoutSession.objects.get(pk=stripe_session.pk).status == "failed"


def test_reconciliation_posts_a_payment_whose_webhook_was_lost_once(world, debt, stripe_session, monkeypatch):
    from payments.providers.base import ProviderPayment
    from payments.providers.stripe_provider import StripeProvider

    paid = ProviderPayment("cs_test_1", "pi_lost", str(stripe_session.link_id), 200_000, "INR", True)
    other = ProviderPayment("cs_other_workspace", "pi_x", "x", 999, "USD", True)
    monkeypatch.setattr(StripeProvider, "recent_payments", lambda self, since: [paid, other])
    run = reconciliation_run(workspace=world.a, provider_name="stripe")
    again = reconciliation_run(workspace=world.a, provider_name="stripe")
    assert (run.payments_posted, again.payments_posted) == (1, 0)
    with workspace_context(world.a):
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 1


def test_reconciliation_expires_stale_links(world, link):
    from datetime import timedelta

    from django.utils import timezone

    with workspace_context(world.a):
        PaymentLink.objects.filter(pk=link.link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    run = reconciliation_run(workspace=world.a, provider_name="sandbox")
    assert run.links_expired == 1
    with workspace_context(world.a):
        assert PaymentLink.objects.get(pk=link.link.pk).status == LinkStatus.EXPIRED
    assert HttpClient().get(link.url.replace("http://127.0.0.1:8000", "")).status_code == 410


# --- API --------------------------------------------------------------------------


def test_payment_link_api_contract_and_tenancy(world, debt):
    r = api(world.key_a).post(
        "/api/v1/payment-links/", {"debt": str(debt.pk), "amount": "250.00"}, content_type="application/json"
    )
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["status"] == "active" and re.search(r"/pay/[A-Za-z0-9_-]{22,}/$", body["url"]) and body["id"]
    r = api(world.key_a).post("/api/v1/payment-links/", {"debt": str(debt.pk)}, content_type="application/json")
    assert r.status_code == 201
    r = api(world.key_b).post("/api/v1/payment-links/", {"debt": str(debt.pk)}, content_type="application/json")
    assert r.status_code == 400 and "debt" in r.json()["error"]["fields"]
    r = api(world.key_a).post(
        "/api/v1/payment-links/", {"debt": str(debt.pk), "amount": "0.50"}, content_type="application/json"
    )
    assert r.status_code == 400 and "amount" in r.json()["error"]["fields"]


def test_one_active_link_per_purpose(world, debt):
    with workspace_context(world.a):
        first = payment_link_create(debt=debt)
        second = payment_link_create(debt=debt)
        assert PaymentLink.objects.get(pk=first.link.pk).status == LinkStatus.REVOKED
        assert PaymentLink.objects.get(pk=second.link.pk).status == LinkStatus.ACTIVE


def test_remittance_statement_for_a_client_scoped_key(world, debt):
    from accounts.models import Client
    from accounts.services import api_key_create
    from debtors.services.ledger import payment_record

    with workspace_context(world.a):
        payment_record(debt=debt, amount_minor=100_000)
        scoped = api_key_create(workspace=world.a, name="bank", client=Client.objects.get(reference="SAHYADRI")).secret
    statement = api(scoped).get("/api/v1/remittance/").json()
    (row,) = statement["clients"]
    assert (row["client_ref"], row["collected"], row["commission"], row["net"]) == (
        "SAHYADRI",
        "1000.00",
        "150.00",
        "850.00",
    )
    assert api(world.key_b).get("/api/v1/remittance/", {"client": row["client_id"]}).status_code == 400


def test_remittance_has_a_row_per_currency_and_months_in_the_workspaces_time_zone(world, debt):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from accounts.models import Workspace
    from accounts.services import client_create
    from debtors.services.ledger import payment_record

    india = ZoneInfo("Asia/Kolkata")
    Workspace.objects.filter(pk=world.a.pk).update(timezone="Asia/Kolkata")
    with workspace_context(world.a):
        konkan = client_create(workspace=world.a, name="Konkan Finance", reference="KONKAN", commission_rate_bps=1000)
        yen = debt_create(
            workspace=world.a,
            client=debt.client,
            debtor=debt.debtor,
            data=DebtInput(reference="JP-1", original_amount_minor=90_000, currency="JPY"),
        )
        other = debt_create(
            workspace=world.a,
            client=konkan,
            debtor=debt.debtor,
            data=DebtInput(reference="KF-1", original_amount_minor=90_000, currency="INR"),
        )
        posted = {
            # 00:30 on 1 November in India — still 31 October in UTC.
            payment_record(debt=debt, amount_minor=100_000)[0].pk: datetime(2025, 11, 1, 0, 30, tzinfo=india),
            payment_record(debt=yen, amount_minor=5_000)[0].pk: datetime(2025, 11, 15, tzinfo=india),
            payment_record(debt=debt, amount_minor=20_000)[0].pk: datetime(2025, 12, 10, tzinfo=india),
            payment_record(debt=other, amount_minor=30_000)[0].pk: datetime(2025, 12, 11, tzinfo=india),
        }
    for pk, when in posted.items():
        LedgerEntry.unscoped.filter(pk=pk).update(posted_at=when)

    def remittance(period: str) -> list[tuple[str, str, str, str]]:
        rows = api(world.key_a).get("/api/v1/remittance/", {"period": period}).json()["clients"]
        return [(r["client_ref"], r["currency"], r["collected"], r["net"]) for r in rows]

    assert remittance("2025-10") == []
    assert remittance("2025-11") == [("SAHYADRI", "INR", "1000.00", "850.00"), ("SAHYADRI", "JPY", "5000", "4250")]
    assert remittance("2025-12") == [("KONKAN", "INR", "300.00", "270.00"), ("SAHYADRI", "INR", "200.00", "170.00")]
    alice = login(world.alice)
    # One total line only when every row is in one currency.
    assert alice.get("/w/acme/payments/remittance/?period=2025-11").context["totals"] is None
    december = alice.get("/w/acme/payments/remittance/?period=2025-12").context["totals"]
    assert december == {"currency": "INR", "collected": "500.00", "commission": "60.00", "net": "440.00"}


def test_sandbox_checkout_needs_the_verified_debtor(world, debt, link):
    path = link.url.replace("http://127.0.0.1:8000", "")
    c = HttpClient()
    _verify(c, path, "1990-05-17")
    sandbox = c.post(path + "checkout/", {"option": "link"})["Location"]
    stranger = HttpClient()
    assert stranger.get(sandbox).status_code == 404
    assert stranger.post(sandbox, {"outcome": "pay"}).status_code == 404
    with workspace_context(world.a):
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 0


def test_paying_a_settlement_link_settles_the_debt(world, debt):
    from datetime import timedelta

    from django.utils import timezone

    from debtors.services.offers import offer_create

    with workspace_context(world.a):
        offer = offer_create(debt=debt, amount_minor=300_000, expires_at=timezone.now() + timedelta(days=7))
        issued = payment_link_create(debt=debt, purpose="settlement", offer=offer)
    path = issued.url.replace("http://127.0.0.1:8000", "")
    c = HttpClient()
    _verify(c, path, "1990-05-17")
    sandbox = c.post(path + "checkout/", {"option": "link"})["Location"]
    c.post(sandbox, {"outcome": "pay"})
    with workspace_context(world.a):
        d = Debt.objects.get(pk=debt.pk)
        assert (d.status, d.balance_minor) == ("settled", 0)


def test_manual_payment_with_an_idempotency_key_posts_once(world, debt):
    c = api(world.key_a)
    for _ in range(3):
        r = c.post(
            f"/api/v1/debts/{debt.pk}/payments/",
            {"amount": "10.00"},
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY="retry-1",
        )
        assert r.status_code in (200, 201)
    with workspace_context(world.a):
        assert LedgerEntry.objects.filter(debt=debt, kind="payment").count() == 1
