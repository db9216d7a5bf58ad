"""Shared helpers of the breach register's tests: workspaces under each profile,
incidents recorded through the services, and the register's members (an admin, a
manager, an agent, an auditor, a client's login, a manager named privacy contact)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from accounts.models import Client, User, Workspace
from accounts.roles import Role
from accounts.services import client_create, membership_add, workspace_create
from incidents.models import Duty, Incident
from incidents.services import IncidentInput, duties_sync, incident_create
from kernel.tenancy import workspace_context
from privacy_requests.desk_services import privacy_contact_save
from tests.conftest import PASSWORD, World, add_member

# A fixed moment the frozen-time tests count from (Monday 2 March 2026, 09:30 UTC).
AWARE = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def profile_workspace(world: World, code: str) -> Workspace:
    """The world's India (acme) or US (globex) workspace, or a new one under ``code``."""
    if code == "IN":
        return world.a
    if code == "US":
        return world.b
    return workspace_create(
        slug=f"ws-{code.lower()}",
        name=f"Workspace {code}",
        owner_email=f"owner-{code.lower()}@example.com",
        owner_password=PASSWORD,
        jurisdiction=code,
    )


def record(
    workspace: Workspace,
    *,
    aware_at: datetime = AWARE,
    now: datetime | None = None,
    title: str = "Laptop stolen",
    actor: Any = None,
    **facts: Any,
) -> Incident:
    """An incident recorded at ``now`` (a minute after awareness unless given)."""
    with workspace_context(workspace):
        return incident_create(
            workspace=workspace,
            data=IncidentInput(
                title=title,
                what_happened="A laptop with the collections export was stolen.",
                aware_at=aware_at,
                **facts,
            ),
            actor=actor,
            now=now or aware_at + timedelta(minutes=1),
        )


def duties(incident: Incident) -> dict[Any, Duty]:
    """The incident's duties by code (clients' by (code, client name))."""
    with workspace_context(incident.workspace):
        rows = list(
            Duty.objects.for_workspace(incident.workspace_id).filter(incident=incident).select_related("client")
        )
    return {(d.code, d.client.name) if d.client else d.code: d for d in rows}


def involve_clients(incident: Incident, *clients: Client) -> dict[Any, Duty]:
    """The finder named these clients (as the finder freezes it), then the duties follow."""
    with workspace_context(incident.workspace):
        Incident.objects.for_workspace(incident.workspace_id).filter(pk=incident.pk).update(
            finder={"client_ids": [str(c.pk) for c in clients]}
        )
        incident.refresh_from_db()
        duties_sync(incident=incident)
    return duties(incident)


def client_with_hours(workspace: Workspace, name: str, reference: str, hours: int | None) -> Client:
    """A client whose contract sets ``hours`` to be told of a breach (None: the default)."""
    with workspace_context(workspace):
        client = client_create(workspace=workspace, name=name, reference=reference)
        if hours is not None:
            # No page sets a contract's hours yet (accounts' client form): set as an operator would.
            Client.objects.for_workspace(workspace).filter(pk=client.pk).update(breach_notice_hours=hours)
            client.refresh_from_db()
    return client


@dataclass
class Staff:
    admin: User
    manager: User
    agent: User
    auditor: User
    client_user: User
    contact: User  # a manager named the workspace's privacy contact


def staff(world: World) -> Staff:
    """Acme's members of every kind besides its owner alice."""
    a = world.a
    admin = add_member(a, "admin@example.com", Role.ADMIN)
    manager = add_member(a, "manager@example.com", Role.MANAGER)
    agent = add_member(a, "agent@example.com", Role.AGENT)
    auditor = add_member(a, "auditor@example.com", Role.AUDITOR)
    contact = add_member(a, "dpo@example.com", Role.MANAGER)
    client_user = User.objects.create_user(email="creditor@example.com", password=PASSWORD)
    with workspace_context(a):
        client = Client.objects.for_workspace(a).get(reference="SAHYADRI")
        membership_add(workspace=a, user=client_user, role=Role.MANAGER, client=client)
        privacy_contact_save(
            workspace=a,
            contact_user=contact,
            contact_name="Data Protection Officer",
            contact_email="dpo@example.com",
            contact_phone="",
            grievance_period_days=None,
        )
    return Staff(admin, manager, agent, auditor, client_user, contact)
