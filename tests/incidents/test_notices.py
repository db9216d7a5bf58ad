"""Telling the people affected (incidents/notices.py): once each, by email else SMS,
with the content the laws require, in batches, and the people's duty recorded done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from communications.sms import LoggingSmsProvider
from consent.services import consent_record
from incidents import notices
from incidents.models import AffectedPerson, IncidentUpdate, NoticeStatus
from incidents.notices import (
    incident_notices_batch,
    incident_notices_start,
    notices_progress,
    notices_resume_stalled,
)
from kernel.crypto.keyring import subject_key_shred
from kernel.tenancy import workspace_context
from tests.incidents.notices_world import (
    breach,
    contact,
    crowd,
    decide_people,
    freeze_client,
    notices_of,
    people_duty_of,
    person,
    rows_of,
)

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def sahyadri(world):
    from accounts.models import Client

    with workspace_context(world.a):
        return Client.objects.for_workspace(world.a).get(reference="SAHYADRI")


@pytest.fixture(autouse=True)
def _empty_outboxes():
    LoggingSmsProvider.outbox.clear()
    yield
    LoggingSmsProvider.outbox.clear()


def ready_incident(world, client, people, *, aware_at=None):
    """An incident at acme with ``people`` frozen, the people's duty decided, a contact set."""
    incident = breach(world.a, aware_at=aware_at or timezone.now() - H)
    freeze_client(incident, client)
    decide_people(incident)
    contact(world.a)
    return incident


def start(incident, capture, **kwargs):
    with workspace_context(incident.workspace), capture(execute=True):
        return incident_notices_start(incident=incident, **kwargs)


def test_each_person_is_told_once_by_email_else_sms_and_the_duty_is_done(
    world, sahyadri, django_capture_on_commit_callbacks
):
    people = crowd(world.a, sahyadri, 15)
    incident = ready_incident(world, sahyadri, people)

    assert start(incident, django_capture_on_commit_callbacks) == 15

    sent = notices_of(incident)
    rows = rows_of(incident)
    for p in people:
        row = rows[p.debtor.pk]
        if not p.channel:
            assert row.notice_status == NoticeStatus.NO_CONTACT and p.debtor.pk not in sent
            continue
        [comm] = sent[p.debtor.pk]  # exactly one message each
        assert (row.notice_status, row.channel, row.communication_id) == (NoticeStatus.SENT, p.channel, comm.pk)
        assert (comm.channel, comm.status, comm.outcome) == (p.channel, "sent", "legal_notice")
    emails = [p for p in people if p.channel == "email"]
    texts = [p for p in people if p.channel == "sms"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted(p.debtor.email for p in emails)
    assert sorted(m["to"] for m in LoggingSmsProvider.outbox) == sorted(p.debtor.phone for p in texts)
    progress = notices_progress(incident=incident)
    assert (progress.total, progress.sent, progress.no_contact, progress.pending) == (15, 13, 2, 0)
    assert progress.delivery == {"sent": 13} and progress.duty_done and progress.percent == 100
    duty = people_duty_of(incident)
    assert duty.done_at is not None and duty.late_reason == ""


def test_the_email_says_what_the_laws_require(world, sahyadri, django_capture_on_commit_callbacks):
    p = person(world.a, sahyadri, "LN-1", email="asha@example.com")
    incident = ready_incident(world, sahyadri, [p])
    start(incident, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    body = message.body
    assert message.subject == "Acme Collections: a security incident involving your personal data"
    assert "LN-1 (Sahyadri Bank)" in body  # their account, nothing else of theirs
    assert "Person LN-1" not in body
    assert "A CSV of accounts was emailed to an outside address by mistake." in body  # what happened
    assert "your contact details (email, phone, address)" in body  # which data
    assert "Possible phishing using account details." in body  # likely consequences
    assert "The recipient confirmed deletion in writing." in body  # what was done
    assert "Outbound email of exports is now blocked." in body  # what will be done
    assert "Check your bank and card statements" in body  # what they can do (financial data)
    assert "Grievance Officer, dpo@acme.example, +911140000000" in body  # whom to contact
    assert incident.reference in body and "Data Protection Board of India" in body  # where to complain
    assert "opt" not in body.lower()  # a legal notice carries no collection opt-out line


def test_hindi_speakers_get_the_notice_in_hindi(world, sahyadri, django_capture_on_commit_callbacks):
    p = person(world.a, sahyadri, "HI-1", phone="+919812345678", language="hi")
    incident = ready_incident(world, sahyadri, [p])
    start(incident, django_capture_on_commit_callbacks)

    [sms] = LoggingSmsProvider.outbox
    assert "सुरक्षा घटना" in sms["body"] and incident.reference in sms["body"]
    assert "dpo@acme.example" in sms["body"]


def test_an_opt_out_does_not_stop_a_notice_the_law_requires(world, sahyadri, django_capture_on_commit_callbacks):
    p = person(world.a, sahyadri, "OPT-1", email="optout@example.com")
    with workspace_context(world.a):
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(p.debtor.pk),
            purpose="all_contact",
            action="withdraw",
            source="opt_out_link",
        )
    incident = ready_incident(world, sahyadri, [p])
    start(incident, django_capture_on_commit_callbacks)

    [comm] = notices_of(incident)[p.debtor.pk]
    assert comm.status == "sent" and [m.to for m in mail.outbox] == [["optout@example.com"]]


def test_an_erased_person_has_no_contact_left(world, sahyadri, django_capture_on_commit_callbacks):
    kept = person(world.a, sahyadri, "ER-1", email="kept@example.com")
    erased = person(world.a, sahyadri, "ER-2", email="erased@example.com")
    incident = ready_incident(world, sahyadri, [kept, erased])
    with workspace_context(world.a):
        subject_key_shred(world.a.pk, "debtor", str(erased.debtor.pk))
    start(incident, django_capture_on_commit_callbacks)

    rows = rows_of(incident)
    assert rows[erased.debtor.pk].notice_status == NoticeStatus.NO_CONTACT
    assert rows[kept.debtor.pk].notice_status == NoticeStatus.SENT
    assert [m.to for m in mail.outbox] == [["kept@example.com"]]


def test_batches_take_only_pending_people_and_never_tell_anyone_twice(
    world, sahyadri, django_capture_on_commit_callbacks
):
    people = [person(world.a, sahyadri, f"B-{i}", email=f"b{i}@example.com") for i in range(7)]
    incident = ready_incident(world, sahyadri, people)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=False):
        incident_notices_start(incident=incident)  # the task is not run: batches by hand
    with workspace_context(world.a):
        first = incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=3)
        second = incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=3)
        assert (first.sent, first.remaining, second.sent, second.remaining) == (3, 4, 3, 1)
        assert not first.finished and people_duty_of(incident).done_at is None
        last = incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=3)
        again = incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=3)
    assert (last.sent, last.finished, again.sent, again.finished) == (1, True, 0, True)
    assert sorted(len(c) for c in notices_of(incident).values()) == [1] * 7
    assert people_duty_of(incident).done_at is not None
    # Resuming a finished run tells no one again.
    with pytest.raises(ValidationError, match="already recorded as notified"):
        start(incident, django_capture_on_commit_callbacks)


