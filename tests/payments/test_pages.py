"""The workspace payment pages: the debt page's payment links, reconciliation,
remittance; and the debtor pages in Hindi."""

from __future__ import annotations

import csv
import gettext
import io
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.test import Client as HttpClient
from django.utils import timezone

from accounts.models import Client, Membership
from accounts.roles import Role
from accounts.services import client_create
from audit.models import AuditEvent
from communications.services import template_save
from consent.models import CHANNEL_PURPOSE
from consent.services import consent_record
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_assign, debt_change_status, debt_create
from debtors.services.ledger import payment_record
from kernel.tenancy import workspace_context
from payments.models import LinkStatus, PaymentLink, ReconciliationException, ReconciliationRun
from payments.pages import debt_payment_links
from payments.reconciliation import reconciliation_run
from payments.services import payment_link_create
from tests.conftest import add_member, login
from tests.debtors.factories import make_debt

HTMX = {"HTTP_HX_REQUEST": "true"}
PAY_PATH = re.compile(r"/pay/[A-Za-z0-9_-]{22,}/")


@pytest.fixture
def floor(world):
    """Workspace A: an agent with an assigned debt, an auditor, a manager, a client
    user of SAHYADRI, and a second client (KONKAN)."""
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    auditor = add_member(world.a, "auditor@example.com", Role.AUDITOR)
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    client_user = add_member(world.a, "bank@example.com", Role.AUDITOR)
    with workspace_context(world.a):
        sahyadri = Client.objects.get(reference="SAHYADRI")
        Membership.objects.filter(user=client_user).update(client=sahyadri)
        konkan = client_create(workspace=world.a, name="Konkan Telecom", reference="KONKAN", commission_rate_bps=1000)
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
        debt = debt_create(
            workspace=world.a,
            client=sahyadri,
            debtor=debtor,
            data=DebtInput(reference="PAY-1", original_amount_minor=500_000, currency="INR"),
        )
        debt = debt_change_status(debt=debt, status="active")
        debt_assign(debt=debt, agent=agent)
        other = make_debt(world.a, client_ref=konkan.reference)
    return {
        "agent": agent,
        "auditor": auditor,
        "manager": manager,
        "client_user": client_user,
        "debt": debt,
        "other": other,
        "konkan": konkan,
    }


def _debt_url(debt) -> str:
    return f"/w/acme/debts/{debt.pk}/"


def _events(workspace, **filters) -> list[AuditEvent]:
    """Workspace A's audit events (the audit manager reads the current workspace's chain)."""
    with workspace_context(workspace):
        return list(AuditEvent.objects.filter(**filters))


def _pay_path(html: str) -> str:
    match = PAY_PATH.search(html)
    assert match, "no payment link URL in the page"
    return match.group(0)


# --- The debt page's payment links --------------------------------------------------


def test_debt_page_shows_the_links_section_to_agents_not_auditors_or_client_users(world, floor):
    page = login(floor["agent"]).get(_debt_url(floor["debt"])).content.decode()
    assert 'data-testid="payment-links"' in page and "Create link" in page and "No payment links yet." in page
    for who in ("auditor", "client_user"):
        r = login(floor[who]).get(_debt_url(floor["debt"]))
        assert r.status_code == 200
        assert 'data-testid="payment-links"' not in r.content.decode() and "/payment-links/" not in r.content.decode()


def test_agent_creates_a_link_from_the_page_and_revoking_it_closes_the_pay_page(world, floor):
    c = login(floor["agent"])
    r = c.post(_debt_url(floor["debt"]) + "payment-links/", {"amount": "", "expires_on": ""}, **HTMX)
    assert r.status_code == 200
    html = r.content.decode()
    assert "Payment link created." in html and 'id="payment-links"' in html
    path = _pay_path(html)
    assert "Full balance" in html and '"num">balance<' in html and "Active" in html
    assert HttpClient().get(path).status_code == 200
    with workspace_context(world.a):
        link = PaymentLink.objects.get(debt=floor["debt"])
        assert link.created_by == floor["agent"] and link.amount_minor is None
    # The URL stays out of the page once shown; the section lists the link without it.
    assert PAY_PATH.search(c.get(_debt_url(floor["debt"])).content.decode()) is None

    r = c.post(_debt_url(floor["debt"]) + f"payment-links/{link.pk}/revoke/", **HTMX)
    assert "Payment link revoked." in r.content.decode() and "Revoked" in r.content.decode()
    assert HttpClient().get(path).status_code == 410
    assert len(_events(world.a, action="payment_link.revoked", object_id=str(link.pk))) == 1


