"""Delivering a queued message: provider failures are retried or fail for good, and
the rules are asked again at the time of sending."""

from __future__ import annotations

import smtplib
import zoneinfo
from datetime import datetime, timedelta

import pytest
from anymail.exceptions import AnymailAPIError, AnymailInvalidAddress
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from django.utils import timezone

from audit.models import AuditEvent
from communications.models import Communication
from communications.services import communication_send, template_save
from communications.sms import SmsProvider, SmsSendError
from communications.tasks import DELIVERY_RETRIES, deliver_communication
from consent.models import ConsentAction, ConsentSource, Purpose
from consent.services import consent_record
from debtors.models import Debt, DebtEvent
from kernel.tenancy import workspace_context
from tests.celery_worker import celery_redis_worker, published_tasks  # noqa: F401  (fixture)
from tests.debtors.factories import make_debt

IST = zoneinfo.ZoneInfo("Asia/Kolkata")
DAYTIME = datetime(2026, 11, 23, 11, 0, tzinfo=IST)


class ScriptedSms(SmsProvider):
    """An SMS provider that fails as scripted (one entry per attempt), then sends."""

    script: list[Exception] = []
    attempts = 0
    sent: list[str] = []
    during_send = None  # called (once) while a message is being handed over

    def send(self, *, to: str, body: str, channel: str = "sms") -> str:
        ScriptedSms.attempts += 1
        if ScriptedSms.during_send is not None:
            again, ScriptedSms.during_send = ScriptedSms.during_send, None
            again()
        if ScriptedSms.script:
            raise ScriptedSms.script.pop(0)
        ScriptedSms.sent.append(body)
        return f"scripted-{ScriptedSms.attempts}"


class RefusingEmail(EmailBackend):
    """The email provider's API rejects the message (HTTP 400)."""

    def send_messages(self, messages):
        raise AnymailAPIError("Invalid sender domain", status_code=400)


class InvalidAddressEmail(EmailBackend):
    def send_messages(self, messages):
        raise AnymailInvalidAddress("Invalid email address 'x@'")


@pytest.fixture
def debt(world, settings):
    settings.SMS_PROVIDER = f"{__name__}.ScriptedSms"
    ScriptedSms.script, ScriptedSms.attempts, ScriptedSms.sent, ScriptedSms.during_send = [], 0, [], None
    with workspace_context(world.a):
        debt = make_debt(world.a, email="kavya@example.com")
        for channel, subject in (("sms", ""), ("email", "About {{ reference }}")):
            template_save(
                workspace=world.a,
                name="reminder",
                channel=channel,
                language="en",
                subject=subject,
                body="{{ balance }} {{ currency }} is due.",
            )
    return debt


def _send(world, debt, channel: str, capture, *, deliver: bool = True) -> Communication:
    with workspace_context(world.a), capture(execute=deliver) as callbacks:
        comm = communication_send(debt=debt, channel=channel, template_name="reminder", at=DAYTIME)
    comm.callbacks = callbacks  # type: ignore[attr-defined]
    return comm


def _opt_out_of_email(world, debt) -> None:
    with workspace_context(world.a):
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(debt.debtor_id),
            purpose=Purpose.CONTACT_EMAIL,
            action=ConsentAction.WITHDRAW,
            source=ConsentSource.OPT_OUT_LINK,
        )


def _state(world, comm: Communication) -> tuple[str, list[str]]:
    with workspace_context(world.a):
        status = Communication.objects.get(pk=comm.pk).status
        lines = list(
            DebtEvent.objects.filter(object_id=str(comm.pk)).order_by("created_at").values_list("summary", flat=True)
        )
    return status, lines


def test_a_provider_hiccup_is_retried_and_the_message_sent_once(world, debt, django_capture_on_commit_callbacks):
    ScriptedSms.script = [ConnectionRefusedError("refused"), SmsSendError("throttled", transient=True)]
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks)
    assert ScriptedSms.attempts == 3 and len(ScriptedSms.sent) == 1
    status, lines = _state(world, comm)
    assert status == "sent" and not any("not sent" in line for line in lines)


def test_a_provider_that_keeps_failing_marks_the_message_failed(world, debt, django_capture_on_commit_callbacks):
    ScriptedSms.script = [ConnectionRefusedError("refused")] * (DELIVERY_RETRIES + 1)
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks)
    assert ScriptedSms.attempts == DELIVERY_RETRIES + 1 and ScriptedSms.sent == []
    status, lines = _state(world, comm)
    assert status == "failed"
    assert lines[-1] == "Sms not sent after 6 attempts: ConnectionRefusedError: could not reach the provider"
    with workspace_context(world.a):
        event = AuditEvent.objects.get(action="communication.failed", object_id=str(comm.pk))
    assert event.metadata["attempts"] == 6