def test_a_batch_that_dies_half_way_sends_nothing_and_marks_no_one(
    world, sahyadri, monkeypatch, django_capture_on_commit_callbacks
):
    people = [person(world.a, sahyadri, f"K-{i}", email=f"k{i}@example.com") for i in range(5)]
    incident = ready_incident(world, sahyadri, people)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=False):
        incident_notices_start(incident=incident)
    real = notices.legal_notice_send
    calls = []

    def dies_on_the_third(**kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise SystemExit("worker killed")  # as a kill mid-batch: nothing after this runs
        return real(**kwargs)

    monkeypatch.setattr(notices, "legal_notice_send", dies_on_the_third)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True), pytest.raises(SystemExit):
        incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=5)
    assert notices_of(incident) == {} and mail.outbox == []  # the two messages made were rolled back
    assert {r.notice_status for r in rows_of(incident).values()} == {NoticeStatus.PENDING}

    monkeypatch.setattr(notices, "legal_notice_send", real)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        done = incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=5)
    assert done.sent == 5 and sorted(len(c) for c in notices_of(incident).values()) == [1] * 5
    assert len(mail.outbox) == 5


def test_starting_needs_the_decision_the_frozen_list_and_a_contact(world, sahyadri, django_capture_on_commit_callbacks):
    person(world.a, sahyadri, "S-1", email="s1@example.com")
    incident = breach(world.a, aware_at=timezone.now() - H)

    with pytest.raises(ValidationError) as refused:
        start(incident, django_capture_on_commit_callbacks)
    assert "decide to notify" in str(refused.value).lower()
    decide_people(incident)
    with pytest.raises(ValidationError, match="freeze the list"):
        start(incident, django_capture_on_commit_callbacks)
    freeze_client(incident, sahyadri)
    with pytest.raises(ValidationError, match="privacy contact"):
        start(incident, django_capture_on_commit_callbacks)
    contact(world.a, email="", phone="")
    with pytest.raises(ValidationError, match="privacy contact"):
        start(incident, django_capture_on_commit_callbacks)
    assert notices_of(incident) == {} and mail.outbox == []
    contact(world.a)
    assert start(incident, django_capture_on_commit_callbacks) == 1
    assert len(mail.outbox) == 1