def test_custom_amount_and_expiry_without_javascript(world, floor):
    c = login(floor["agent"])
    expires = timezone.localdate() + timedelta(days=5)
    r = c.post(_debt_url(floor["debt"]) + "payment-links/", {"amount": "1500.00", "expires_on": expires.isoformat()})
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    html = r.content.decode()
    assert "Payment link created" in html and PAY_PATH.search(html)
    with workspace_context(world.a):
        link = PaymentLink.objects.get(debt=floor["debt"])
    assert (link.purpose, link.amount_minor) == ("custom", 150_000)
    assert link.expires_at.astimezone(ZoneInfo(world.a.timezone)).date() == expires
    # Errors come back into the form (htmx) or as a message (plain post), and create nothing.
    r = c.post(_debt_url(floor["debt"]) + "payment-links/", {"amount": "9999999.00"}, **HTMX)
    assert "exceeds the balance" in r.content.decode()
    r = c.post(_debt_url(floor["debt"]) + "payment-links/", {"amount": "abc"}, **HTMX)
    assert "is not a number" in r.content.decode()
    r = c.post(_debt_url(floor["debt"]) + "payment-links/", {"expires_on": "2001-01-01"}, follow=True)
    assert "The payment link was not created" in r.content.decode() and "future" in r.content.decode()
    with workspace_context(world.a):
        assert PaymentLink.objects.filter(debt=floor["debt"]).count() == 1


def test_show_an_active_link_again_is_audited(world, floor):
    with workspace_context(world.a):
        issued = payment_link_create(debt=floor["debt"])
    c = login(floor["agent"])
    r = c.post(_debt_url(floor["debt"]) + f"payment-links/{issued.link.pk}/show/", **HTMX)
    assert issued.url.removeprefix(settings.SITE_URL.rstrip("/")) in r.content.decode()
    (event,) = _events(world.a, action="personal_data.read", object_id=str(issued.link.pk))
    assert event.metadata["fields"] == ["token"] and event.actor_user_id == floor["agent"].pk
    r = c.post(_debt_url(floor["debt"]) + f"payment-links/{issued.link.pk}/show/")
    assert r.status_code == 200 and issued.url in r.content.decode()


def test_qr_code_is_an_svg_without_inline_styles_and_is_audited(world, floor):
    with workspace_context(world.a):
        issued = payment_link_create(debt=floor["debt"])
    r = login(floor["agent"]).get(_debt_url(floor["debt"]) + f"payment-links/{issued.link.pk}/qr.svg")
    assert r.status_code == 200 and r["Content-Type"] == "image/svg+xml"
    body = r.content.decode()
    assert body.startswith("<svg") and "<path" in body and "style" not in body.lower()
    assert r["Cache-Control"] == "no-store" and r["X-Content-Type-Options"] == "nosniff"
    (event,) = _events(world.a, action="personal_data.download", object_id=str(issued.link.pk))
    assert event.actor_user_id == floor["agent"].pk
    # No QR for a link that no longer works.
    with workspace_context(world.a):
        PaymentLink.objects.filter(pk=issued.link.pk).update(status=LinkStatus.REVOKED)
    assert (
        login(floor["agent"]).get(_debt_url(floor["debt"]) + f"payment-links/{issued.link.pk}/qr.svg").status_code
        == 404
    )


IST = ZoneInfo("Asia/Kolkata")


@pytest.fixture
def email_template(world):
    with workspace_context(world.a):
        template_save(
            workspace=world.a,
            name="payment-link",
            channel="email",
            language="en",
            subject="Your account {{ reference }}",
            body="Pay securely here: {{ payment_link }}",
        )
        template_save(
            workspace=world.a, name="no-link", channel="email", language="en", subject="Hello", body="Please call us."
        )


def test_without_an_email_template_the_send_button_is_disabled(world, floor):
    with workspace_context(world.a):
        payment_link_create(debt=floor["debt"])
    html = login(floor["agent"]).get(_debt_url(floor["debt"])).content.decode()
    assert re.search(r"<button[^>]*disabled[^>]*>Send by email</button>", html)


