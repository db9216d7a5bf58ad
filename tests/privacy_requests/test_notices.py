"""What the requester is told by email: the answer when their request is closed
(with the right to complain when refused or partly fulfilled), an extension with
its reason and new deadline, and that their copy is ready — to the email on file
once matched, else to the email they gave; after the commit, and never at the
cost of the transition."""

from __future__ import annotations

import zoneinfo
from smtplib import SMTPException

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.urls import reverse

from accounts.models import Workspace
from audit import actions
from audit.models import AuditEvent
from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.tenancy import workspace_context
from privacy_requests import erasure, export_archive, notices
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.models import PrivacyRequest, PrivacyRequestEvent, RequestStatus
from privacy_requests.services import privacy_request_create, privacy_request_extend, privacy_request_transition
from tests.privacy_requests.erasure_world import build_person
from tests.privacy_requests.intake_world import make_meera

MEERA = "meera@example.com"
TYPED = "typed-by-requester@example.net"


class FailingBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        raise SMTPException("mail relay down")


def _contact(ws: Workspace) -> None:
    with workspace_context(ws):
        privacy_contact_save(
            workspace=ws,
            contact_user=None,
            contact_name="Grievance Officer",
            contact_email="privacy@acme.example",
            contact_phone="+91 22 4000 1234",
            grievance_period_days=None,
        )


def _request(ws: Workspace, *, debtor: Debtor | None = None, contact: str = TYPED, **kwargs) -> PrivacyRequest:
    with workspace_context(ws):
        return privacy_request_create(
            workspace=ws, channel=kwargs.pop("channel", "web"), debtor=debtor, requester_contact=contact, **kwargs
        )


def _events(request: PrivacyRequest, kind: str) -> list[PrivacyRequestEvent]:
    with workspace_context(request.workspace):
        return list(PrivacyRequestEvent.objects.for_workspace(request.workspace_id).filter(request=request, kind=kind))


def _notified(request: PrivacyRequest) -> list[AuditEvent]:
    return list(
        AuditEvent.unscoped.filter(action=actions.PRIVACY_REQUEST_NOTIFIED, object_id=str(request.pk)).order_by("seq")
    )


def test_a_refusal_tells_the_reason_and_the_right_to_complain_to_the_email_on_file(
    world, django_capture_on_commit_callbacks
):
    _contact(world.a)
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="erasure")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(
            request=request, to=RequestStatus.REFUSED, reason="The debt is in court: we must keep the file."
        )
    assert [m.to for m in mail.outbox] == [[MEERA]]  # not to what the requester typed
    message = mail.outbox[0]
    assert request.reference in message.subject and "refused" in message.subject
    body = message.body
    assert "The debt is in court: we must keep the file." in body
    assert "right to complain to a supervisory authority" in body and "Data Protection Board of India" in body
    assert "Acme Collections" in body and request.reference in body
    assert "Grievance Officer" in body and "privacy@acme.example" in body and "+91 22 4000 1234" in body
    assert "Meera" not in body and "&" not in body  # no personal data; plain text, not HTML-escaped
    (note,) = _events(request, "notified")
    assert MEERA not in note.reason and "email on file" in note.reason
    (event,) = _notified(request)
    assert event.metadata["kind"] == notices.CLOSED and event.metadata["to"] == "on_file"
    assert MEERA not in str(event.metadata)


def test_fulfilled_and_withdrawn_are_told_without_the_complaint_paragraph(world, django_capture_on_commit_callbacks):
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="objection", verified_by="caller gave DOB")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(request=request, to=RequestStatus.WITHDRAWN, reason="You withdrew it by phone.")
    (message,) = mail.outbox
    assert "was withdrawn" in message.body and "You withdrew it by phone." in message.body
    assert "supervisory authority" not in message.body
    assert "Questions? Contact Acme Collections" in message.body  # no privacy contact set


def test_a_transition_that_does_not_close_sends_nothing(world, django_capture_on_commit_callbacks):
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="access", verified_by="caller gave DOB")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(request=request, to=RequestStatus.IN_PROGRESS, reason="Started")
    assert mail.outbox == [] and _notified(request) == []


def test_notify_false_sends_nothing(world, django_capture_on_commit_callbacks):
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="grievance", verified_by="caller gave DOB")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(request=request, to=RequestStatus.FULFILLED, reason="Answered", notify=False)
    assert mail.outbox == [] and _notified(request) == []