def test_a_permanent_refusal_is_not_retried(world, debt, django_capture_on_commit_callbacks):
    ScriptedSms.script = [SmsSendError("number cannot receive SMS", transient=False)]
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks)
    assert ScriptedSms.attempts == 1
    assert _state(world, comm) == (
        "failed",
        [_state(world, comm)[1][0], "Sms not sent after 1 attempt: number cannot receive SMS"],
    )


def test_no_answer_from_the_provider_is_not_retried_lest_the_message_go_twice(
    world, debt, django_capture_on_commit_callbacks
):
    ScriptedSms.script = [TimeoutError("read timed out")]
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks)
    assert ScriptedSms.attempts == 1
    status, lines = _state(world, comm)
    assert status == "failed" and "it may have been sent, so it is not sent again" in lines[-1]


def test_a_message_is_handed_over_at_most_once(world, debt, django_capture_on_commit_callbacks):
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks, deliver=False)
    (callback,) = comm.callbacks
    # The broker delivers the task again while the first run is still handing it over.
    ScriptedSms.during_send = callback
    callback()
    assert ScriptedSms.attempts == 1 and _state(world, comm)[0] == "sent"


def test_a_bug_during_the_hand_off_marks_the_message_failed_and_surfaces(
    world, debt, django_capture_on_commit_callbacks
):
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks, deliver=False)
    ScriptedSms.script = [KeyError("bad provider config")]
    with pytest.raises(KeyError):
        comm.callbacks[0]()
    status, lines = _state(world, comm)
    assert status == "failed" and lines[-1].startswith("Sms not sent after 1 attempt: KeyError during the hand-off")


def test_a_message_left_sending_by_a_dead_worker_is_failed_by_the_upkeep(
    world, debt, django_capture_on_commit_callbacks
):
    from communications.delivery import communications_unstick

    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks, deliver=False)
    with workspace_context(world.a):
        Communication.objects.filter(pk=comm.pk).update(status="sending")
        assert communications_unstick(workspace_id=world.a.pk, now=DAYTIME + timedelta(hours=1)) == 0
        assert communications_unstick(workspace_id=world.a.pk, now=DAYTIME + timedelta(hours=3)) == 1
    status, lines = _state(world, comm)
    assert status == "failed" and "the worker stopped during the hand-off" in lines[-1]


@pytest.mark.parametrize(
    ("failure", "transient", "says"),
    [
        (smtplib.SMTPSenderRefused(550, b"sender rejected", "ops@acme.example"), False, "answered 550"),
        (smtplib.SMTPDataError(451, b"try later"), True, "answered 451"),
        (ConnectionRefusedError(), True, "could not reach"),
        (TimeoutError("timed out"), False, "may have been sent"),
        (AnymailAPIError("gateway", status_code=504), False, "may have been sent"),
        (AnymailAPIError("busy", status_code=503), True, "answered 503"),
    ],
)
def test_failures_are_told_apart(failure, transient, says):
    from communications.delivery import _classify

    error = _classify(failure)
    assert error is not None and (error.transient, says in str(error)) == (transient, True)


def test_a_request_that_never_connected_is_retried():
    import requests
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    from communications.delivery import _classify

    never = requests.exceptions.ConnectionError(
        MaxRetryError(None, "/v3/smtp/email", NewConnectionError(None, "refused"))
    )
    try:
        raise AnymailAPIError("could not connect") from never
    except AnymailAPIError as exc:
        error = _classify(exc)
    assert error is not None and error.transient


