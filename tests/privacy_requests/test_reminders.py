"""Deadline reminders (privacy_requests.reminders, the daily beat job): 7 and 2 days
before the deadline in force, once each; overdue flagged once, with an email and a
timeline note; idempotent; to the privacy contact, else its email, else the owners.
Time is frozen (``django.utils.timezone.now``); days are counted where the
workspace is. The last tests run the task family on a real Celery worker."""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from types import SimpleNamespace

import pytest
from celery.result import AsyncResult, EagerResult
from django.core import mail
from django.test import TestCase

from accounts.roles import Role
from audit import actions
from audit.models import AuditEvent
from kernel.tenancy import workspace_context
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.models import PrivacyRequest, PrivacyRequestEvent, RequestStatus
from privacy_requests.reminders import privacy_reminders_run
from privacy_requests.services import privacy_request_create, privacy_request_extend, privacy_request_transition
from privacy_requests.tasks import privacy_reminders, privacy_reminders_all
from tests.celery_worker import celery_redis_worker, published_tasks  # noqa: F401  (fixture)
from tests.conftest import add_member, login
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
RECEIVED = datetime(2026, 11, 1, 10, 0, tzinfo=IST)  # India: answer by the end of 1 December
RESULT_TIMEOUT = 30
NONE_SENT = {"reminded_7": 0, "reminded_2": 0, "overdue_flagged": 0}


class Clock:
    def __init__(self, monkeypatch, start: datetime):
        self.now = start
        monkeypatch.setattr("django.utils.timezone.now", lambda: self.now)

    def at(self, moment: datetime) -> Clock:
        self.now = moment
        return self


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch, RECEIVED)


def _request(ws, *, debtor=None, verified=True, type="erasure") -> PrivacyRequest:
    with workspace_context(ws):
        debtor = debtor or make_debt(ws).debtor
        return privacy_request_create(
            workspace=ws, type=type, channel="phone", debtor=debtor, verified_by="DOB" if verified else ""
        )


def _run(ws) -> dict[str, int]:
    # The emails go when the transaction commits.
    with TestCase.captureOnCommitCallbacks(execute=True), workspace_context(ws):
        return privacy_reminders_run(workspace=ws)


def _reload(ws, pr) -> PrivacyRequest:
    with workspace_context(ws):
        return PrivacyRequest.objects.get(pk=pr.pk)


def _notes(ws, pr) -> list[tuple[str, str]]:
    with workspace_context(ws):
        return list(
            PrivacyRequestEvent.objects.filter(request=pr, kind__in=["reminder", "overdue"]).values_list(
                "kind", "reason"
            )
        )


@pytest.fixture
def officer(world):
    """Workspace A names a manager as its privacy contact."""
    meera = add_member(world.a, "meera@example.com", Role.MANAGER)
    with workspace_context(world.a):
        privacy_contact_save(
            workspace=world.a,
            contact_user=meera,
            contact_name="Meera Iyer",
            contact_email="grievance@acme.example",
            contact_phone="",
            grievance_period_days=None,
        )
    return meera