def test_send_by_email_goes_through_the_contact_rules(
    world, floor, email_template, monkeypatch, django_capture_on_commit_callbacks
):
    from django.core import mail

    monkeypatch.setattr(
        "django.utils.timezone.now", lambda: datetime(2026, 11, 23, 11, 0, tzinfo=IST)
    )  # a weekday morning
    with workspace_context(world.a):
        issued = payment_link_create(debt=floor["debt"])
    c = login(floor["agent"])
    page = c.get(_debt_url(floor["debt"])).content.decode()
    assert 'name="template" value="payment-link"' in page  # only templates that carry the link are offered
    send = _debt_url(floor["debt"]) + f"payment-links/{issued.link.pk}/send/"
    assert "Choose an email template" in c.post(send, {"template": "no-link"}, **HTMX).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(send, {"template": "payment-link"}, **HTMX)
    assert "Email with the payment link queued" in r.content.decode()
    (message,) = mail.outbox
    assert message.to == ["meera@example.com"] and issued.url in message.body
    # Opted out of email: refused, with the reason shown, and nothing sent.
    with workspace_context(world.a):
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(floor["debt"].debtor_id),
            purpose=CHANNEL_PURPOSE["email"],
            action="withdraw",
            source="debtor_page",
            lawful_basis="legitimate_interests",
        )
    r = c.post(send, {"template": "payment-link"}, **HTMX)
    assert "Not sent —" in r.content.decode() and "The refusal was recorded." in r.content.decode()
    r = c.post(send, {"template": "payment-link"}, follow=True)
    assert "Not sent —" in r.content.decode()
    assert len(mail.outbox) == 1


def test_link_actions_are_refused_to_auditors_and_to_agents_on_unassigned_debts(world, floor):
    with workspace_context(world.a):
        other_link = payment_link_create(debt=floor["other"]).link
        mine = payment_link_create(debt=floor["debt"]).link
    auditor = login(floor["auditor"])
    assert auditor.post(_debt_url(floor["debt"]) + "payment-links/", {}).status_code == 403
    assert auditor.get(_debt_url(floor["debt"]) + f"payment-links/{mine.pk}/qr.svg").status_code == 403
    agent = login(floor["agent"])
    base = _debt_url(floor["other"]) + "payment-links/"
    assert agent.post(base, {}).status_code == 404
    assert agent.post(base + f"{other_link.pk}/revoke/").status_code == 404
    assert agent.get(base + f"{other_link.pk}/qr.svg").status_code == 404
    # A link is only reachable under its own debt.
    assert agent.post(_debt_url(floor["debt"]) + f"payment-links/{other_link.pk}/revoke/").status_code == 404
    with workspace_context(world.a):
        assert PaymentLink.objects.get(pk=other_link.pk).status == LinkStatus.ACTIVE


def test_links_section_query_count_does_not_grow_with_links(world, floor, django_assert_num_queries):
    with workspace_context(world.a):
        membership = Membership.objects.get(user=floor["agent"])
        payment_link_create(debt=floor["debt"])
        with django_assert_num_queries(2):
            one = debt_payment_links(workspace=world.a, membership=membership, debt=floor["debt"])
        for amount in (10_000, 20_000, 30_000):
            payment_link_create(debt=floor["debt"], purpose="custom", amount_minor=amount)
        with django_assert_num_queries(2):
            many = debt_payment_links(workspace=world.a, membership=membership, debt=floor["debt"])
    assert len(one["rows"]) == 1 and len(many["rows"]) == 4
    # A new custom link replaces the active custom one: the full-balance and the last custom link stay active.
    assert [r["status"] for r in many["rows"]] == ["active", "revoked", "revoked", "active"]


# --- Reconciliation -------------------------------------------------------------------------