def test_an_email_the_provider_rejects_fails_at_once(world, debt, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmail"
    comm = _send(world, debt, "email", django_capture_on_commit_callbacks)
    status, lines = _state(world, comm)
    assert status == "failed" and lines[-1] == "Email not sent after 1 attempt: the provider answered 400"
    assert mail.outbox == []


def test_an_address_the_email_library_refuses_fails_for_good(world, debt, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = f"{__name__}.InvalidAddressEmail"
    comm = _send(world, debt, "email", django_capture_on_commit_callbacks)
    status, lines = _state(world, comm)
    assert status == "failed" and "refused before sending (AnymailInvalidAddress)" in lines[-1]


def test_an_opt_out_between_queueing_and_sending_withholds_the_message(world, debt, django_capture_on_commit_callbacks):
    comm = _send(world, debt, "email", django_capture_on_commit_callbacks, deliver=False)
    _opt_out_of_email(world, debt)
    for callback in comm.callbacks:  # the worker picks the message up now
        callback()
    assert mail.outbox == []
    status, lines = _state(world, comm)
    assert status == "refused" and lines[-1] == "Email withheld: opted_out"
    with workspace_context(world.a):
        assert Communication.objects.get(pk=comm.pk).refusal_reasons[0]["code"] == "opted_out"
        assert AuditEvent.objects.filter(action="communication.withheld", object_id=str(comm.pk)).exists()


def test_a_late_hand_off_is_held_to_the_debtors_contact_hours(
    world, debt, monkeypatch, django_capture_on_commit_callbacks
):
    comm = _send(world, debt, "sms", django_capture_on_commit_callbacks, deliver=False)
    night = datetime(2026, 11, 24, 2, 30, tzinfo=IST)
    monkeypatch.setattr(timezone, "now", lambda: night)
    # Queued a minute ago: the gate's decision stands (the hours were just checked).
    assert (
        deliver_communication.delay(world.a.pk, str(comm.pk), (night - timedelta(minutes=1)).isoformat()).get()
        == "sent"
    )

    late = _send(world, debt, "sms", django_capture_on_commit_callbacks, deliver=False)
    # The worker was down all night: at 02:30 for the debtor, the message waits no more.
    assert (
        deliver_communication.delay(world.a.pk, str(late.pk), (night - timedelta(hours=6)).isoformat()).get()
        == "refused"
    )
    status, lines = _state(world, late)
    assert status == "refused" and lines[-1] == "Sms withheld: outside_hours"
    assert len(ScriptedSms.sent) == 1


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_through_the_broker(world, debt, monkeypatch, celery_redis_worker):  # noqa: F811
    import communications.tasks

    monkeypatch.setattr(communications.tasks, "DELIVERY_FIRST_RETRY_SECONDS", 0)
    monkeypatch.setattr(timezone, "now", lambda: DAYTIME)
    ScriptedSms.script = [ConnectionRefusedError("refused"), SmsSendError("503 from the provider", transient=True)]
    with published_tasks() as published, workspace_context(world.a):
        comm = communication_send(debt=debt, channel="sms", template_name="reminder", at=DAYTIME)
    (task,) = [t for t in published if t.name == "consent.tasks.deliver_communication"]
    # A retried task keeps its id; its result is the last attempt's.
    assert celery_redis_worker.AsyncResult(task.id).get(timeout=60) == "sent"
    assert _state(world, comm)[0] == "sent"
    assert ScriptedSms.attempts == 3 and len(ScriptedSms.sent) == 1


def test_a_withheld_message_is_no_contact(world, debt, django_capture_on_commit_callbacks):
    comm = _send(world, debt, "email", django_capture_on_commit_callbacks, deliver=False)
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).last_contact_at == DAYTIME
    _opt_out_of_email(world, debt)
    for callback in comm.callbacks:
        callback()
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).last_contact_at is None  # the queue shows "never contacted" again


def test_a_bounce_reported_by_the_provider_is_recorded_and_is_no_contact(
    world, debt, django_capture_on_commit_callbacks
):
    from anymail.signals import AnymailTrackingEvent, tracking

    comm = _send(world, debt, "email", django_capture_on_commit_callbacks)
    with workspace_context(world.a):
        Communication.objects.filter(pk=comm.pk).update(provider_message_id="brevo-123")
    tracking.send(
        sender=None, event=AnymailTrackingEvent(event_type="bounced", message_id="brevo-123"), esp_name="Brevo"
    )
    status, lines = _state(world, comm)
    assert status == "bounced" and lines[-1] == "Email bounced"
    with workspace_context(world.a):
        assert Debt.objects.get(pk=debt.pk).last_contact_at is None
    # A forged event for an unknown message changes nothing.
    tracking.send(sender=None, event=AnymailTrackingEvent(event_type="delivered", message_id="nope"), esp_name="Brevo")
    assert _state(world, comm)[0] == "bounced"


def test_the_delivery_problems_page_lists_what_did_not_reach_the_debtor(
    world, debt, django_capture_on_commit_callbacks
):
    from accounts.roles import Role
    from tests.conftest import add_member, login

    ScriptedSms.script = [SmsSendError("number cannot receive SMS", transient=False)]
    failed = _send(world, debt, "sms", django_capture_on_commit_callbacks)
    sent = _send(world, debt, "sms", django_capture_on_commit_callbacks)
    withheld = _send(world, debt, "email", django_capture_on_commit_callbacks, deliver=False)
    _opt_out_of_email(world, debt)
    withheld.callbacks[0]()

    page = login(world.alice).get("/w/acme/communications/problems/")
    assert page.status_code == 200
    listed = {row["message"].pk: row["reason"] for row in page.context["rows"]}
    assert set(listed) == {failed.pk, withheld.pk} and sent.pk not in listed
    assert listed[failed.pk] == "Sms not sent after 1 attempt: number cannot receive SMS"
    assert listed[withheld.pk] == "Email withheld: opted_out"
    only_failed = login(world.alice).get("/w/acme/communications/problems/?status=failed").context["rows"]
    assert [row["message"].pk for row in only_failed] == [failed.pk]

    # An agent sees only the debts assigned to them; another workspace sees nothing.
    agent = add_member(world.a, "agent@example.com", Role.AGENT)
    assert login(agent).get("/w/acme/communications/problems/").context["rows"] == []
    assert login(world.bob).get("/w/acme/communications/problems/").status_code == 404
