"""The contact rules at their edges, with explicit times (no wall-clock dependence)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.core import mail

from communications.log import communication_log
from communications.models import Communication
from consent.models import ConsentRecord, ContactAttempt
from consent.rules import can_contact
from consent.services import ContactRefused, consent_record
from debtors.models import Debt
from debtors.services.disputes import dispute_open
from kernel.tenancy import workspace_context
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def codes(decision) -> set[str]:
    return {r.code for r in decision.reasons}


@pytest.fixture
def in_debt(world):
    with workspace_context(world.a):
        yield make_debt(world.a)


@pytest.fixture
def us_debt(world):
    with workspace_context(world.b):
        debt = make_debt(world.b)
        debtor = debt.debtor
        debtor.timezone = "America/Chicago"
        debtor.save()
        yield Debt.objects.select_related("debtor", "workspace").get(pk=debt.pk)


@pytest.mark.parametrize(
    ("hh", "mm", "allowed"),
    [(7, 59, False), (8, 0, True), (18, 59, True), (19, 0, False)],
)
def test_india_contact_hours_in_ist(in_debt, hh, mm, allowed):
    at = datetime(2026, 11, 23, hh, mm, tzinfo=IST)
    decision = can_contact(in_debt, "call", at)
    assert decision.allowed is allowed
    if not allowed:
        assert codes(decision) == {"outside_hours"}
        assert "RBI" in decision.reasons[0].source


@pytest.mark.parametrize(("hh", "mm", "allowed"), [(7, 59, False), (8, 0, True), (20, 59, True), (21, 0, False)])
def test_us_contact_hours_in_the_debtors_own_zone(us_debt, hh, mm, allowed):
    at = datetime(2026, 11, 23, hh, mm, tzinfo=CHICAGO)  # 21:00 Chicago is 22:00 New York
    decision = can_contact(us_debt, "call", at)
    assert decision.allowed is allowed
    if not allowed:
        assert "1006.6(b)(1)" in decision.reasons[0].source


def test_letters_are_not_bound_to_hours(in_debt):
    assert can_contact(in_debt, "letter", datetime(2026, 11, 23, 3, 0, tzinfo=IST)).allowed


def test_the_eighth_call_in_seven_days_is_refused_in_the_us(us_debt):
    start = datetime(2026, 11, 16, 10, 0, tzinfo=CHICAGO)
    with workspace_context(us_debt.workspace):
        for day in range(7):
            communication_log(debt=us_debt, channel="call", outcome="no_answer", at=start + timedelta(days=day))
        eighth = start + timedelta(days=6, hours=2)
        decision = can_contact(us_debt, "call", eighth)
        assert codes(decision) == {"frequency_cap"}
        assert "1006.14(b)(2)" in decision.reasons[0].source
        # A week after the first call, the window has moved on.
        assert can_contact(us_debt, "call", start + timedelta(days=7, minutes=1)).allowed


def test_no_call_within_seven_days_after_a_conversation(us_debt):
    talked = datetime(2026, 11, 16, 11, 0, tzinfo=CHICAGO)  # day 1
    with workspace_context(us_debt.workspace):
        communication_log(debt=us_debt, channel="call", outcome="right_party", at=talked)
        next_day = can_contact(us_debt, "call", talked + timedelta(days=1))
        assert codes(next_day) == {"recent_conversation"}
        day7 = can_contact(us_debt, "call", datetime(2026, 11, 22, 9, 0, tzinfo=CHICAGO))
        assert not day7.allowed
        day8 = can_contact(us_debt, "call", datetime(2026, 11, 23, 9, 0, tzinfo=CHICAGO))
        assert day8.allowed
        # Email is not a telephone call.
        assert can_contact(us_debt, "email", talked + timedelta(days=1)).allowed


def test_opt_out_stops_that_channel_only(in_debt):
    at = datetime(2026, 11, 23, 10, 0, tzinfo=IST)
    with workspace_context(in_debt.workspace):
        consent_record(
            workspace=in_debt.workspace,
            subject_type="debtor",
            subject_id=str(in_debt.debtor_id),
            purpose="contact_sms",
            action="withdraw",
            source="debtor_page",
        )
        assert codes(can_contact(in_debt, "sms", at)) == {"opted_out"}
        assert can_contact(in_debt, "call", at).allowed
        consent_record(
            workspace=in_debt.workspace,
            subject_type="debtor",
            subject_id=str(in_debt.debtor_id),
            purpose="contact_sms",
            action="grant",
            source="debtor_page",
        )
        assert can_contact(in_debt, "sms", at).allowed


def test_cease_communication_stops_every_channel(in_debt):
    at = datetime(2026, 11, 23, 10, 0, tzinfo=IST)
    with workspace_context(in_debt.workspace):
        consent_record(
            workspace=in_debt.workspace,
            subject_type="debtor",
            subject_id=str(in_debt.debtor_id),
            purpose="all_contact",
            action="withdraw",
            source="agent_call",
        )
        for channel in ("call", "sms", "email", "letter"):
            assert "cease_communication" in codes(can_contact(in_debt, channel, at))


def test_open_dispute_refuses_contact(in_debt):
    at = datetime(2026, 11, 23, 10, 0, tzinfo=IST)
    with workspace_context(in_debt.workspace):
        dispute_open(debt=in_debt, reason="not_mine")
        debt = Debt.objects.select_related("debtor", "workspace").get(pk=in_debt.pk)
        assert codes(can_contact(debt, "call", at)) == {"disputed"}


def test_every_reason_is_reported_together(in_debt):
    at = datetime(2026, 11, 23, 22, 0, tzinfo=IST)
    with workspace_context(in_debt.workspace):
        consent_record(
            workspace=in_debt.workspace,
            subject_type="debtor",
            subject_id=str(in_debt.debtor_id),
            purpose="contact_phone",
            action="withdraw",
            source="debtor_page",
        )
        dispute_open(debt=in_debt, reason="wrong_amount")
        debt = Debt.objects.select_related("debtor", "workspace").get(pk=in_debt.pk)
        assert codes(can_contact(debt, "call", at)) == {"outside_hours", "opted_out", "disputed"}


def test_a_refused_contact_is_recorded_and_nothing_is_sent(in_debt):
    night = datetime(2026, 11, 23, 23, 30, tzinfo=IST)
    with workspace_context(in_debt.workspace):
        with pytest.raises(ContactRefused) as exc:
            communication_log(debt=in_debt, channel="call", outcome="no_answer", at=night)
        assert {r.code for r in exc.value.decision.reasons} == {"outside_hours"}
        refused = Communication.objects.get(debt=in_debt)
        assert refused.status == "refused" and refused.refusal_reasons[0]["code"] == "outside_hours"
        attempt = ContactAttempt.objects.get(debt=in_debt)
        assert attempt.allowed is False
        assert Debt.objects.get(pk=in_debt.pk).last_contact_at is None
    assert mail.outbox == []


def test_minor_debtor_is_never_contacted(world):
    from datetime import date

    from debtors.services.debtors import DebtorInput, debtor_create
    from debtors.services.debts import DebtInput, debt_create

    with workspace_context(world.a):
        from accounts.models import Client

        minor = debtor_create(
            workspace=world.a,
            data=DebtorInput(full_name="Young Person", phone="+91 9800000001", date_of_birth=date(2015, 1, 1)),
        )
        debt = debt_create(
            workspace=world.a,
            client=Client.objects.get(reference="SAHYADRI"),
            debtor=minor,
            data=DebtInput(reference="M-1", original_amount_minor=100, currency="INR"),
        )
        assert "minor" in codes(can_contact(debt, "call", datetime(2026, 11, 23, 10, 0, tzinfo=IST)))
        assert ConsentRecord.objects.count() == 0