def test_reconciliation_page_run_now_and_resolve(world, floor, monkeypatch):
    c = login(world.alice)
    page = c.get("/w/acme/payments/reconciliation/").content.decode()
    assert 'data-testid="reconciliation-empty"' in page and "Run now" in page
    r = c.post("/w/acme/payments/reconciliation/")
    assert r.status_code == 302 and r["Location"] == "/w/acme/payments/reconciliation/"
    with workspace_context(world.a):
        assert ReconciliationRun.objects.filter(finished_at__isnull=False).count() == 1
    assert len(_events(world.a, action="reconciliation.run")) == 1

    # A provider that reports a different amount than we asked for leaves an exception.
    from payments.models import CheckoutSession
    from payments.providers.base import ProviderPayment
    from payments.providers.stripe_provider import StripeProvider

    with workspace_context(world.a):
        link = payment_link_create(debt=floor["debt"]).link
        CheckoutSession.objects.create(
            workspace=world.a,
            link=link,
            provider="stripe",
            provider_session_id="cs_mismatch",
            amount_minor=200_000,
            currency="INR",
            idempotency_key="k",
        )
    monkeypatch.setattr(
        StripeProvider,
        "recent_payments",
        lambda self, since: [ProviderPayment("cs_mismatch", "pi_m", str(link.pk), 150_000, "INR", True)],
    )
    reconciliation_run(workspace=world.a, provider_name="stripe")
    page = c.get("/w/acme/payments/reconciliation/").content.decode()
    assert "amount_mismatch" in page and "Provider says 150000" in page and "Mark resolved" in page
    with workspace_context(world.a):
        exception = ReconciliationException.objects.get(kind="amount_mismatch")

    # Auditors read the page but cannot run or resolve; agents and client users get 403.
    auditor = login(floor["auditor"])
    page = auditor.get("/w/acme/payments/reconciliation/").content.decode()
    assert "amount_mismatch" in page and "Run now" not in page and "Mark resolved" not in page
    assert auditor.post("/w/acme/payments/reconciliation/").status_code == 403
    assert auditor.post(f"/w/acme/payments/reconciliation/exceptions/{exception.pk}/resolve/").status_code == 403
    for who in ("agent", "client_user"):
        assert login(floor[who]).get("/w/acme/payments/reconciliation/").status_code == 403

    manager = login(floor["manager"])
    r = manager.post(f"/w/acme/payments/reconciliation/exceptions/{exception.pk}/resolve/")
    assert r.status_code == 302
    manager.post(f"/w/acme/payments/reconciliation/exceptions/{exception.pk}/resolve/")  # twice: recorded once
    with workspace_context(world.a):
        assert ReconciliationException.objects.get(pk=exception.pk).resolved_at is not None
    (event,) = _events(world.a, action="reconciliation.exception_resolved", object_id=str(exception.pk))
    assert event.actor_user_id == floor["manager"].pk
    assert "amount_mismatch" not in c.get("/w/acme/payments/reconciliation/").content.decode()


# --- Remittance ------------------------------------------------------------------------------


def _this_month() -> str:
    return timezone.localdate().strftime("%Y-%m")


@pytest.fixture
def collected(world, floor):
    """1000.00 collected for SAHYADRI (15%) and 200.00 for KONKAN (10%) this month."""
    with workspace_context(world.a):
        payment_record(debt=floor["debt"], amount_minor=100_000)
        payment_record(debt=floor["other"], amount_minor=20_000)


def test_remittance_page_numbers_and_csv(world, floor, collected):
    c = login(world.alice)
    html = c.get("/w/acme/payments/remittance/", {"period": _this_month()}).content.decode()
    sahyadri = re.search(r"Sahyadri Bank.*?</tr>", html, re.S).group(0)
    assert re.findall(r'class="num">([^<]+)<', sahyadri) == ["15.0%", "1000.00", "150.00", "850.00"]
    assert "Konkan Telecom" in html and "200.00" in html and "20.00" in html and "180.00" in html
    assert "1200.00" in html and "1030.00" in html  # totals (one currency)
    r = c.get("/w/acme/payments/remittance.csv", {"period": _this_month()})
    assert r.status_code == 200 and r.streaming and r["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0] == [
        "period",
        "client_ref",
        "client",
        "currency",
        "commission_rate_bps",
        "collected",
        "commission",
        "net",
    ]
    assert [_this_month(), "SAHYADRI", "Sahyadri Bank", "INR", "1500", "1000.00", "150.00", "850.00"] in rows
    assert len(rows) == 3
    (event,) = _events(world.a, action="remittance.exported")
    assert (
        event.metadata == {"period": _this_month(), "client_id": "", "rows": 2}
        and event.actor_user_id == world.alice.pk
    )


def test_remittance_empty_month_and_bad_period(world, floor, collected):
    c = login(world.alice)
    html = c.get("/w/acme/payments/remittance/", {"period": "2001-01"}).content.decode()
    assert 'data-testid="remittance-empty"' in html and "Nothing collected in 2001-01" in html
    assert c.get("/w/acme/payments/remittance/", {"period": "2026-13"}).status_code == 400
    assert c.get("/w/acme/payments/remittance.csv", {"period": "nope"}).status_code == 400
    assert not _events(world.a, action="remittance.exported")


def test_client_user_sees_only_their_client(world, floor, collected):
    c = login(floor["client_user"])
    html = c.get("/w/acme/payments/remittance/").content.decode()
    assert "Sahyadri Bank" in html and "850.00" in html
    assert "Konkan" not in html and "180.00" not in html and "Reconciliation" not in html
    rows = list(csv.reader(io.StringIO(b"".join(c.get("/w/acme/payments/remittance.csv").streaming_content).decode())))
    assert [r[1] for r in rows[1:]] == ["SAHYADRI"]
    with workspace_context(world.a):
        sahyadri = Client.objects.get(reference="SAHYADRI")
    assert _events(world.a, action="remittance.exported")[0].metadata["client_id"] == str(sahyadri.pk)


