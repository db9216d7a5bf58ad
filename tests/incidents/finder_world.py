"""The affected-people finder's test world: Acme's debts of two clients, and the traces
people leave through the real pages and API (a reveal, a note, an API read and a
search, a queue export, a statement download), plus one reveal moved out of the
window and a reveal in Globex that must never be found from Acme."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from accounts.models import Client, User
from accounts.roles import Role
from accounts.services import client_create
from audit import actions
from audit.models import AuditEvent
from debtors.models import Debt
from debtors.services.ledger import payment_record
from debtors.services.records import note_add
from incidents.models import Incident
from kernel.tenancy import workspace_context
from tests.conftest import World, add_member, api, login
from tests.debtors.factories import make_debt
from tests.incidents.register_world import record

H = timedelta(hours=1)


@dataclass
class Traces:
    world: World
    konkan: Client
    sahyadri: Client
    manager: User
    debts: dict[str, Debt]  # revealed, noted, api_read, searched, konkan_other, old_reveal, paid
    globex_debt: Debt
    export_event: AuditEvent
    statement_event: AuditEvent
    start: datetime
    end: datetime
    incident: Incident

    def debtor(self, name: str) -> Any:
        return self.debts[name].debtor_id

    def debtors(self, *names: str) -> set[Any]:
        return {self.debtor(n) for n in names}


def _body(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


def build_traces(world: World) -> Traces:
    a = world.a
    manager = add_member(a, "manager@example.com", Role.MANAGER)
    with workspace_context(a):
        sahyadri = Client.objects.for_workspace(a).get(reference="SAHYADRI")
        konkan = client_create(workspace=a, name="Konkan Finance", reference="KONKAN")
        debts = {
            "revealed": make_debt(a, client_ref="SAHYADRI"),
            "noted": make_debt(a, client_ref="SAHYADRI"),
            "api_read": make_debt(a, client_ref="SAHYADRI"),
            "searched": make_debt(a, client_ref="KONKAN", email="searched@example.com"),
            "konkan_other": make_debt(a, client_ref="KONKAN"),
            "old_reveal": make_debt(a, client_ref="SAHYADRI"),
            "paid": make_debt(a, client_ref="SAHYADRI"),
        }
        payment_record(debt=debts["paid"], amount_minor=10_000, method="upi", actor=world.alice)
    with workspace_context(world.b):
        globex_debt = make_debt(world.b)
    # Placed long ago: a portfolio's window then finds only who touched it.
    Debt.unscoped.filter(workspace=a).update(created_at=timezone.now() - 90 * 24 * H)

    alice = login(world.alice)
    assert alice.post(f"/w/acme/debts/{debts['revealed'].pk}/reveal/").status_code == 200
    assert alice.post(f"/w/acme/debts/{debts['old_reveal'].pk}/reveal/").status_code == 200
    AuditEvent.unscoped.filter(
        workspace=a, action=actions.PERSONAL_DATA_READ, object_id=str(debts["old_reveal"].debtor_id)
    ).update(created_at=timezone.now() - 30 * 24 * H)
    with workspace_context(a):
        note_add(debt=debts["noted"], body="Asked to call after payday", actor=world.alice)
    key = api(world.key_a)
    assert key.get(f"/api/v1/debtors/{debts['api_read'].debtor_id}/").status_code == 200
    assert len(key.get("/api/v1/debtors/", {"search": "searched@example.com"}).json()["results"]) == 1
    export = login(manager).get("/w/acme/debts/export.csv", {"client": str(konkan.pk)})
    assert len(_body(export).strip().splitlines()) == 3  # header + Konkan's two debts
    month = timezone.localdate().strftime("%Y-%m")
    statement = alice.get("/w/acme/portal/statement.csv", {"client": str(sahyadri.pk), "month": month})
    assert statement.status_code == 200 and _body(statement)
    assert login(world.bob).post(f"/w/globex/debts/{globex_debt.pk}/reveal/").status_code == 200

    export_event = AuditEvent.unscoped.get(workspace=a, action=actions.DEBTS_EXPORTED)
    statement_event = AuditEvent.unscoped.get(workspace=a, action=actions.STATEMENT_DOWNLOADED)
    now = timezone.now()
    incident = record(a, aware_at=now - H, now=now, title="Agent's laptop stolen")
    return Traces(
        world=world,
        konkan=konkan,
        sahyadri=sahyadri,
        manager=manager,
        debts=debts,
        globex_debt=globex_debt,
        export_event=export_event,
        statement_event=statement_event,
        start=now - 2 * H,
        end=now + H,
        incident=incident,
    )
