"""Sending through the rules: templates, opt-out links, the 201/409 API contract."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime

import pytest
from django.core import mail
from django.test import Client as HttpClient

from communications.models import Communication
from communications.services import communication_send, template_save
from communications.sms import LoggingSmsProvider
from consent.rules import can_contact
from consent.services import ContactRefused
from debtors.models import Debt
from kernel.tenancy import workspace_context
from tests.conftest import api
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
DAYTIME = datetime(2026, 11, 23, 11, 0, tzinfo=IST)


@pytest.fixture
def setup(world):
    with workspace_context(world.a):
        debt = make_debt(world.a, email="kavya@example.com")
        template_save(
            workspace=world.a,
            name="reminder",
            channel="email",
            language="en",
            subject="About {{ reference }}",
            body="Dear {{ first_name }}, {{ balance }} {{ currency }} is due to {{ creditor }}.",
        )
        template_save(
            workspace=world.a,
            name="reminder",
            channel="sms",
            language="en",
            subject="",
            body="{{ agency }}: {{ balance }} {{ currency }} due.",
        )
    return debt


def test_email_is_sent_with_a_working_one_click_opt_out(world, setup, django_capture_on_commit_callbacks):
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        comm = communication_send(debt=setup, channel="email", template_name="reminder", at=DAYTIME)
    (message,) = mail.outbox
    assert message.to == ["kavya@example.com"] and "1000.00 INR" in message.body
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"(/optout/[^\s>]+/)", message.body).group(1)
    assert link in message.extra_headers["List-Unsubscribe"]
    with workspace_context(world.a):
        assert Communication.objects.get(pk=comm.pk).status == "sent"
    page = HttpClient().get(link)
    assert page.status_code == 200 and b"unsubscribed" in page.content
    with workspace_context(world.a):
        debt = Debt.objects.select_related("debtor", "workspace").get(pk=setup.pk)
        assert {r.code for r in can_contact(debt, "email", DAYTIME).reasons} == {"opted_out"}
        with pytest.raises(ContactRefused):
            communication_send(debt=debt, channel="email", template_name="reminder", at=DAYTIME)
    assert len(mail.outbox) == 1  # nothing more was sent
    # Undo works as easily.
    HttpClient().post(link, {"undo": "1"})
    with workspace_context(world.a):
        assert can_contact(debt, "email", DAYTIME).allowed


def test_sms_goes_through_the_provider_with_an_opt_out(world, setup, django_capture_on_commit_callbacks):
    LoggingSmsProvider.outbox.clear()
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        communication_send(debt=setup, channel="sms", template_name="reminder", at=DAYTIME)
    (sms,) = LoggingSmsProvider.outbox
    assert "/optout/" in sms["body"] and sms["to"].startswith("+91")


def test_a_forged_opt_out_token_changes_nothing(world, setup):
    r = HttpClient().get("/optout/not-a-real-token/")
    assert r.status_code == 404


def test_api_returns_409_with_reasons_and_sends_nothing(world, setup, monkeypatch):
    import consent.rules as rules

    night = datetime(2026, 11, 23, 23, 0, tzinfo=IST)
    monkeypatch.setattr("django.utils.timezone.now", lambda: night)
    r = api(world.key_a).post(
        f"/api/v1/debts/{setup.pk}/communications/",
        {"channel": "email", "template": "reminder"},
        content_type="application/json",
    )
    assert r.status_code == 409, r.content
    body = r.json()["error"]
    assert body["code"] == "contact_refused" and body["reasons"][0]["code"] == "outside_hours"
    assert mail.outbox == []
    with workspace_context(world.a):
        assert Communication.objects.get(debt=setup).status == "refused"
    assert rules  # the module under test


def test_api_logs_a_call_with_201_in_hours(world, setup, monkeypatch):
    monkeypatch.setattr("django.utils.timezone.now", lambda: DAYTIME)
    r = api(world.key_a).post(
        f"/api/v1/debts/{setup.pk}/communications/",
        {"channel": "call", "notes": "spoke briefly"},
        content_type="application/json",
    )
    assert r.status_code == 201 and r.json()["status"] == "logged"


def test_templates_are_versioned(world):
    with workspace_context(world.a):
        v1 = template_save(workspace=world.a, name="t", channel="email", language="en", subject="a", body="one")
        v2 = template_save(workspace=world.a, name="t", channel="email", language="en", subject="a", body="two")
        assert (v1.version, v2.version) == (1, 2)
        from communications.models import MessageTemplate

        assert MessageTemplate.objects.get(pk=v1.pk).is_active is False
        with pytest.raises(Exception, match="Template error"):
            template_save(workspace=world.a, name="t", channel="email", language="en", subject="a", body="{% bad %}")


def test_reminders_carry_the_same_payment_link_while_it_has_days_to_live(
    world, setup, django_capture_on_commit_callbacks
):
    from datetime import timedelta
    from urllib.parse import urlsplit

    from django.utils import timezone

    from payments.models import LinkStatus, PaymentLink

    with workspace_context(world.a):
        template_save(
            workspace=world.a,
            name="pay",
            channel="email",
            language="en",
            subject="Pay {{ reference }}",
            body="Pay here: {{ payment_link }}",
        )

    def send() -> str:
        with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
            communication_send(debt=setup, channel="email", template_name="pay", at=DAYTIME)
        return re.search(r"Pay here: (\S+)", mail.outbox[-1].body).group(1)

    first, second = send(), send()
    assert first == second  # the first email's link still works
    with workspace_context(world.a):
        (link,) = PaymentLink.objects.filter(debt=setup)
        assert link.status == LinkStatus.ACTIVE
        # Two days before it expires, the next message gets a fresh link.
        PaymentLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() + timedelta(days=2))
    third = send()
    assert third != first and HttpClient().get(urlsplit(third).path).status_code == 200
    with workspace_context(world.a):
        assert PaymentLink.objects.get(pk=link.pk).status == LinkStatus.REVOKED
        assert PaymentLink.objects.filter(debt=setup, status=LinkStatus.ACTIVE).count() == 1
