"""Nothing more is recorded about a person whose data was erased (their data key is
shredded): every debtors service that writes under the person's key refuses with a
clear message, pages show it as a form error, the API answers 409 ``erased``, and the
debt page says when the person was erased and no longer offers what would write
about them. Writes used to fail with ``SubjectKeyShredded`` (a 500), or — with a
retention key kept by the erasure — land silently under that key."""

from __future__ import annotations

from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from communications.models import Communication
from debtors.models import Debt, Debtor, Dispute, Document, Note
from debtors.services import disputes, records
from debtors.services.debtors import (
    ERASED_MESSAGE,
    PersonErased,
    debtor_erased_at,
    debtor_is_erased,
    debtor_update,
)
from kernel.crypto import keyring
from kernel.errors import ActionRefused
from kernel.models import SubjectKey
from kernel.tenancy import workspace_context
from privacy_requests import erasure
from tests.conftest import api, login
from tests.debtors.factories import make_debt
from tests.privacy_requests.erasure_world import PNG, build_person

# The page shows the message with the apostrophe escaped.
SHOWN = "This person&#x27;s data was erased; nothing more can be recorded about them."


def _counts(world: Any, debt: Debt) -> tuple[int, int, int, int]:
    with workspace_context(world.a):
        return (
            Note.objects.for_workspace(world.a).filter(debt=debt).count(),
            Dispute.objects.for_workspace(world.a).filter(debt=debt).count(),
            Document.objects.for_workspace(world.a).filter(debt=debt).count(),
            Communication.objects.for_workspace(world.a).filter(debt=debt).count(),
        )


@pytest.fixture
def erased(world, private_storage) -> Debt:
    """A debt whose debtor's data key was shredded (what erasure does last)."""
    with workspace_context(world.a):
        debt = make_debt(world.a)
    assert keyring.subject_key_shred(world.a.pk, "debtor", str(debt.debtor_id))
    return debt


# --- The services ------------------------------------------------------------------------------


def test_a_live_person_is_not_erased(world, private_storage):
    with workspace_context(world.a):
        debt = make_debt(world.a)
        assert debtor_erased_at(workspace_id=world.a.pk, debtor_id=debt.debtor_id) is None
        assert not debtor_is_erased(debt.debtor)
        records.note_add(debt=debt, body="still here")  # and writes work


def test_every_service_writing_under_the_persons_key_refuses(world, erased):
    before = _counts(world, erased)
    with workspace_context(world.a):
        debtor = Debtor.objects.for_workspace(world.a).get(pk=erased.debtor_id)
        assert debtor_is_erased(debtor)
        shredded_at = SubjectKey.objects.for_workspace(world.a).get(subject_id=str(debtor.pk)).shredded_at
        assert debtor_erased_at(workspace_id=world.a.pk, debtor_id=debtor.pk) == shredded_at
        calls = (
            lambda: records.note_add(debt=erased, body="called again"),
            lambda: records.document_upload(debt=erased, upload=BytesIO(PNG), file_name="id.png"),
            lambda: disputes.dispute_open(debt=erased, reason="not_mine", details="not me"),
            lambda: debtor_update(debtor=debtor, email="new@example.com"),
            lambda: debtor_update(debtor=debtor, preferred_language="en"),
        )
        for call in calls:
            with pytest.raises(ActionRefused) as refused:
                call()
            assert isinstance(refused.value, PersonErased)
            assert refused.value.user_message == ERASED_MESSAGE
    assert _counts(world, erased) == before


# --- The debt page -----------------------------------------------------------------------------


