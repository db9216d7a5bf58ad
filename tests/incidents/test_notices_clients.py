"""Telling each client whose data is involved (incidents/client_notices.py): one email
to its logins (and any address added), with its accounts as references only, once;
its duty recorded done; after the contract's hours the reasons are required."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from accounts.services import membership_add
from incidents.client_notices import client_notice_send
from incidents.models import Duty
from kernel.tenancy import workspace_context
from tests.conftest import PASSWORD, add_member, login
from tests.incidents.notices_world import breach, contact, freeze_client, person

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def sahyadri(world):
    with workspace_context(world.a):
        return Client.objects.for_workspace(world.a).get(reference="SAHYADRI")


def client_login(world, client, email):
    user = User.objects.create_user(email=email, password=PASSWORD)
    with workspace_context(world.a):
        membership_add(workspace=world.a, user=user, role=Role.MANAGER, client=client)
    return user


def client_duty(incident):
    with workspace_context(incident.workspace):
        return (
            Duty.objects.for_workspace(incident.workspace_id)
            .select_related("client")
            .get(incident=incident, code="CLIENT")
        )


def involved(world, client, *, aware_at=None):
    person(world.a, client, "C-1", email="c1@example.com")
    person(world.a, client, "C-2", phone="+919800000002")
    incident = breach(world.a, aware_at=aware_at or timezone.now() - H)
    freeze_client(incident, client)
    contact(world.a)
    return incident


def test_the_clients_logins_get_one_email_with_its_accounts_and_the_duty_is_done(world, sahyadri):
    client_login(world, sahyadri, "risk@sahyadri.example")
    incident = involved(world, sahyadri)
    alice = login(world.alice)
    duty = client_duty(incident)
    page = alice.get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    row = page.split('data-client="SAHYADRI"')[1].split("</tr>")[0]
    assert "risk@sahyadri.example" in row and "<td>2</td>" in row

    response = alice.post(
        f"/w/acme/incidents/{incident.reference}/notices/clients/{duty.pk}/",
        {"extra_recipients": "security@sahyadri.example"},
    )
    assert response.status_code == 302

    [message] = mail.outbox
    assert sorted(message.to) == ["risk@sahyadri.example", "security@sahyadri.example"]
    assert incident.reference in message.subject
    assert "A CSV of accounts was emailed to an outside address by mistake." in message.body
    assert "Your accounts whose people are affected: 2" in message.body
    assert "Grievance Officer" in message.body
    assert "Person C-1" not in message.body and "c1@example.com" not in message.body
    [(name, content, kind)] = message.attachments
    rows = list(csv.reader(io.StringIO(content.decode() if isinstance(content, bytes) else content)))
    assert name == f"{incident.reference}-affected-accounts.csv" and kind == "text/csv"
    assert rows[0] == ["account_reference", "data_categories", "found_via"]
    assert sorted(r[0] for r in rows[1:]) == ["C-1", "C-2"]
    assert client_duty(incident).done_at is not None

    # Once per client per incident.
    again = alice.post(f"/w/acme/incidents/{incident.reference}/notices/clients/{duty.pk}/", follow=True)
    assert "was already told" in again.content.decode() and len(mail.outbox) == 1


def test_a_client_with_no_login_needs_an_address(world, sahyadri):
    incident = involved(world, sahyadri)
    duty = client_duty(incident)
    with workspace_context(world.a), pytest.raises(ValidationError, match="No one at Sahyadri Bank has a login"):
        client_notice_send(duty=duty, actor=world.alice)
    with workspace_context(world.a), pytest.raises(ValidationError, match="is not an email address"):
        client_notice_send(duty=duty, actor=world.alice, extra_recipients=["not-an-address"])
    assert mail.outbox == [] and client_duty(incident).done_at is None


def test_after_the_contracts_hours_the_reasons_are_required(world, sahyadri):
    incident = involved(world, sahyadri, aware_at=timezone.now() - 30 * H)  # the default contract: 24 hours
    duty = client_duty(incident)
    extra = ["security@sahyadri.example"]
    with workspace_context(world.a), pytest.raises(ValidationError) as refused:
        client_notice_send(duty=duty, actor=world.alice, extra_recipients=extra)
    assert "late_reason" in refused.value.message_dict and mail.outbox == []
    with workspace_context(world.a):
        client_notice_send(duty=duty, actor=world.alice, extra_recipients=extra, late_reason="Contract unclear.")
    done = client_duty(incident)
    assert done.done_at is not None and done.late_reason == "Contract unclear." and len(mail.outbox) == 1


def test_a_mail_provider_failure_records_nothing(world, sahyadri, settings):
    settings.EMAIL_BACKEND = "tests.incidents.test_notices_clients.RefusingBackend"
    incident = involved(world, sahyadri)
    duty = client_duty(incident)
    with workspace_context(world.a), pytest.raises(ConnectionRefusedError):
        client_notice_send(duty=duty, actor=world.alice, extra_recipients=["security@sahyadri.example"])
    assert client_duty(incident).done_at is None  # the officer can try again


class RefusingBackend:
    """An email backend whose server refuses every connection."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


def test_only_managers_of_the_register_send_and_not_across_workspaces(world, sahyadri):
    incident = involved(world, sahyadri)
    duty = client_duty(incident)
    target = f"/w/acme/incidents/{incident.reference}/notices/clients/{duty.pk}/"
    data = {"extra_recipients": "security@sahyadri.example"}
    auditor = login(add_member(world.a, "auditor@example.com", Role.AUDITOR))
    assert auditor.post(target, data).status_code == 403
    assert login(world.bob).post(target, data).status_code == 404
    assert mail.outbox == [] and client_duty(incident).done_at is None