def test_reminders_at_7_and_2_days_and_overdue_each_once(world, clock, officer):
    pr = _request(world.a)
    assert pr.due_at == datetime(2026, 12, 1, 23, 59, 59, tzinfo=IST)

    clock.at(datetime(2026, 11, 23, 9, 0, tzinfo=IST))  # 8 days left
    assert _run(world.a) == NONE_SENT and mail.outbox == []

    clock.at(datetime(2026, 11, 24, 9, 0, tzinfo=IST))  # 7 days left
    assert _run(world.a) == {**NONE_SENT, "reminded_7": 1}
    (email,) = mail.outbox
    assert email.to == ["meera@example.com"]
    assert email.subject == f"[Acme Collections] Privacy request {pr.reference} is due in 7 days"
    assert "must be answered by 01 December 2026 (7 days left)" in email.body
    assert f"/w/acme/privacy/requests/{pr.pk}/" in email.body
    assert _reload(world.a, pr).reminded_7_at == clock.now
    # Idempotent: the same day, again, sends nothing.
    assert _run(world.a) == NONE_SENT and len(mail.outbox) == 1

    clock.at(datetime(2026, 11, 28, 9, 0, tzinfo=IST))  # 3 days left
    assert _run(world.a) == NONE_SENT
    clock.at(datetime(2026, 11, 29, 9, 0, tzinfo=IST))  # 2 days left
    assert _run(world.a) == {**NONE_SENT, "reminded_2": 1}
    assert mail.outbox[-1].subject.endswith("is due in 2 days") and len(mail.outbox) == 2
    assert _run(world.a) == NONE_SENT
    clock.at(datetime(2026, 12, 1, 23, 0, tzinfo=IST))  # the last day
    assert _run(world.a) == NONE_SENT and len(mail.outbox) == 2

    clock.at(datetime(2026, 12, 2, 0, 30, tzinfo=IST))  # overdue
    assert _run(world.a) == {**NONE_SENT, "overdue_flagged": 1}
    overdue = mail.outbox[-1]
    assert overdue.subject == f"[Acme Collections] Overdue: privacy request {pr.reference}"
    assert "passed on 01 December 2026" in overdue.body
    assert _reload(world.a, pr).overdue_flagged_at == clock.now
    assert _run(world.a) == NONE_SENT and len(mail.outbox) == 3

    assert _notes(world.a, pr) == [
        ("reminder", "Reminder: 7 days left (deadline 2026-12-01); the privacy contact was emailed"),
        ("reminder", "Reminder: 2 days left (deadline 2026-12-01); the privacy contact was emailed"),
        ("overdue", "Overdue: the deadline (2026-12-01) passed; the privacy contact was alerted"),
    ]
    with workspace_context(world.a):
        audited = list(
            AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_REMINDED, object_id=str(pr.pk))
            .order_by("seq")
            .values_list("metadata", flat=True)
        )
    assert audited == [
        {"kind": "7_days", "recipients": 1},
        {"kind": "2_days", "recipients": 1},
        {"kind": "overdue", "recipients": 1},
    ]
    # Nothing of the person is in the emails.
    assert all("Debtor" not in m.body and "@example.com" not in m.body for m in mail.outbox)


def test_overdue_requests_appear_on_the_desk(world, clock, officer):
    pr = _request(world.a)
    clock.at(datetime(2026, 12, 3, 9, 0, tzinfo=IST))
    _run(world.a)
    html = login(officer).get("/w/acme/privacy/").content.decode()
    assert f'<tr data-reference="{pr.reference}" data-urgency="overdue">' in html
    assert "overdue by 2 days" in html and "1 overdue" in html
    page = login(officer).get(f"/w/acme/privacy/requests/{pr.pk}/").content.decode()
    assert 'data-kind="overdue"' in page


def test_a_late_first_run_catches_up_with_the_nearer_reminder_only(world, clock, officer):
    pr = _request(world.a)
    clock.at(datetime(2026, 11, 30, 9, 0, tzinfo=IST))  # 1 day left; the 7-day reminder never went
    assert _run(world.a) == {**NONE_SENT, "reminded_2": 1}
    pr = _reload(world.a, pr)
    assert pr.reminded_2_at == clock.now and pr.reminded_7_at == clock.now
    clock.at(datetime(2026, 12, 1, 9, 0, tzinfo=IST))
    assert _run(world.a) == NONE_SENT and len(mail.outbox) == 1


def test_an_extended_deadline_gets_its_own_reminders(world, clock):
    clock.at(datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK))
    pr = _request(world.b)  # US: 45 days, answer by the end of 16 December
    clock.at(datetime(2026, 12, 9, 9, 0, tzinfo=NEW_YORK))
    assert _run(world.b) == {**NONE_SENT, "reminded_7": 1}
    assert mail.outbox[-1].to == ["bob@example.com"]  # no privacy contact: the owners
    with workspace_context(world.b):
        pr = privacy_request_extend(request=_reload(world.b, pr), reason="Records in three systems.")
    assert pr.extended_due_at == datetime(2027, 1, 30, 23, 59, 59, tzinfo=NEW_YORK)
    clock.at(datetime(2026, 12, 15, 9, 0, tzinfo=NEW_YORK))  # the first deadline is no longer in force
    assert _run(world.b) == NONE_SENT
    clock.at(datetime(2027, 1, 23, 9, 0, tzinfo=NEW_YORK))
    assert _run(world.b) == {**NONE_SENT, "reminded_7": 1}
    assert "by 30 January 2027" in mail.outbox[-1].body
    assert _run(world.b) == NONE_SENT