def test_the_debt_page_says_when_and_offers_nothing_that_writes_about_the_person(world, erased):
    with workspace_context(world.a):
        shredded_at = SubjectKey.objects.for_workspace(world.a).get(subject_id=str(erased.debtor_id)).shredded_at
    page = login(world.alice).get(f"/w/acme/debts/{erased.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    # The date where the workspace is (or UTC, had no zone been activated).
    days = {f"{shredded_at:%Y-%m-%d}", f"{shredded_at.astimezone(ZoneInfo(world.a.timezone)):%Y-%m-%d}"}
    assert any(f"This person's data was erased on {day}" in html for day in days)
    for hidden in (
        "Add a note",
        "Log a call / contact",
        "Open a dispute",
        f"/debts/{erased.pk}/actions/note/",
        f"/debts/{erased.pk}/actions/call/",
        f"/debts/{erased.pk}/actions/dispute/",
        f"/debts/{erased.pk}/documents/",
        "Reveal details",
    ):
        assert hidden not in html, hidden
    # The books stay workable: payments, arrangements and status.
    assert "Record a payment" in html and "Payment plan" in html and "Change status" in html


def test_a_live_persons_page_has_no_notice_and_every_action(world, private_storage):
    with workspace_context(world.a):
        debt = make_debt(world.a)
    html = login(world.alice).get(f"/w/acme/debts/{debt.pk}/").content.decode()
    assert "data was erased" not in html
    assert "Add a note" in html and "Open a dispute" in html and "Reveal details" in html
    assert f"/debts/{debt.pk}/documents/" in html


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("note", {"body": "called again"}),
        ("dispute", {"reason": "not_mine", "details": "not me"}),
        ("call", {"channel": "call", "direction": "outbound", "outcome": "no_answer", "notes": "rang"}),
        ("note", {}),  # refused even before the form's own errors
    ],
)
def test_page_actions_that_write_about_the_person_are_refused(world, erased, action, data):
    before = _counts(world, erased)
    c = login(world.alice)
    url = f"/w/acme/debts/{erased.pk}/actions/{action}/"
    htmx = c.post(url, data, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200
    assert SHOWN in htmx.content.decode()
    plain = c.post(url, data)
    assert plain.status_code == 400  # the page again, with the refusal (as for any refused action)
    assert SHOWN in plain.content.decode()
    assert _counts(world, erased) == before


def test_the_books_stay_workable_after_an_erasure(world, erased):
    c = login(world.alice)
    r = c.post(
        f"/w/acme/debts/{erased.pk}/actions/payment/",
        {"amount": "10.00", "paid_on": "2026-01-05", "method": "cash", "reference": "R1"},
    )
    assert r.status_code == 302, r.content.decode()[:2000]


def test_uploading_a_document_is_refused(world, erased):
    before = _counts(world, erased)
    c = login(world.alice)
    r = c.post(
        f"/w/acme/debts/{erased.pk}/documents/",
        {"file": SimpleUploadedFile("id.png", PNG, content_type="image/png")},
        follow=True,
    )
    assert r.status_code == 200
    assert SHOWN in r.content.decode()
    assert _counts(world, erased) == before


# --- The API -----------------------------------------------------------------------------------


def _assert_erased(response: Any) -> None:
    assert response.status_code == 409, response.content
    assert response.json() == {"error": {"code": "erased", "message": ERASED_MESSAGE}}


def test_the_api_answers_409_erased(world, erased):
    before = _counts(world, erased)
    c = api(world.key_a)
    _assert_erased(
        c.patch(f"/api/v1/debtors/{erased.debtor_id}/", {"email": "new@example.com"}, content_type="application/json")
    )
    _assert_erased(c.post(f"/api/v1/debts/{erased.pk}/notes/", {"body": "x"}, content_type="application/json"))
    _assert_erased(
        c.post(
            f"/api/v1/debts/{erased.pk}/disputes/",
            {"reason": "not_mine", "details": "not me"},
            content_type="application/json",
        )
    )
    _assert_erased(
        c.post(
            f"/api/v1/debts/{erased.pk}/documents/",
            {"file": SimpleUploadedFile("id.png", PNG, content_type="image/png")},
        )
    )
    assert _counts(world, erased) == before
    # Reading still works.
    assert c.get(f"/api/v1/debtors/{erased.debtor_id}/").status_code == 200
    assert c.get(f"/api/v1/debts/{erased.pk}/notes/").status_code == 200


# --- After a real erasure (a retention key kept what the law keeps) ----------------------------


def test_after_an_erasure_writes_are_refused_not_sealed_under_the_retention_key(
    world, private_storage, django_capture_on_commit_callbacks
):
    with workspace_context(world.a):
        person = build_person(world.a)
        plan = erasure.erasure_plan(workspace=world.a, debtor=person.debtor, request=person.request, actor=world.alice)
        plan = erasure.erasure_approve(plan=plan, actor=world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        erasure.erasure_execute(plan=plan)
    debt = person.debts[0]
    before = _counts(world, debt)
    c = login(world.alice)
    assert "data was erased on" in c.get(f"/w/acme/debts/{debt.pk}/").content.decode()
    r = c.post(f"/w/acme/debts/{debt.pk}/actions/note/", {"body": "one more thing"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and SHOWN in r.content.decode()
    _assert_erased(
        api(world.key_a).post(f"/api/v1/debts/{debt.pk}/notes/", {"body": "x"}, content_type="application/json")
    )
    _assert_erased(
        api(world.key_a).patch(
            f"/api/v1/debtors/{person.debtor.pk}/", {"preferred_language": "en"}, content_type="application/json"
        )
    )
    assert _counts(world, debt) == before