def test_an_extension_tells_the_reason_and_the_new_deadline_at_once(world, django_capture_on_commit_callbacks):
    ws = world.b  # US profile: 45 days, extendable once by 45
    with workspace_context(ws):
        debtor = debtor_create(workspace=ws, data=DebtorInput(full_name="Sam Carter", email="sam@example.com"))
    request = _request(ws, debtor=debtor, type="access", channel="phone", verified_by="caller gave DOB")
    with django_capture_on_commit_callbacks(execute=True) as sent, workspace_context(ws):
        request = privacy_request_extend(request=request, reason="Records are spread across three systems.")
    assert len(sent) == 1
    (message,) = mail.outbox
    assert message.to == ["sam@example.com"]
    assert request.extended_due_at is not None
    new_day = request.extended_due_at.astimezone(zoneinfo.ZoneInfo(ws.timezone))
    assert f"end of {new_day.day} {new_day:%B %Y}" in message.body and ws.timezone in message.body
    assert "Records are spread across three systems." in message.body
    assert "more time" in message.subject and request.reference in message.subject
    (event,) = _notified(request)
    assert event.metadata["kind"] == notices.EXTENDED


def test_an_unmatched_request_is_answered_at_the_email_the_requester_gave(world, django_capture_on_commit_callbacks):
    request = _request(world.a, contact="someone@example.net", type="access")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(
            request=request, to=RequestStatus.REFUSED, reason="We could not confirm who you are."
        )
    (message,) = mail.outbox
    assert message.to == ["someone@example.net"] and "We could not confirm who you are." in message.body
    (note,) = _events(request, "notified")
    assert "someone@example.net" not in note.reason and "the requester gave" in note.reason
    assert _notified(request)[0].metadata["to"] == "given"


def test_with_no_email_to_write_to_the_timeline_says_so(world, django_capture_on_commit_callbacks):
    request = _request(world.a, contact="+91 98765 00000", type="access")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(request=request, to=RequestStatus.WITHDRAWN, reason="Withdrawn by phone.")
    assert mail.outbox == []
    (note,) = _events(request, "notice_unsent")
    assert "another way" in note.reason and "98765" not in note.reason
    assert _notified(request)[0].metadata == {
        "kind": notices.CLOSED,
        "status": RequestStatus.WITHDRAWN,
        "to": "none",
        "sent": False,
    }


def test_a_copy_ready_notice_links_to_the_status_page(world, private_storage, django_capture_on_commit_callbacks):
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="access", channel="phone", verified_by="caller gave DOB")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        file = export_archive.export_build(request=request)
    (message,) = mail.outbox
    assert message.to == [MEERA] and "ready" in message.subject
    status = settings.SITE_URL.rstrip("/") + reverse(
        "privacy_request_status", kwargs={"workspace_slug": "acme", "reference": request.reference}
    )
    assert status in message.body
    assert "one-time code" in message.body and "7 days" in message.body
    assert file.expires_at is not None
    expires = file.expires_at.astimezone(zoneinfo.ZoneInfo(world.a.timezone))
    assert f"until {expires.day} {expires:%B %Y}" in message.body
    assert _notified(request)[0].metadata["kind"] == notices.COPY_READY
    # Building it again returns the same copy and tells no one twice.
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        export_archive.export_build(request=request)
    assert len(mail.outbox) == 1


def test_a_failing_mail_backend_does_not_break_the_transition(world, settings, django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.privacy_requests.test_notices.FailingBackend"
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="erasure")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        privacy_request_transition(request=request, to=RequestStatus.REFUSED, reason="Not verified in time.")
    with workspace_context(world.a):
        request.refresh_from_db()
    assert request.status == RequestStatus.REFUSED and request.outcome == "Not verified in time."
    (failed,) = _events(request, "notice_failed")
    assert "could not be sent" in failed.reason and MEERA not in failed.reason
    (event,) = _notified(request)
    assert event.metadata["sent"] is False and event.metadata["to"] == "on_file"


def test_a_rolled_back_transition_sends_nothing(world, django_capture_on_commit_callbacks):
    meera = make_meera(world.a)
    request = _request(world.a, debtor=meera, type="erasure")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with workspace_context(world.a):
                privacy_request_transition(request=request, to=RequestStatus.REFUSED, reason="No.")
                raise RuntimeError("something later failed")
        except RuntimeError:
            pass
    assert callbacks == [] and mail.outbox == [] and _notified(request) == []


def test_an_erasure_sends_its_statement_and_no_second_closing_notice(
    world, private_storage, django_capture_on_commit_callbacks
):
    # A legal hold keeps the person's email readable, so a closing notice would reach it.
    with workspace_context(world.a):
        person = build_person(world.a, legal_hold=True)
        assert person.request is not None
        plan = erasure.erasure_plan(workspace=world.a, debtor=person.debtor, request=person.request, actor=world.alice)
        plan = erasure.erasure_approve(plan=plan, actor=world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        plan = erasure.erasure_execute(plan=plan)
    with workspace_context(world.a):
        request = PrivacyRequest.objects.get(pk=person.request.pk)
        assert Debtor.objects.get(pk=person.debtor.pk).email == person.values["email"]
    assert request.status == RequestStatus.PARTLY_FULFILLED
    to_person = [m for m in mail.outbox if m.to == [person.values["email"]]]
    assert len(to_person) == 1 and to_person[0].body == plan.statement["text"]
    assert _notified(request) == [] and _events(request, "notified") == []