def test_closed_requests_and_clocks_not_started_are_not_reminded(world, clock, officer):
    closed = _request(world.a)
    waiting = _request(world.a, verified=False)
    with workspace_context(world.a):
        privacy_request_transition(request=closed, to=RequestStatus.REFUSED, reason="Manifestly unfounded.")
        waiting = privacy_request_transition(request=waiting, to=RequestStatus.AWAITING_VERIFICATION)
    assert waiting.due_at is None
    clock.at(datetime(2026, 12, 20, 9, 0, tzinfo=IST))
    assert _run(world.a) == NONE_SENT and mail.outbox == []


def test_who_is_reminded(world, clock):
    _request(world.a)
    clock.at(datetime(2026, 11, 24, 9, 0, tzinfo=IST))
    _run(world.a)
    assert mail.outbox[-1].to == ["alice@example.com"]  # no contact: the owners

    pr = _request(world.a)  # received 24 Nov: reminded on 17 Dec
    with workspace_context(world.a):
        privacy_contact_save(
            workspace=world.a,
            contact_user=None,
            contact_name="Grievance desk",
            contact_email="grievance@acme.example",
            contact_phone="",
            grievance_period_days=None,
        )
    clock.at(datetime(2026, 12, 17, 9, 0, tzinfo=IST))
    assert _run(world.a)["reminded_7"] == 1
    assert mail.outbox[-1].to == ["grievance@acme.example"] and pr.reference in mail.outbox[-1].subject


def test_the_beat_entry_runs_the_fan_out_daily(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["privacy-reminders"]
    assert entry["task"] == "privacy_requests.tasks.privacy_reminders_all" == privacy_reminders_all.name
    assert entry["schedule"].hour == {3} and entry["schedule"].minute == {10}


# --- On a real worker (tests/celery_worker.py) ----------------------------------------------------


def _setup_two_workspaces(world, clock):
    a = _request(world.a)
    clock.at(datetime(2026, 11, 1, 10, 0, tzinfo=NEW_YORK))
    b = _request(world.b)
    return SimpleNamespace(a=a, b=b)


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_redis_worker")
def test_the_reminders_task_runs_on_the_worker_and_twice_changes_nothing(world, clock):
    pr = _request(world.a)
    clock.at(datetime(2026, 11, 24, 9, 0, tzinfo=IST))
    result = privacy_reminders.delay(world.a.pk)
    assert result.get(timeout=RESULT_TIMEOUT) == {**NONE_SENT, "reminded_7": 1}
    assert not isinstance(result, EagerResult) and type(result.backend).__name__ == "RedisBackend"
    assert privacy_reminders.delay(world.a.pk).get(timeout=RESULT_TIMEOUT) == NONE_SENT
    assert _reload(world.a, pr).reminded_7_at == clock.now
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_redis_worker")
def test_the_daily_entry_fans_out_one_task_per_workspace(world, clock):
    made = _setup_two_workspaces(world, clock)
    clock.at(datetime(2026, 12, 20, 12, 0, tzinfo=IST))  # both overdue
    with published_tasks() as published:
        assert privacy_reminders_all.delay().get(timeout=RESULT_TIMEOUT) == 2
        children = [t for t in published if t.name == privacy_reminders.name]
        assert sorted(t.args for t in children) == sorted([(world.a.pk,), (world.b.pk,)])
        results = {
            t.args[0]: AsyncResult(t.id, app=privacy_reminders.app).get(timeout=RESULT_TIMEOUT) for t in children
        }
    assert results[world.a.pk] == results[world.b.pk] == {**NONE_SENT, "overdue_flagged": 1}
    assert _reload(world.a, made.a).overdue_flagged_at is not None
    assert _reload(world.b, made.b).overdue_flagged_at is not None
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.com", "bob@example.com"]