def test_after_the_deadline_the_reasons_are_required_and_kept_on_the_duty(
    world, sahyadri, django_capture_on_commit_callbacks
):
    p = person(world.a, sahyadri, "L-1", email="late@example.com")
    # India: "without delay", measured against the workspace's target (72 hours by default).
    incident = ready_incident(world, sahyadri, [p], aware_at=timezone.now() - 80 * H)

    with pytest.raises(ValidationError) as refused:
        start(incident, django_capture_on_commit_callbacks)
    assert "late_reason" in refused.value.message_dict
    assert "give the reasons for the delay" in str(refused.value)
    assert notices_of(incident) == {}

    start(incident, django_capture_on_commit_callbacks, late_reason="The list took four days to establish.")
    duty = people_duty_of(incident)
    assert duty.done_at is not None and duty.late_reason == "The list took four days to establish."
    assert len(mail.outbox) == 1


def test_a_changed_decision_stops_the_run(world, sahyadri, django_capture_on_commit_callbacks):
    people = [person(world.a, sahyadri, f"D-{i}", email=f"d{i}@example.com") for i in range(4)]
    incident = ready_incident(world, sahyadri, people)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=False):
        incident_notices_start(incident=incident)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=2)
        decide_people(incident, "not_required")
        stopped = incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=2)
    assert stopped.sent == 0 and len(notices_of(incident)) == 2
    assert notices_progress(incident=incident).pending == 2


def test_the_start_and_each_batch_are_on_the_history_and_audited(world, sahyadri, django_capture_on_commit_callbacks):
    people = [person(world.a, sahyadri, f"A-{i}", email=f"a{i}@example.com") for i in range(3)]
    incident = ready_incident(world, sahyadri, people)
    with workspace_context(world.a):
        start(incident, django_capture_on_commit_callbacks, actor=world.alice)
        history = list(IncidentUpdate.objects.for_workspace(world.a).filter(incident=incident, kind="notices"))
        events = list(AuditEvent.objects.filter(action="incident.notified", object_id=str(incident.pk)).order_by("seq"))
    assert [u.text for u in history] == ["Notices to the people affected started: 3 to be told (email, else SMS)."]
    assert history[0].author == world.alice
    steps = [(e.metadata["step"], e.metadata.get("sent")) for e in events]
    assert steps == [("started", None), ("batch", 3)]


def test_another_workspaces_incident_is_not_touched(world, sahyadri, django_capture_on_commit_callbacks):
    p = person(world.a, sahyadri, "X-1", email="x1@example.com")
    incident = ready_incident(world, sahyadri, [p])
    with workspace_context(world.b):
        result = incident_notices_batch(workspace=world.b, incident_id=incident.pk)
    assert result.sent == 0 and notices_of(incident) == {}


def test_a_person_is_told_only_of_the_declared_data_touched_of_them(
    world, sahyadri, django_capture_on_commit_callbacks
):
    p = person(world.a, sahyadri, "CAT-1", email="cat@example.com")
    incident = ready_incident(world, sahyadri, [p])
    with workspace_context(world.a):
        # The finder found only their contact details touched (e.g. one reveal of the email).
        AffectedPerson.objects.for_workspace(world.a).filter(incident=incident).update(categories=["contact"])
    start(incident, django_capture_on_commit_callbacks)

    [message] = mail.outbox
    assert "your contact details (email, phone, address)" in message.body
    assert "financial details" not in message.body and "Check your bank" not in message.body
    assert "Expect possible scam emails" in message.body


def test_a_run_that_stopped_is_queued_again_and_a_live_one_is_not(world, sahyadri, django_capture_on_commit_callbacks):
    people = [person(world.a, sahyadri, f"ST-{i}", email=f"st{i}@example.com") for i in range(4)]
    incident = ready_incident(world, sahyadri, people)
    t0 = timezone.now()
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=False):
        incident_notices_start(incident=incident, now=t0)  # its task is lost: the worker died
        incident_notices_batch(workspace=world.a, incident_id=incident.pk, size=1, now=t0 + 2 * timedelta(minutes=1))
        assert notices_resume_stalled(workspace=world.a, now=t0 + timedelta(minutes=11)) == 0  # moved 9 minutes ago
        assert notices_resume_stalled(workspace=world.b, now=t0 + timedelta(minutes=30)) == 0
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        assert notices_resume_stalled(workspace=world.a, now=t0 + timedelta(minutes=13)) == 1
    assert sorted(len(c) for c in notices_of(incident).values()) == [1] * 4
    assert people_duty_of(incident).done_at is not None
    with workspace_context(world.a):
        assert notices_resume_stalled(workspace=world.a, now=t0 + timedelta(hours=2)) == 0  # nothing left
