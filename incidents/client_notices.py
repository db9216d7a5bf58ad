"""Telling each client whose data the incident involves: the controller, whom the
agency (its processor) tells without undue delay (GDPR Art. 33(2)) and within the
contract's hours (``Client.breach_notice_hours``, the client's duty's clock).

- ``client_notice_recipients``: the client's own logins here (active users of
  memberships scoped to that client).
- ``client_notice_send`` emails them, and any address the officer adds (the contract's
  security contact), once per client per incident: the client's duty is locked, must be
  still open and not decided "not required", and is recorded done (``duty_done``: after
  the deadline the reasons for the delay are required) in the same transaction, which
  also audits it. The email goes last, inside that transaction: if the mail provider
  refuses it, nothing is recorded and the officer sees the error and can try again.

The email carries what the client needs to meet its own duties: what happened and when,
the data involved, how many of its people and which of its accounts (references only,
as a CSV attachment), the likely consequences, the measures, whether the people are
being told, and whom to contact. No person's name or contact details.
CollectPro has no outbound webhook to clients, so email is the only channel.
"""

from __future__ import annotations

import csv
import io
import zoneinfo
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Client, Membership, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import Debt
from incidents.contact import contact_point
from incidents.models import AffectedPerson, Decision, Duty, Party
from incidents.notices import people_duty
from incidents.services import duty_done
from kernel.privacy.registry import Category


def client_notice_recipients(*, workspace: Workspace, client: Client) -> list[str]:
    """The emails of the client's own logins in the workspace (active users)."""
    emails = (
        Membership.objects.for_workspace(workspace)
        .filter(client=client, user__is_active=True)
        .values_list("user__email", flat=True)
    )
    return sorted({e for e in emails if e})


def _extra(addresses: Iterable[str]) -> list[str]:
    found: list[str] = []
    for value in addresses:
        value = value.strip()
        if not value:
            continue
        try:
            validate_email(value)
        except ValidationError:
            raise ValidationError({"extra_recipients": f"{value!r} is not an email address."}) from None
        found.append(value)
    return found


def client_affected_accounts(*, duty: Duty) -> list[tuple[str, list[str], str]]:
    """(account reference, categories, found via) of the client's accounts whose people
    are on the incident's frozen list, by reference."""
    workspace_id = duty.workspace_id
    people = {
        p.debtor_id: p
        for p in AffectedPerson.objects.for_workspace(workspace_id).filter(
            incident_id=duty.incident_id,
            debtor_id__in=Debt.objects.for_workspace(workspace_id).filter(client_id=duty.client_id).values("debtor_id"),
        )
    }
    accounts = (
        Debt.objects.for_workspace(workspace_id)
        .filter(client_id=duty.client_id, debtor_id__in=list(people))
        .order_by("reference")
        .values_list("reference", "debtor_id")
    )
    return [(ref, list(people[d].categories or []), people[d].found_via) for ref, d in accounts]


def client_notice_message(*, duty: Duty, now: datetime | None = None) -> tuple[str, str, bytes]:
    """(subject, body, CSV of the affected accounts) of the email to the client."""
    incident = duty.incident
    workspace = Workspace.objects.get(pk=duty.workspace_id)
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    accounts = client_affected_accounts(duty=duty)
    labels = dict(Category.choices)
    people = people_duty(incident)
    contact = contact_point(workspace)
    context: dict[str, Any] = {
        "agency": workspace.name,
        "client": duty.client.name if duty.client else "",
        "incident": incident,
        "occurred_at": f"{incident.occurred_at.astimezone(zone):%Y-%m-%d %H:%M}" if incident.occurred_at else "",
        "aware_at": f"{incident.aware_at.astimezone(zone):%Y-%m-%d %H:%M}",
        "people_done_on": f"{people.done_at.astimezone(zone):%Y-%m-%d}" if people and people.done_at else "",
        "zone": workspace.timezone,
        "categories": [labels.get(c, c) for c in incident.data_categories],
        "accounts": len(accounts),
        "people_duty": people,
        "contact": contact.line if contact else "",
        "hours": duty.client.breach_notice_hours if duty.client else None,
        "now": f"{(now or timezone.now()).astimezone(zone):%Y-%m-%d %H:%M}",
    }
    body = render_to_string("incidents/notice_client_email.txt", context).strip() + "\n"
    subject = f"[{workspace.name}] Security incident {incident.reference} involving your data"
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["account_reference", "data_categories", "found_via"])
    for reference, categories, via in accounts:
        writer.writerow([reference, ";".join(categories), via])
    return subject, body, out.getvalue().encode()


def client_notice_send(
    *,
    duty: Duty,
    actor: Actor = None,
    extra_recipients: Iterable[str] = (),
    late_reason: str = "",
    now: datetime | None = None,
) -> Duty:
    """Email the client of this duty about the incident, once (module docstring)."""
    if duty.party != Party.CLIENT or duty.client_id is None:
        raise ValidationError({"notice": "This duty is not a client's."})
    extra = _extra(extra_recipients)
    with transaction.atomic():
        duty = (
            Duty.objects.for_workspace(duty.workspace_id)
            .select_for_update(of=("self",))
            .select_related("incident", "client")
            .get(pk=duty.pk)
        )
        if duty.done_at is not None:
            raise ValidationError({"notice": f"{duty.client} was already told ({duty.done_at:%Y-%m-%d %H:%M} UTC)."})
        if duty.decision == Decision.NOT_REQUIRED:
            raise ValidationError({"notice": "This client was decided not to need telling; change the decision first."})
        workspace = Workspace.objects.get(pk=duty.workspace_id)
        assert duty.client is not None
        recipients = sorted(set(client_notice_recipients(workspace=workspace, client=duty.client)) | set(extra))
        if not recipients:
            raise ValidationError(
                {
                    "extra_recipients": f"No one at {duty.client.name} has a login here: give the address of their "
                    "contact for security incidents (from the contract)."
                }
            )
        subject, body, accounts_csv = client_notice_message(duty=duty, now=now)
        duty = duty_done(duty=duty, actor=actor, late_reason=late_reason, now=now)
        audit_record(
            action=actions.INCIDENT_NOTIFIED,
            workspace=workspace,
            obj=duty,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={
                "step": "client",
                "incident": str(duty.incident_id),
                "client": str(duty.client_id),
                "recipients": len(recipients),
            },
        )
        message = EmailMessage(subject=subject, body=body, to=recipients)
        message.attach(f"{duty.incident.reference}-affected-accounts.csv", accounts_csv, "text/csv")
        message.send()
    return duty
