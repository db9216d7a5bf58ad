"""Restriction, objection, withdrawal of consent and rectification: recorded in the
consent ledger, honoured by the contact rules at once, applied through the domain
services, and told to the recipients of the data."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Client
from consent.models import ConsentAction, ConsentRecord, ConsentSource, Purpose
from consent.rules import can_contact
from consent.services import consent_record, disclosure_record
from debtors.models import DebtEvent, Debtor
from debtors.selectors import exact_search_filter
from debtors.services.debtors import debtor_update
from kernel.tenancy import workspace_context
from privacy_requests import fulfilment
from privacy_requests.models import PrivacyRequest, RequestStatus
from privacy_requests.services import privacy_request_create
from tests.debtors.factories import make_debt
from tests.privacy_requests.erasure_world import _client_member


def _request(world, debt, type_, *, verified: bool = True) -> PrivacyRequest:
    return privacy_request_create(
        workspace=world.a,
        type=type_,
        channel="phone",
        debtor=debt.debtor,
        verified_by="agent checked date of birth" if verified else "",
    )


def _codes(debt, channel: str) -> set[str]:
    """The reasons the contact rules give now (other rules, such as the hour, may add theirs)."""
    return {r.code for r in can_contact(debt, channel, timezone.now()).reasons}


@pytest.fixture
def debt(world):
    with workspace_context(world.a):
        return make_debt(world.a, email="asha@example.org")


def test_restriction_stops_contact_at_once_and_is_in_the_consent_ledger(world, debt):
    with workspace_context(world.a):
        assert "restricted" not in _codes(debt, "email")
        request = fulfilment.restriction_apply(request=_request(world, debt, "restriction"), actor=world.alice)
        assert request.status == RequestStatus.FULFILLED and "restricted" in request.outcome.lower()
        debt.debtor.refresh_from_db()
        debt.refresh_from_db()
        assert debt.debtor.processing_restricted and debt.debtor.processing_restricted_at
        for channel in ("email", "sms", "call", "letter"):
            assert "restricted" in _codes(debt, channel)
        record = ConsentRecord.objects.for_workspace(world.a).get(subject_id=str(debt.debtor_id))
        assert (record.purpose, record.action, record.source) == (
            Purpose.PROCESSING,
            ConsentAction.WITHDRAW,
            ConsentSource.RIGHTS_REQUEST,
        )


def test_a_restricted_debtor_is_changed_only_to_fulfil_a_request(world, debt):
    with workspace_context(world.a):
        fulfilment.restriction_apply(request=_request(world, debt, "restriction"), actor=world.alice)
        debtor = Debtor.objects.for_workspace(world.a).get(pk=debt.debtor_id)
        with pytest.raises(ValidationError) as refused:
            debtor_update(debtor=debtor, actor=world.alice, address="Somewhere else")
        assert "restricted" in str(refused.value)
        rectification = _request(world, debt, "rectification")
        debtor_update(debtor=debtor, actor=world.alice, for_request=rectification.pk, address="Corrected address")
        assert Debtor.objects.for_workspace(world.a).get(pk=debt.debtor_id).address == "Corrected address"


def test_objection_to_all_contact_is_a_cease_communication(world, debt):
    with workspace_context(world.a):
        request = fulfilment.objection_apply(request=_request(world, debt, "objection"), actor=world.alice)
        assert request.status == RequestStatus.FULFILLED
        for channel in ("email", "sms", "call"):
            assert "cease_communication" in _codes(debt, channel)


def test_objection_to_some_channels_opts_out_of_those(world, debt):
    with workspace_context(world.a):
        fulfilment.objection_apply(request=_request(world, debt, "objection"), actor=world.alice, channels=["sms"])
        assert "opted_out" in _codes(debt, "sms")
        assert "opted_out" not in _codes(debt, "email") and "cease_communication" not in _codes(debt, "email")
        with pytest.raises(ValidationError):
            fulfilment.objection_apply(
                request=_request(world, debt, "objection"), actor=world.alice, channels=["pigeon"]
            )


def test_withdrawal_of_consent(world, debt):
    with workspace_context(world.a):
        consent_record(
            workspace=world.a,
            subject_type="debtor",
            subject_id=str(debt.debtor_id),
            purpose=Purpose.CONTACT_WHATSAPP,
            action=ConsentAction.GRANT,
            source=ConsentSource.DEBTOR_PAGE,
        )
        request = fulfilment.withdrawal_apply(
            request=_request(world, debt, "withdrawal"), actor=world.alice, purposes=[Purpose.CONTACT_SMS]
        )
        assert request.status == RequestStatus.FULFILLED
        assert "opted_out" in _codes(debt, "sms") and "opted_out" not in _codes(debt, "whatsapp")
        # Without purposes: every purpose granted now.
        fulfilment.withdrawal_apply(request=_request(world, debt, "withdrawal"), actor=world.alice)
        assert "opted_out" in _codes(debt, "whatsapp")
        with pytest.raises(ValidationError):
            fulfilment.withdrawal_apply(
                request=_request(world, debt, "withdrawal"), actor=world.alice, purposes=[Purpose.PROCESSING]
            )


def test_fulfilment_needs_a_verified_request_of_its_type(world, debt):
    with workspace_context(world.a):
        with pytest.raises(ValidationError):
            fulfilment.restriction_apply(request=_request(world, debt, "objection"), actor=world.alice)
        with pytest.raises(ValidationError):
            fulfilment.restriction_apply(
                request=_request(world, debt, "restriction", verified=False), actor=world.alice
            )
        assert not Debtor.objects.for_workspace(world.a).get(pk=debt.debtor_id).processing_restricted


def test_rectification_goes_through_the_debtor_service_and_recipients_are_told(world, debt):
    with workspace_context(world.a):
        client = Client.objects.for_workspace(world.a).get(pk=debt.client_id)
        _client_member(world.a, client, "portal@sahyadri.example")
        disclosure_record(
            workspace=world.a,
            debtor=debt.debtor,
            recipient_type="legal_firm",
            recipient_name="Shah & Partners",
            categories=["contact"],
            purpose="Legal notice",
        )
        request = _request(world, debt, "rectification")
        request = fulfilment.rectification_apply(
            request=request,
            changes={"email": "Asha.New@Example.org", "date_of_birth": date(1990, 1, 2)},
            actor=world.alice,
        )
        assert request.status == RequestStatus.FULFILLED and "Told 2 recipients" in request.outcome
        debtor = Debtor.objects.for_workspace(world.a).get(pk=debt.debtor_id)
        assert (debtor.email, debtor.date_of_birth) == ("asha.new@example.org", "1990-01-02")
        # The blind index followed: exact search finds the new address, not the old one.
        qs = Debtor.objects.for_workspace(world.a)
        assert qs.filter(exact_search_filter(world.a, "asha.new@example.org"), pk=debtor.pk).exists()
        assert not qs.filter(exact_search_filter(world.a, "asha@example.org"), pk=debtor.pk).exists()
        notes = list(DebtEvent.objects.for_workspace(world.a).filter(kind="privacy.rectification"))
        assert len(notes) == 2  # one per recipient on the one debt
        assert any("Shah & Partners" in n.summary for n in notes)
        assert any(client.name in n.summary for n in notes)
    told = [m for m in mail.outbox if m.to == ["portal@sahyadri.example"]]
    assert len(told) == 0  # sent once the transaction commits (below)


def test_rectification_emails_the_clients_members_on_commit(world, debt, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        client = Client.objects.for_workspace(world.a).get(pk=debt.client_id)
        _client_member(world.a, client, "portal@sahyadri.example")
        request = _request(world, debt, "rectification")
    with django_capture_on_commit_callbacks(execute=True), workspace_context(world.a):
        fulfilment.rectification_apply(request=request, changes={"address": "7 New Road"}, actor=world.alice)
    told = [m for m in mail.outbox if m.to == ["portal@sahyadri.example"]]
    assert len(told) == 1 and "address" in told[0].body and "7 New Road" not in told[0].body


def test_rectification_refuses_fields_it_cannot_correct(world, debt):
    with workspace_context(world.a):
        request = _request(world, debt, "rectification")
        with pytest.raises(ValidationError):
            fulfilment.rectification_apply(request=request, changes={"is_minor": True}, actor=world.alice)
        with pytest.raises(ValidationError):
            fulfilment.rectification_apply(request=request, changes={}, actor=world.alice)
        assert PrivacyRequest.objects.get(pk=request.pk).status == RequestStatus.VERIFIED
