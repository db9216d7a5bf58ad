"""Shared helpers of the notices' and reports' tests: people with debts placed through
the services, an incident whose people are found and frozen by the finder (a whole
client), the people's duty decided, the privacy contact set."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.models import Client, Workspace
from communications.models import Communication
from debtors.models import Debt, Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from incidents.finder import Scope, ScopeKind, affected_find
from incidents.finder_freeze import affected_freeze
from incidents.models import AffectedPerson, Duty, Incident
from incidents.notices import notice_template
from incidents.services import IncidentInput, duty_decide, incident_create
from kernel.tenancy import workspace_context
from privacy_requests.desk_services import privacy_contact_save


@dataclass
class Person:
    debtor: Debtor
    debt: Debt
    channel: str  # what they should be told by: email | sms | "" (no contact)


def person(
    workspace: Workspace,
    client: Client,
    reference: str,
    *,
    email: str = "",
    phone: str = "",
    language: str = "",
) -> Person:
    with workspace_context(workspace):
        debtor = debtor_create(
            workspace=workspace,
            data=DebtorInput(full_name=f"Person {reference}", email=email, phone=phone, preferred_language=language),
        )
        debt = debt_create(
            workspace=workspace,
            client=client,
            debtor=debtor,
            data=DebtInput(reference=reference, original_amount_minor=50_000, currency=workspace.currency),
        )
    return Person(debtor, debt, "email" if email else "sms" if phone else "")


def crowd(workspace: Workspace, client: Client, n: int, *, prefix: str = "ACC") -> list[Person]:
    """``n`` people: most with an email, every fifth with a phone only, every seventh with
    neither."""
    found = []
    for i in range(n):
        ref = f"{prefix}-{i:05d}"
        if i % 7 == 6:
            found.append(person(workspace, client, ref))
        elif i % 5 == 4:
            found.append(person(workspace, client, ref, phone=f"+9198{i:08d}"))
        else:
            found.append(person(workspace, client, ref, email=f"{ref.lower()}@example.com"))
    return found


def contact(workspace: Workspace, *, email: str = "dpo@acme.example", phone: str = "+911140000000") -> None:
    with workspace_context(workspace):
        privacy_contact_save(
            workspace=workspace,
            contact_user=None,
            contact_name="Grievance Officer",
            contact_email=email,
            contact_phone=phone,
            grievance_period_days=None,
        )


def breach(
    workspace: Workspace,
    *,
    aware_at: datetime,
    now: datetime | None = None,
    categories: tuple[str, ...] = ("identity", "contact", "financial"),
    **facts: Any,
) -> Incident:
    with workspace_context(workspace):
        return incident_create(
            workspace=workspace,
            data=IncidentInput(
                title="Collections export emailed to the wrong address",
                what_happened="A CSV of accounts was emailed to an outside address by mistake.",
                aware_at=aware_at,
                occurred_at=aware_at - timedelta(hours=3),
                data_categories=list(categories),
                subject_kinds=["debtors"],
                approx_subjects=facts.pop("approx_subjects", 120),
                likely_consequences=facts.pop("likely_consequences", "Possible phishing using account details."),
                measures_taken=facts.pop("measures_taken", "The recipient confirmed deletion in writing."),
                measures_proposed=facts.pop("measures_proposed", "Outbound email of exports is now blocked."),
                **facts,
            ),
            now=now or aware_at + timedelta(minutes=1),
        )


def freeze_client(incident: Incident, client: Client) -> int:
    """The finder's answer for a whole client, frozen on the incident (the client's duty follows)."""
    workspace = incident.workspace
    result = affected_find(workspace=workspace, scope=Scope(kind=ScopeKind.CLIENT, client_id=str(client.pk)))
    affected_freeze(incident=incident, result=result)
    return result.total


def people_duty_of(incident: Incident) -> Duty:
    with workspace_context(incident.workspace):
        return Duty.objects.for_workspace(incident.workspace_id).get(incident=incident, code="PEOPLE")


def decide_people(incident: Incident, decision: str = "notify") -> Duty:
    with workspace_context(incident.workspace):
        return duty_decide(duty=people_duty_of(incident), decision=decision, reason="High risk of phishing.")


def notices_of(incident: Incident) -> dict[Any, list[Communication]]:
    """Each debtor's communications for this incident's notice."""
    found: dict[Any, list[Communication]] = {}
    with workspace_context(incident.workspace):
        for comm in Communication.objects.for_workspace(incident.workspace_id).filter(
            template=notice_template(incident)
        ):
            found.setdefault(comm.debtor_id, []).append(comm)
    return found


def rows_of(incident: Incident) -> dict[Any, AffectedPerson]:
    with workspace_context(incident.workspace):
        return {
            row.debtor_id: row
            for row in AffectedPerson.objects.for_workspace(incident.workspace_id).filter(incident=incident)
        }
