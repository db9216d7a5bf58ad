"""A workspace with something of everything, for the closure tests: built through the
services, closed through the service or the page."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from io import BytesIO
from typing import Any

import pytest
from django.core.cache import cache
from django.utils import timezone

from accounts.models import User, Workspace
from accounts.roles import Role
from accounts.services import invitation_create
from debtors.models import Debt, Document
from debtors.services.disputes import dispute_open
from debtors.services.ledger import payment_record
from debtors.services.offers import offer_create
from debtors.services.plans import plan_create
from debtors.services.promises import promise_create
from debtors.services.records import document_upload, note_add
from debtors.services.saved_filters import saved_view_save
from kernel.tenancy import workspace_context
from retention.closure import workspace_close
from tests.conftest import World, add_member
from tests.cross_tenant import PNG_BYTES, owner_membership
from tests.debtors.factories import make_debt


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    # The export's queue guard lives in the cache; workspace ids repeat across tests.
    cache.clear()
    yield
    cache.clear()


@dataclass
class Acme:
    ws: Workspace
    admin: User
    agent: User
    paid: Debt  # paid in full: its person is erased at the purge
    held: Debt  # a hold on its debtor keeps them
    busy: Debt  # a plan, a promise, an offer, a note, a dispute, a document
    document: Document


def acme_with_everything(world: World) -> Acme:
    ws = world.a
    admin = add_member(ws, "ada-admin@example.com", Role.ADMIN)
    agent = add_member(ws, "arjun-agent@example.com", Role.AGENT)
    with workspace_context(ws):
        paid = make_debt(ws, amount_minor=50_000)
        payment_record(debt=paid, amount_minor=50_000, method="upi", reference="UTR-1")
        held = make_debt(ws, amount_minor=80_000)
        payment_record(debt=held, amount_minor=5_000, method="cash")
        busy = make_debt(ws, amount_minor=120_000)
        payment_record(debt=busy, amount_minor=20_000, method="upi", reference="UTR-2")
        plan_create(
            debt=busy, total_minor=60_000, count=3, frequency="monthly", first_due=timezone.localdate() + timedelta(7)
        )
        promise_create(debt=busy, amount_minor=10_000, due_on=timezone.localdate() + timedelta(3))
        offer_create(debt=busy, amount_minor=70_000, expires_at=timezone.now() + timedelta(days=14))
        note_add(debt=busy, body="Asked for a call back on Friday", actor=agent)
        dispute_open(debt=busy, reason="other", details="Says the amount is wrong")
        document = document_upload(debt=busy, upload=BytesIO(PNG_BYTES), file_name="statement.png")
        saved_view_save(workspace=ws, user=agent, name="Mine", query="status=active")
        invitation_create(acting=owner_membership(ws), email="new-hire@example.com", role=Role.AGENT)
    return Acme(ws, admin, agent, paid, held, busy, document)


def close(world: World, *, now: datetime | None = None, reason: str = "leaving") -> Workspace:
    """Alice closes Acme through the service (callers capture on-commit work)."""
    return workspace_close(workspace=world.a, actor=world.alice, confirm_slug="acme", reason=reason, now=now)


def fresh(workspace: Workspace) -> Workspace:
    return Workspace.objects.get(pk=workspace.pk)


def count(model: Any, workspace: Workspace) -> int:
    with workspace_context(workspace):
        return int(model.objects.for_workspace(workspace).count())
