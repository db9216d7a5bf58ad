"""The rights-request app's own records under retention: closed requests after
REQUEST_RECORDS, access copies after their 7 days, records of notices."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from debtors.models import HoldScope
from kernel.tenancy import workspace_context
from privacy_requests import erasure, exports
from privacy_requests.desk_services import privacy_contact_save
from privacy_requests.models import (
    ErasurePlan,
    PrivacyContact,
    PrivacyRequest,
    PrivacyRequestEvent,
    RequestFile,
    RequestStatus,
    RetentionNotice,
)
from privacy_requests.services import privacy_request_create, privacy_request_transition
from retention.holds import legal_hold_place
from tests.debtors.factories import make_debt
from tests.privacy_requests.retention_world import YEAR, paid_person, purge


def _closed_request(workspace, debt, *, type: str = "access", years_ago: float = 0) -> PrivacyRequest:
    request = privacy_request_create(
        workspace=workspace,
        type=type,
        channel="api",
        debtor=debt.debtor,
        client=debt.client,
        details="Please send me what you hold.",
        verified_by="relayed by the client",
    )
    request = privacy_request_transition(request=request, to=RequestStatus.REFUSED, reason="answered by letter")
    closed_at = timezone.now() - timedelta(days=int(years_ago * 365))
    PrivacyRequest.objects.for_workspace(workspace).filter(pk=request.pk).update(closed_at=closed_at)
    return request


def _exists(workspace, model, **lookup) -> bool:
    with workspace_context(workspace):
        return model.objects.for_workspace(workspace).filter(**lookup).exists()


def test_requests_closed_longer_ago_than_their_period_go_with_everything_of_theirs(world, private_storage: Path):
    a = world.a
    with workspace_context(a):
        person = make_debt(a)
        access = privacy_request_create(
            workspace=a, type="access", channel="api", debtor=person.debtor, client=person.client,
            verified_by="relayed by the client",
        )  # fmt: skip
        copy = exports.export_build(request=access)
        access = privacy_request_transition(request=access, to=RequestStatus.FULFILLED, reason="copy sent")
        PrivacyRequest.objects.for_workspace(a).filter(pk=access.pk).update(closed_at=timezone.now() - 4 * YEAR)
        # An erasure request refused long ago, with the plan that was drafted for it.
        erase_request = privacy_request_create(
            workspace=a, type="erasure", channel="api", debtor=person.debtor, client=person.client,
            verified_by="relayed by the client",
        )  # fmt: skip
        plan = erasure.erasure_plan(workspace=a, debtor=person.debtor, request=erase_request, actor=world.alice)
        privacy_request_transition(request=erase_request, to=RequestStatus.REFUSED, reason="debt still owed")
        PrivacyRequest.objects.for_workspace(a).filter(pk=erase_request.pk).update(closed_at=timezone.now() - 4 * YEAR)
        recent = _closed_request(a, person, years_ago=1)
        still_open = privacy_request_create(
            workspace=a, type="access", channel="api", debtor=person.debtor, client=person.client
        )
    stored = private_storage / copy.storage_name
    assert stored.exists()

    run = purge(a, category="privacy_requests.request_records")

    assert run.counts == {"REQUEST_RECORDS": {"delete": 2}}
    assert not _exists(a, PrivacyRequest, pk__in=[access.pk, erase_request.pk])
    assert not _exists(a, PrivacyRequestEvent, request_id__in=[access.pk, erase_request.pk])
    assert not _exists(a, RequestFile, pk=copy.pk) and not stored.exists()
    assert not _exists(a, ErasurePlan, pk=plan.pk)
    assert _exists(a, PrivacyRequest, pk=recent.pk) and _exists(a, PrivacyRequest, pk=still_open.pk)
    assert purge(a, category="privacy_requests.request_records").counts == {}


def test_a_hold_keeps_the_requests_about_the_person_it_covers(world, private_storage):
    a = world.a
    with workspace_context(a):
        held, free = make_debt(a), make_debt(a)
        held_request = _closed_request(a, held, years_ago=4)
        free_request = _closed_request(a, free, years_ago=4)
        legal_hold_place(
            workspace=a, scope=HoldScope.DEBTOR, debtor=held.debtor, reason="regulator_inquiry",
            review_on=timezone.localdate() + timedelta(days=60), actor=world.alice,
        )  # fmt: skip
    purge(a, category="privacy_requests.request_records")
    assert _exists(a, PrivacyRequest, pk=held_request.pk)
    assert not _exists(a, PrivacyRequest, pk=free_request.pk)


def test_access_copies_go_when_they_expire(world, private_storage: Path):
    a = world.a
    with workspace_context(a):
        person = make_debt(a)
        request = privacy_request_create(
            workspace=a, type="access", channel="api", debtor=person.debtor, client=person.client,
            verified_by="relayed by the client",
        )  # fmt: skip
        copy = exports.export_build(request=request)
    stored = private_storage / copy.storage_name
    start = timezone.now()

    early = purge(a, now=start + timedelta(days=6, hours=23), category="privacy_requests.access_copies")
    assert early.counts == {} and stored.exists()

    run = purge(a, now=start + timedelta(days=7, minutes=1), category="privacy_requests.access_copies")

    assert run.counts == {"ACCESS_COPIES": {"delete": 1}} and not stored.exists()
    with workspace_context(a):
        file = RequestFile.objects.for_workspace(a).get(pk=copy.pk)
        assert file.deleted_at is not None and exports.latest_export(request=request) is None
        assert AuditEvent.objects.filter(action=actions.PRIVACY_REQUEST_EXPORT_DELETED, object_id=str(copy.pk)).exists()
    again = purge(a, now=start + timedelta(days=8), category="privacy_requests.access_copies")
    assert again.counts == {}


def test_records_of_notices_go_after_their_period(world, private_storage):
    a = world.a
    with workspace_context(a):
        debt = paid_person(a)
    now = timezone.now()
    purge(a, now=now, category="privacy_requests.erasure_notice")
    assert _exists(a, RetentionNotice, debtor_id=debt.debtor_id)
    purge(a, now=now + 2 * YEAR, category="privacy_requests.retention_notices")
    assert _exists(a, RetentionNotice, debtor_id=debt.debtor_id)
    purge(a, now=now + 3 * YEAR + timedelta(days=1), category="privacy_requests.retention_notices")
    assert not _exists(a, RetentionNotice, debtor_id=debt.debtor_id)


def test_the_privacy_contact_goes_with_a_closed_workspace_once_its_time_is_up(world):
    a = world.a
    with workspace_context(a):
        privacy_contact_save(
            workspace=a, contact_user=None, contact_name="Grievance Officer", contact_email="go@acme.example",
            contact_phone="", grievance_period_days=None,
        )  # fmt: skip
    purge(a, category="privacy_requests.privacy_contact")
    assert _exists(a, PrivacyContact)
    type(a).objects.filter(pk=a.pk).update(
        closed_at=timezone.now() - timedelta(days=31), purge_after=timezone.now() - timedelta(days=1)
    )
    a.refresh_from_db()
    run = purge(a, category="privacy_requests.privacy_contact")
    assert run.counts == {"ACCOUNT_LIFETIME": {"delete": 1}} and not _exists(a, PrivacyContact)


def test_the_record_of_an_erasure_no_one_asked_for_goes_after_its_period(world, private_storage):
    b = world.b
    with workspace_context(b):
        debt = paid_person(b)
    now = timezone.now()
    purge(b, now=now)
    assert _exists(b, ErasurePlan, debtor_id=debt.debtor_id, request__isnull=True)
    purge(b, now=now + 2 * YEAR, category="privacy_requests.erasure_plans")
    assert _exists(b, ErasurePlan, debtor_id=debt.debtor_id)
    run = purge(b, now=now + 3 * YEAR + timedelta(days=1), category="privacy_requests.erasure_plans")
    assert run.counts == {"REQUEST_RECORDS": {"delete": 1}}
    assert not _exists(b, ErasurePlan, debtor_id=debt.debtor_id)
