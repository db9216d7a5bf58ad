"""The retention pages' test world: workspace A with a manager, an agent, an auditor
and a client user; two clients; Meera with two debts at Sahyadri Bank and Ravi with
one at a second client; and, when a test asks for it, a probe store over real
timeline rows so "due now / within 30 days" and receipts have exact numbers.

Time: services take ``now=`` (``NOW``); the probe rows' dates are set with
``.update()`` relative to the real clock, since the pages count from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import Client, User, Workspace
from accounts.roles import Role
from accounts.services import client_create, membership_add
from debtors.models import Debt, DebtEvent
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.status import debt_event
from kernel import retention as registry
from kernel.privacy.registry import Retention
from kernel.retention import Action, RetentionStore
from kernel.tenancy import workspace_context
from tests.conftest import PASSWORD, World, add_member

PROBE_RULE = Retention(100, "the probe event", "Probe Retention Act s.1 (tests)", name="PROBE_RECORDS")
PROBE_KIND = "retention-probe"


@dataclass
class Floor:
    world: World
    ws: Workspace
    manager: User
    agent: User
    auditor: User
    client_user: User
    sahyadri: Client
    konkan: Client
    meera_1: Debt  # Meera's two debts (Sahyadri)
    meera_2: Debt
    ravi: Debt  # Ravi's debt (Konkan)
    other: Debt  # a debt of workspace B


def make_debt(ws: Workspace, client: Client, name: str, reference: str) -> Debt:
    debtor = debtor_create(
        workspace=ws, data=DebtorInput(full_name=name, email=f"{reference.lower()}@example.com", external_ref=reference)
    )
    return _add_debt(ws, client, debtor, reference)


def _add_debt(ws: Workspace, client: Client, debtor: Any, reference: str) -> Debt:
    debt = debt_create(
        workspace=ws,
        client=client,
        debtor=debtor,
        data=DebtInput(reference=reference, original_amount_minor=250_000, currency=ws.currency),
    )
    return debt_change_status(debt=debt, status="active")


def build_floor(world: World) -> Floor:
    ws = world.a
    manager = add_member(ws, "manager@example.com", Role.MANAGER)
    agent = add_member(ws, "agent@example.com", Role.AGENT)
    auditor = add_member(ws, "auditor@example.com", Role.AUDITOR)
    client_user = User.objects.create_user(email="bank@example.com", password=PASSWORD)
    with workspace_context(ws):
        sahyadri = Client.objects.get(reference="SAHYADRI")
        konkan = client_create(workspace=ws, name="Konkan Finance", reference="KONKAN")
        membership_add(workspace=ws, user=client_user, role=Role.MANAGER, client=sahyadri)
        meera_1 = make_debt(ws, sahyadri, "Meera Iyer", "MEERA-1")
        meera_2 = _add_debt(ws, sahyadri, meera_1.debtor, "MEERA-2")
        ravi = make_debt(ws, konkan, "Ravi Kulkarni", "RAVI-1")
    with workspace_context(world.b):
        other = make_debt(world.b, Client.objects.get(reference="LSCU"), "Orville Outland", "ORV-1")
    return Floor(world, ws, manager, agent, auditor, client_user, sahyadri, konkan, meera_1, meera_2, ravi, other)


def held(ws: Workspace) -> set[str]:
    """References of the workspace's debts whose ``legal_hold`` flag is set."""
    with workspace_context(ws):
        return set(Debt.objects.for_workspace(ws).filter(legal_hold=True).values_list("reference", flat=True))


def in_days(days: int, *, now: datetime | None = None) -> date:
    return ((now or timezone.now()) + timedelta(days=days)).date()


# --- A probe store over real rows --------------------------------------------------------


def _probe_due(ctx: Any) -> Any:
    return DebtEvent.objects.for_workspace(ctx.workspace).filter(kind=PROBE_KIND, created_at__lt=ctx.cutoff)


def _probe_apply(ctx: Any, keys: list[Any]) -> int:
    return int(DebtEvent.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()[0])


def _probe_describe(ctx: Any, keys: list[Any]) -> list[str]:
    return [f"timeline line {k}" for k in keys]


PROBE_STORE = RetentionStore(
    name="tests.probe",
    rule=PROBE_RULE,
    label="Probe timeline lines",
    covers="lines written by the retention tests",
    action=Action.DELETE,
    due=_probe_due,
    apply=_probe_apply,
    describe=_probe_describe,
)


def register_probe(monkeypatch: pytest.MonkeyPatch) -> RetentionStore:
    """Registers PROBE_STORE for one test (monkeypatch removes it afterwards)."""
    monkeypatch.setitem(registry._stores, PROBE_STORE.name, PROBE_STORE)
    return PROBE_STORE


def probe_rows(debt: Debt, ages_in_days: list[int]) -> list[Any]:
    """One probe line on ``debt`` per age (days before now); returns their ids."""
    ids = []
    with workspace_context(debt.workspace):
        for age in ages_in_days:
            event = debt_event(debt, PROBE_KIND, f"probe {age} days old")
            DebtEvent.objects.for_workspace(debt.workspace).filter(pk=event.pk).update(
                created_at=timezone.now() - timedelta(days=age)
            )
            ids.append(event.pk)
    return ids
