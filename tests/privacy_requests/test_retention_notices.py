"""Notice before erasure for inactivity (privacy_requests.erasure_notice): where the
profile requires it (India: 2 days), the person is told through the communications
pipeline first, and erased only once the notice period is over."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from communications.log import LEGAL_NOTICE
from communications.models import Communication
from communications.sms import LoggingSmsProvider
from consent.models import ConsentAction, ConsentSource, Purpose
from consent.services import consent_record
from debtors.models import Debt, DebtEvent
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.ledger import payment_record
from kernel.tenancy import workspace_context
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.models import NoticeOutcome, RetentionNotice
from tests.privacy_requests.retention_world import (
    YEAR,
    age_person,
    erased,
    paid_person,
    people_counts,
    person_without_contact,
    purge,
    workspace_client,
    written_off_person,
)


def _notices(workspace, debtor_id) -> list[RetentionNotice]:
    with workspace_context(workspace):
        return list(RetentionNotice.objects.for_workspace(workspace).filter(debtor_id=debtor_id).order_by("created_at"))


def test_india_tells_first_and_erases_only_after_the_notice_period(
    world, private_storage, django_capture_on_commit_callbacks
):
    a = world.a  # India: 2 days' notice (DPDP Rules r.8)
    with workspace_context(a):
        debt = paid_person(a, email="meera.kulkarni@example.in")
        # Opted out of collection email and asked for no more contact: the notice still goes.
        for purpose in (Purpose.CONTACT_EMAIL, Purpose.ALL_CONTACT):
            consent_record(
                workspace=a,
                subject_type="debtor",
                subject_id=str(debt.debtor_id),
                purpose=purpose,
                action=ConsentAction.WITHDRAW,
                source=ConsentSource.DEBTOR_PAGE,
            )
    now = timezone.now()

    with django_capture_on_commit_callbacks(execute=True):
        first = purge(a, now=now)

    assert people_counts(first) == {"notice": 1} and not erased(a, debt.debtor_id)
    [notice] = _notices(a, debt.debtor_id)
    assert notice.outcome == NoticeOutcome.QUEUED and notice.channel == "email"
    assert notice.erase_after >= notice.notified_at + timedelta(days=2)
    with workspace_context(a):
        message = Communication.objects.for_workspace(a).get(pk=notice.communication_id)
        assert message.outcome == LEGAL_NOTICE and message.status == "sent"
        # Not collection contact: the debt's last contact did not move (it would restart the clock).
        assert Debt.objects.for_workspace(a).get(pk=debt.pk).last_contact_at is None
    [email] = mail.outbox
    assert email.to == ["meera.kulkarni@example.in"]
    assert "will be erased on or after" in email.subject
    assert debt.reference in email.body and "Companies Act 2013" in email.body  # what is kept, and why
    assert f"/privacy/{a.slug}/requests/new/" in email.body and "DPDP Rules 2025 r.8" in email.body
    with workspace_context(a):
        assert AuditEvent.objects.filter(action=actions.RETENTION_NOTICE_SENT, object_id=str(notice.pk)).exists()

    with django_capture_on_commit_callbacks(execute=True):
        second = purge(a, now=now + timedelta(days=1))
    assert people_counts(second) == {} and not erased(a, debt.debtor_id)
    assert len(mail.outbox) == 1 and len(_notices(a, debt.debtor_id)) == 1

    third = purge(a, now=now + timedelta(days=3))
    assert people_counts(third) == {"erase_person": 1} and erased(a, debt.debtor_id)
    with workspace_context(a):
        assert Communication.objects.for_workspace(a).get(pk=notice.communication_id).content is None


def test_a_payment_after_the_notice_restarts_the_clock(world, private_storage, django_capture_on_commit_callbacks):
    a = world.a
    with workspace_context(a):
        debt = written_off_person(a)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        purge(a, now=now)
    assert len(_notices(a, debt.debtor_id)) == 1

    with workspace_context(a):
        payment_record(debt=debt, amount_minor=5_000, method="upi", reference="UTR-LATE")

    later = purge(a, now=now + timedelta(days=3))
    assert people_counts(later) == {} and not erased(a, debt.debtor_id)
    # Three years after the payment: a new notice first, the erasure two days after it.
    with django_capture_on_commit_callbacks(execute=True):
        renewed = purge(a, now=now + 3 * YEAR + timedelta(days=1))
    assert people_counts(renewed) == {"notice": 1} and not erased(a, debt.debtor_id)
    assert _notices(a, debt.debtor_id)[-1].notified_at == now + 3 * YEAR + timedelta(days=1)
    purge(a, now=now + 3 * YEAR + timedelta(days=4))
    assert erased(a, debt.debtor_id)


def test_no_contact_on_file_is_recorded_and_the_erasure_still_waits(world, private_storage):
    a = world.a
    with workspace_context(a):
        debt = person_without_contact(a)
    now = timezone.now()
    run = purge(a, now=now)
    assert people_counts(run) == {"notice": 1}
    [notice] = _notices(a, debt.debtor_id)
    assert notice.outcome == NoticeOutcome.NO_CONTACT and notice.communication_id is None
    with workspace_context(a):
        line = DebtEvent.objects.for_workspace(a).get(debt_id=debt.pk, kind="privacy.retention_notice")
    assert "no email or phone on file" in line.summary
    purge(a, now=now + timedelta(days=1))
    assert not erased(a, debt.debtor_id)
    purge(a, now=now + timedelta(days=2, hours=1))
    assert erased(a, debt.debtor_id)


def test_a_person_with_only_a_phone_is_told_by_sms_in_their_language(
    world, private_storage, django_capture_on_commit_callbacks
):
    a = world.a
    with workspace_context(a):
        privacy_contact_save(
            workspace=a,
            contact_user=None,
            contact_name="Grievance Officer",
            contact_email="grievance@acme.example",
            contact_phone="",
            grievance_period_days=None,
        )
        debtor = debtor_create(
            workspace=a, data=DebtorInput(full_name="Savitri Devi", phone="+919800011122", preferred_language="hi")
        )
        debt = debt_create(
            workspace=a,
            client=workspace_client(a),
            debtor=debtor,
            data=DebtInput(reference="HI-SMS-1", original_amount_minor=30_000, currency=a.currency),
        )
        payment_record(debt=debt_change_status(debt=debt, status="active"), amount_minor=30_000, method="cash")
        age_person(a, debtor.pk, age=4 * YEAR)
    LoggingSmsProvider.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        purge(a)

    [notice] = _notices(a, debtor.pk)
    assert notice.channel == "sms" and notice.outcome == NoticeOutcome.QUEUED
    [sms] = LoggingSmsProvider.outbox
    assert sms["to"] == "+919800011122"
    assert "मिटा देंगे" in sms["body"] and "HI-SMS-1" in sms["body"] and "grievance@acme.example" in sms["body"]
    assert mail.outbox == []


def test_no_notice_where_the_profile_requires_none(world, private_storage):
    b = world.b  # US
    with workspace_context(b):
        debt = paid_person(b)
    run = purge(b)
    assert people_counts(run) == {"erase_person": 1}
    assert _notices(b, debt.debtor_id) == []


def test_a_dry_run_sends_no_notice(world, private_storage, django_capture_on_commit_callbacks):
    a = world.a
    with workspace_context(a):
        debt = paid_person(a)
    with django_capture_on_commit_callbacks(execute=True):
        run = purge(a, dry_run=True)
    assert people_counts(run) == {"notice": 1}
    assert run.progress["privacy_requests.erasure_notice"]["listing"][0].startswith(f"debtor {debt.debtor_id}:")
    assert _notices(a, debt.debtor_id) == [] and mail.outbox == []
    with workspace_context(a):
        assert not Communication.objects.for_workspace(a).filter(outcome=LEGAL_NOTICE).exists()