def test_agent_gets_403_on_remittance_and_reconciliation(world, floor):
    agent = login(floor["agent"])
    for url in ("/w/acme/payments/remittance/", "/w/acme/payments/remittance.csv", "/w/acme/payments/reconciliation/"):
        assert agent.get(url).status_code == 403, url
    assert agent.post("/w/acme/payments/reconciliation/").status_code == 403


def test_other_workspace_gets_404_on_every_new_page(world, floor):
    with workspace_context(world.a):
        link = payment_link_create(debt=floor["debt"]).link
        run = reconciliation_run(workspace=world.a, provider_name="sandbox")
        exception = ReconciliationException.objects.create(workspace=world.a, run=run, kind="not_posted", detail="x")
    bob = login(world.bob)
    links = f"debts/{floor['debt'].pk}/payment-links/"
    gets = [f"{links}{link.pk}/qr.svg", "payments/reconciliation/", "payments/remittance/", "payments/remittance.csv"]
    posts = [
        links,
        f"{links}{link.pk}/show/",
        f"{links}{link.pk}/revoke/",
        "payments/reconciliation/",
        f"payments/reconciliation/exceptions/{exception.pk}/resolve/",
    ]
    for path in gets:
        assert bob.get(f"/w/acme/{path}").status_code == 404, path
    for path in posts:
        assert bob.post(f"/w/acme/{path}").status_code == 404, path
    # A's ids are unknown in bob's own workspace too.
    assert bob.get(f"/w/globex/{gets[0]}").status_code == 404
    for path in posts[:3] + posts[4:]:
        assert bob.post(f"/w/globex/{path}").status_code == 404, path
    with workspace_context(world.a):
        assert PaymentLink.objects.get(pk=link.pk).status == LinkStatus.ACTIVE
        assert ReconciliationException.objects.get(pk=exception.pk).resolved_at is None


# --- The debtor pages in Hindi ----------------------------------------------------------------


def test_debtor_pages_are_translated_to_hindi(world, floor):
    with workspace_context(world.a):
        path = payment_link_create(debt=floor["debt"]).url.removeprefix(settings.SITE_URL.rstrip("/"))
    page = HttpClient().get(path, HTTP_ACCEPT_LANGUAGE="hi").content.decode()
    assert '<html lang="hi">' in page
    assert "पुष्टि करें कि यह आप ही हैं" in page and "आगे बढ़ें" in page and "Confirm it's you" not in page
    assert "Acme Collections, Sahyadri Bank की ओर से आपसे संपर्क कर रहा है।" in page

    # The language switcher posts to Django's set_language view and sticks.
    assert re.search(r'<form action="/i18n/setlang/" method="post"', HttpClient().get(path).content.decode())
    c = HttpClient()
    r = c.post("/i18n/setlang/", {"language": "hi", "next": path})
    assert r.status_code == 302 and r["Location"] == path
    c.post(path + "verify/", {"answer": "1990-05-17"})
    home = c.get(path).content.decode()
    assert "बकाया राशि" in home and "पूरा भुगतान करें (5000.00)" in home and "मुझे इस ऋण पर आपत्ति है" in home
    assert "मेरे निजता अधिकार" in home and "भुगतान प्रदाता" in home  # footer
    assert "Amount owed" not in home


def test_every_debtor_string_has_a_compiled_hindi_translation():
    po = Path(settings.BASE_DIR) / "locale" / "hi" / "LC_MESSAGES" / "django.po"
    text = po.read_text(encoding="utf-8")
    assert 'msgstr ""\n\n' not in text.split("\n\n", 1)[1] + "\n\n", "an untranslated string in django.po"
    assert "#, fuzzy" not in text
    with (po.parent / "django.mo").open("rb") as fh:
        catalog = gettext.GNUTranslations(fh)
    msgids = re.findall(r'^msgid "(.+)"$', text, re.M)
    assert len(msgids) > 40
    for msgid in msgids:
        assert catalog.gettext(msgid.replace('\\"', '"')) != msgid.replace('\\"', '"'), f"django.mo is stale: {msgid}"
    templates = list((Path(settings.BASE_DIR) / "templates" / "payments").glob("*.html"))
    for template in templates:
        for msgid in re.findall(r'{% translate "([^"]+)" %}', template.read_text(encoding="utf-8")):
            assert catalog.gettext(msgid) != msgid, f"{template.name}: {msgid!r} has no Hindi translation"
