"""Reminders as deadlines near: 24 h, 6 h and 1 h before, and once overdue, each once per
duty, to the members who must act (owners, admins, the privacy contact); frozen time
through ``now=``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from collectpro.celery import app as celery_app
from incidents.models import Duty
from incidents.reminders import duty_reminders_run, reminder_recipients
from incidents.services import duty_decide, duty_done, incident_transition
from incidents.tasks import incident_reminders
from kernel.tenancy import workspace_context
from tests.incidents.register_world import AWARE, duties, record, staff

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)
MUST_ACT = ["admin@example.com", "alice@example.com", "dpo@example.com"]


def run(workspace, now, capture):
    with workspace_context(workspace), capture(execute=True):
        return duty_reminders_run(workspace=workspace, now=now)


def test_the_members_who_must_act_are_emailed(world):
    staff(world)
    with workspace_context(world.a):
        # Not the manager, the agent, the auditor or the client's login; the manager named
        # privacy contact is.
        assert reminder_recipients(workspace=world.a) == MUST_ACT


def test_each_reminder_goes_once_as_the_deadline_nears(world, django_capture_on_commit_callbacks):
    staff(world)
    incident = record(world.a, cert_in_listed=True)  # CERT-In: 6 hours, so 24 h and 6 h are due at once
    deadline = AWARE + 72 * H  # the Board's report, the Board (target) and the people (target)

    early = run(world.a, deadline - 24 * H - timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert early == {"24h": 0, "6h": 0, "1h": 0, "overdue": 1}  # only CERT-In: its 6 hours passed long ago
    assert len(mail.outbox) == 1 and mail.outbox[0].subject.startswith("[Acme Collections] Overdue: CERT-In")

    sent = run(world.a, deadline - 24 * H, django_capture_on_commit_callbacks)
    assert sent == {"24h": 3, "6h": 0, "1h": 0, "overdue": 0}  # IN-DPB, IN-DPB-REPORT, PEOPLE
    assert len(mail.outbox) == 4
    assert sorted(mail.outbox[0].to) == MUST_ACT

    # Run again at the same moment, or a little later: nothing twice.
    assert sum(run(world.a, deadline - 24 * H, django_capture_on_commit_callbacks).values()) == 0
    assert sum(run(world.a, deadline - 7 * H, django_capture_on_commit_callbacks).values()) == 0
    assert len(mail.outbox) == 4

    assert run(world.a, deadline - 6 * H, django_capture_on_commit_callbacks)["6h"] == 3
    assert run(world.a, deadline - 30 * timedelta(minutes=1), django_capture_on_commit_callbacks)["1h"] == 3
    assert run(world.a, deadline + timedelta(minutes=1), django_capture_on_commit_callbacks)["overdue"] == 3
    assert sum(run(world.a, deadline + 5 * H, django_capture_on_commit_callbacks).values()) == 0
    assert len(mail.outbox) == 13

    report = duties(incident)["IN-DPB-REPORT"]
    assert report.reminders_sent == ["24h", "6h", "1h", "overdue"]
    with workspace_context(world.a):
        audited = AuditEvent.objects.filter(action=actions.INCIDENT_REMINDED, object_id=str(report.pk))
        assert sorted(e.metadata["reminder"] for e in audited) == ["1h", "24h", "6h", "overdue"]


def test_the_email_says_which_deadline_in_the_workspaces_zone(world, django_capture_on_commit_callbacks):
    staff(world)
    incident = record(world.a, cert_in_listed=True)
    run(world.a, AWARE + 5 * H + timedelta(minutes=30), django_capture_on_commit_callbacks)
    cert_in = next(m for m in mail.outbox if "CERT-In" in m.subject)
    assert cert_in.subject == (
        f"[Acme Collections] 0 h 30 min left: CERT-In: cyber incident report for incident {incident.reference}"
    )
    # 09:30 UTC + 6 h is 21:00 in Kolkata; a deadline in law, with its source.
    assert "Deadline: 2026-03-02 21:00 (Asia/Kolkata)" in cert_in.body
    assert "This is a deadline in law: CERT-In directions" in cert_in.body
    assert f"/w/acme/incidents/{incident.reference}/" in cert_in.body
    # The Board's intimation has no fixed hours: the email says it is the workspace's target.
    run(world.a, AWARE + 48 * H, django_capture_on_commit_callbacks)
    board = next(m for m in mail.outbox if "intimation" in m.subject)
    assert board.subject.startswith("[Acme Collections] 24 h 00 min left: Data Protection Board: intimation")
    assert "the workspace's own target, 72 hours from awareness" in board.body


def test_a_job_that_missed_runs_sends_only_the_tightest_reminder(world, django_capture_on_commit_callbacks):
    incident = record(world.a)
    deadline = AWARE + 72 * H
    assert run(world.a, deadline - 20 * timedelta(minutes=1), django_capture_on_commit_callbacks)["1h"] == 3
    assert duties(incident)["IN-DPB-REPORT"].reminders_sent == ["1h"]
    assert sum(run(world.a, deadline - 10 * timedelta(minutes=1), django_capture_on_commit_callbacks).values()) == 0


def test_done_not_required_and_closed_are_not_reminded(world, django_capture_on_commit_callbacks):
    incident = record(world.a)
    found = duties(incident)
    other = record(world.a, title="Misdirected email")
    with workspace_context(world.a):
        duty_done(duty=found["IN-DPB"], filing_reference="DPB-9", now=AWARE + H)
        duty_decide(duty=found["PEOPLE"], decision="not_required", reason="No person's data after all")
        incident_transition(incident=other, to="closed", reason="No breach: the email never left", now=AWARE + H)
    sent = run(world.a, AWARE + 71 * H, django_capture_on_commit_callbacks)
    assert sent == {"24h": 0, "6h": 0, "1h": 1, "overdue": 0}  # the report of the open incident only
    assert duties(incident)["IN-DPB-REPORT"].reminders_sent == ["1h"]
    assert all(d.reminders_sent == [] for d in duties(other).values())


def test_a_reminder_rolled_back_is_sent_by_the_next_run(world, django_capture_on_commit_callbacks):
    """The claim and the email go together: nothing is marked sent unless it committed."""
    incident = record(world.a)
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        run(world.a, AWARE + 71 * H, django_capture_on_commit_callbacks)
        raise RuntimeError("the worker died before committing")
    assert duties(incident)["IN-DPB-REPORT"].reminders_sent == []
    assert run(world.a, AWARE + 71 * H, django_capture_on_commit_callbacks)["1h"] == 3


def test_the_beat_task_runs_the_reminders_every_15_minutes(world, django_capture_on_commit_callbacks):
    entry = settings.CELERY_BEAT_SCHEDULE["incident-reminders"]
    assert entry["task"] == "incidents.tasks.incident_reminders_all"
    assert entry["task"] in celery_app.tasks
    assert str(entry["schedule"]._orig_minute) == "*/15"  # type: ignore[attr-defined]
    # The task of one workspace, at the real now: a report due in 2 hours gets its 6-hour reminder.
    now = timezone.now()
    incident = record(world.a, aware_at=now - 70 * H, now=now)
    with django_capture_on_commit_callbacks(execute=True):
        assert incident_reminders(world.a.pk)["6h"] == 3
    assert duties(incident)["IN-DPB-REPORT"].reminders_sent == ["6h"]
    with workspace_context(world.a):
        assert Duty.objects.for_workspace(world.a).filter(incident=incident).count() == 3
