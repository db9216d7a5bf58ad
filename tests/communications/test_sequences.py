"""Collection sequences: advanced by Celery beat's task, always through the rules."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.core import mail

from communications.models import Communication, DebtSequence
from communications.sequences import (
    sequence_create,
    sequence_enrol,
    sequence_pause,
    sequence_preview,
    sequences_run_due,
)
from communications.services import template_save
from consent.services import consent_record
from debtors.models import DebtEvent
from kernel.tenancy import workspace_context
from tests.celery_worker import celery_redis_worker  # noqa: F401
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
DAY0 = datetime(2026, 11, 23, 10, 0, tzinfo=IST)

STEPS = [
    {"day": 0, "channel": "email", "template": "first"},
    {"day": 3, "channel": "sms", "template": "nudge"},
    {"day": 7, "channel": "call"},
    {"day": 14, "channel": "letter", "template": "final"},
]


def _setup(ws):
    template_save(
        workspace=ws,
        name="first",
        channel="email",
        language="en",
        subject="Your account {{ reference }}",
        body="Pay here: {{ payment_link }}",
    )
    template_save(
        workspace=ws, name="nudge", channel="sms", language="en", subject="", body="{{ balance }} {{ currency }} is due"
    )
    seq = sequence_create(workspace=ws, name="Standard", steps=STEPS)
    debt = make_debt(ws, email="seq@example.com")
    return seq, debt


def test_sequence_advances_step_by_step_through_the_rules(world, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        seq, debt = _setup(world.a)
        enrolment = sequence_enrol(debt=debt, sequence=seq, start=DAY0)
    with django_capture_on_commit_callbacks(execute=True):
        assert sequences_run_due(workspace=world.a, now=DAY0)["done"] == 1
    assert len(mail.outbox) == 1 and "/pay/" in mail.outbox[0].body  # day 0 email carries a payment link
    # Day 3 at night: refused, retried later, nothing sent.
    night = DAY0 + timedelta(days=3, hours=12)
    assert sequences_run_due(workspace=world.a, now=night) == {"done": 0, "refused": 1, "stopped": 0}
    with workspace_context(world.a):
        enrolment.refresh_from_db()
        assert enrolment.next_step == 1 and enrolment.last_result["refused"][0]["code"] == "outside_hours"
        preview = sequence_preview(enrolment=enrolment, at=night)
        assert preview.step["channel"] == "sms" and not preview.allowed_now
    assert sequences_run_due(workspace=world.a, now=DAY0 + timedelta(days=4))["done"] == 1
    assert sequences_run_due(workspace=world.a, now=DAY0 + timedelta(days=7))["done"] == 1
    with workspace_context(world.a):
        assert DebtEvent.objects.filter(debt=debt, kind="task.call").exists()
    assert sequences_run_due(workspace=world.a, now=DAY0 + timedelta(days=14))["done"] == 1
    with workspace_context(world.a):
        enrolment.refresh_from_db()
        assert enrolment.finished_at is not None
        kinds = list(Communication.objects.filter(debt=debt).order_by("occurred_at").values_list("channel", "status"))
    assert kinds == [
        ("email", "sent"),
        ("sms", "refused"),
        ("sms", "queued"),
        ("letter", "queued"),
    ]  # delivery runs on commit


def test_paused_enrolments_wait_and_opt_out_blocks_the_step(world):
    with workspace_context(world.a):
        seq, debt = _setup(world.a)
        enrolment = sequence_enrol(debt=debt, sequence=seq, start=DAY0)
        sequence_pause(enrolment=enrolment, paused=True)
    assert sequences_run_due(workspace=world.a, now=DAY0)["done"] == 0
    with workspace_context(world.a):
        sequence_pause(enrolment=enrolment, paused=False)
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(debt.debtor_id),
            purpose="contact_email",
            action="withdraw",
            source="debtor_page",
        )
    assert sequences_run_due(workspace=world.a, now=DAY0)["refused"] == 1
    assert mail.outbox == []


def test_bad_sequences_are_refused_with_reasons(world):
    from django.core.exceptions import ValidationError

    with workspace_context(world.a), pytest.raises(ValidationError) as exc:
        sequence_create(
            workspace=world.a, name="bad", steps=[{"day": 3, "channel": "pigeon"}, {"day": 1, "channel": "sms"}]
        )
    text = str(exc.value)
    assert "channel" in text and "in order" in text and "template" in text


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_celery_worker_runs_a_sequence_step(world, celery_redis_worker, monkeypatch):  # noqa: F811
    from communications.tasks import sequences_advance

    monkeypatch.setattr("django.utils.timezone.now", lambda: DAY0 + timedelta(minutes=1))
    with workspace_context(world.a):
        seq, debt = _setup(world.a)
        sequence_enrol(debt=debt, sequence=seq, start=DAY0)
    result = sequences_advance.delay(world.a.pk).get(timeout=60)
    assert result["done"] == 1
    with workspace_context(world.a):
        assert DebtSequence.objects.get(debt=debt).next_step == 1
        assert Communication.objects.filter(debt=debt, channel="email").exists()
