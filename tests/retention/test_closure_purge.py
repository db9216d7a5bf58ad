"""After a closed workspace's grace period, the purge (``purge_run`` with ``now=``):
deletes its memberships, invitations, API keys, saved views and exports; erases its
people except those a hold covers; leaves the books; then marks it purged and emails
the final receipt once. Before the grace period ends, and while anything of it is
still due, nothing of that happens."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import ApiKey, Client, Invitation, Membership
from audit import actions
from audit.models import AuditEvent
from debtors.models import Debt, Debtor, LedgerEntry, SavedView
from debtors.services.debtors import debtor_erased_at
from kernel import retention as registry
from kernel.tenancy import workspace_context
from retention.closure_export import exports_list
from retention.closure_receipt import books_until
from retention.engine import purge_run
from retention.holds import legal_hold_place
from tests.conftest import api, login
from tests.retention.closure_world import Acme, _fresh_cache, acme_with_everything, close, count, fresh  # noqa: F401

pytestmark = pytest.mark.usefixtures("private_storage")
RECEIPT = "Acme Collections: final receipt of the closure"


@pytest.fixture
def closed(world, django_capture_on_commit_callbacks) -> Acme:
    acme = acme_with_everything(world)
    with workspace_context(world.a):
        legal_hold_place(
            workspace=world.a,
            scope="debtor",
            debtor=acme.held.debtor,
            reason="litigation",
            case_reference="CS/77/2026",
            review_on=timezone.localdate() + timedelta(days=90),
            actor=world.alice,
        )
    with django_capture_on_commit_callbacks(execute=True):
        close(world)
    mail.outbox.clear()
    return acme


def purge(world, now: datetime, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return purge_run(workspace=fresh(world.a), now=now)


def ledger_total(workspace) -> int:
    with workspace_context(workspace):
        return int(LedgerEntry.objects.for_workspace(workspace).aggregate(s=Sum("amount_minor"))["s"] or 0)


def erased(workspace, debtor_id) -> bool:
    with workspace_context(workspace):
        return debtor_erased_at(workspace_id=workspace.pk, debtor_id=debtor_id) is not None


def receipts() -> list:
    return [m for m in mail.outbox if m.subject == RECEIPT]


def test_nothing_goes_during_the_grace_period(world, closed, django_capture_on_commit_callbacks):
    ws = fresh(world.a)
    run = purge(world, ws.purge_after - timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert run.errors == []
    assert count(Membership, ws) == 3 and count(SavedView, ws) == 1 and count(Invitation, ws) == 1
    assert not erased(ws, closed.paid.debtor_id)
    assert exports_list(workspace_id=ws.pk)
    assert fresh(world.a).purged_at is None and receipts() == []


def test_after_the_grace_period_the_purge_keeps_the_books_and_the_held(
    world, closed, django_capture_on_commit_callbacks
):
    ws = fresh(world.a)
    debts, total = count(Debt, ws), ledger_total(ws)
    globex_members = count(Membership, world.b)
    now = ws.purge_after + timedelta(hours=1)

    run = purge(world, now, django_capture_on_commit_callbacks)
    assert run.errors == [], run.errors

    # Access is gone: members, invitations, keys, saved views, the export.
    for model in (Membership, Invitation, ApiKey, SavedView):
        assert count(model, ws) == 0, model
    assert exports_list(workspace_id=ws.pk) == []
    assert run.counts["ACCOUNT_LIFETIME"]["delete"] == 3 + 1 + 1 + 1 + 1  # + the workspace itself, marked purged
    # The people are erased, except the one a hold covers.
    assert erased(ws, closed.paid.debtor_id) and erased(ws, closed.busy.debtor_id)
    assert not erased(ws, closed.held.debtor_id)
    with workspace_context(ws):
        assert Debtor.objects.for_workspace(ws).get(pk=closed.held.debtor_id).full_name.startswith("Debtor ")
    # The books stay, to the minor unit.
    assert count(Debt, ws) == debts and ledger_total(ws) == total
    # Nobody can get in: the members are gone (404), the keys deleted (401).
    assert login(world.alice).get("/w/acme/").status_code == 404
    assert api(world.key_a).get("/api/v1/workspace/").status_code == 401
    # The other workspace is untouched.
    assert count(Membership, world.b) == globex_members and fresh(world.b).purged_at is None

    # Marked purged, audited, and the receipt sent to whoever closed it.
    assert fresh(world.a).purged_at == now
    purged = AuditEvent.unscoped.get(workspace_id=ws.pk, action=actions.WORKSPACE_PURGED)
    assert purged.metadata["holds"] == 1 and purged.metadata["held_people"] == 1
    assert purged.metadata["books_debts"] == debts
    (receipt,) = receipts()
    assert receipt.to == ["alice@example.com"]
    body = receipt.body
    assert "Members of a closed workspace: 3" in body
    assert f"{debts} debts" in body and f"{books_until(workspace=ws):%-d %B %Y}" in body
    assert "Litigation, CS/77/2026" in body and f"a debtor (id {closed.held.debtor_id})" in body
    # What else the workspace still holds, each with its period (the audit trail here).
    assert "Audit events (SECURITY_LOGS): 365 days" in body and "Outside the database" in body
    # Nothing of a person in the email.
    with workspace_context(ws):
        held_name = Debtor.objects.for_workspace(ws).get(pk=closed.held.debtor_id).full_name
    assert held_name not in body

    # A second run sends nothing and changes nothing.
    again = purge(world, now + timedelta(days=1), django_capture_on_commit_callbacks)
    assert again.total == 0 and again.errors == []
    assert len(receipts()) == 1 and fresh(world.a).purged_at == now
    assert AuditEvent.unscoped.filter(workspace_id=ws.pk, action=actions.WORKSPACE_PURGED).count() == 1
    # The trail still verifies (the command raises when it does not).
    call_command("verify_audit_chain", stdout=StringIO())


def test_no_receipt_while_a_persons_data_is_left(world, closed, django_capture_on_commit_callbacks, monkeypatch):
    """Without the people's erasure (its store fails or is missing), the closure is not
    finished: access goes, but the workspace is not marked purged and no receipt goes."""
    monkeypatch.delitem(registry._stores, "privacy_requests.inactive_people")
    ws = fresh(world.a)
    now = ws.purge_after + timedelta(hours=1)
    run = purge(world, now, django_capture_on_commit_callbacks)
    assert count(Membership, ws) == 0
    assert not erased(ws, closed.paid.debtor_id)
    assert fresh(world.a).purged_at is None and receipts() == []
    assert run.progress["retention.workspace_closed"]["count"] == 0
    monkeypatch.undo()
    purge(world, now + timedelta(days=1), django_capture_on_commit_callbacks)
    assert erased(ws, closed.paid.debtor_id)
    assert fresh(world.a).purged_at is not None and len(receipts()) == 1


def test_a_dry_run_changes_nothing(world, closed, django_capture_on_commit_callbacks):
    ws = fresh(world.a)
    with django_capture_on_commit_callbacks(execute=True):
        run = purge_run(workspace=ws, now=ws.purge_after + timedelta(hours=1), dry_run=True)
    assert run.progress["retention.closed_memberships"]["count"] == 3
    assert count(Membership, ws) == 3 and exports_list(workspace_id=ws.pk)
    assert fresh(world.a).purged_at is None and receipts() == []


def test_remittance_details_stay_with_the_books(world, closed, django_capture_on_commit_callbacks):
    ws = fresh(world.a)
    with workspace_context(ws):
        client = Client.objects.for_workspace(ws).get(reference="SAHYADRI")
        # No service writes them yet: the operator admin does.
        client.remittance_details = "HDFC0001234 / 50100012345678"
        client.save(update_fields=["remittance_details"])
    purge(world, ws.purge_after + timedelta(hours=1), django_capture_on_commit_callbacks)
    with workspace_context(ws):
        assert Client.objects.for_workspace(ws).get(pk=client.pk).remittance_details == "HDFC0001234 / 50100012345678"
    until = books_until(workspace=ws)
    assert until > ws.closed_at.date() + timedelta(days=8 * 365)  # the IN profile: 8 years after 31 March
    later = datetime.combine(until, datetime.min.time(), tzinfo=ws.closed_at.tzinfo) + timedelta(days=1)
    run = purge_run(workspace=fresh(world.a), category="retention.closed_remittance_details", now=later)
    assert run.counts == {"FINANCIAL_RECORDS": {"delete": 1}}
    with workspace_context(ws):
        assert Client.objects.for_workspace(ws).get(pk=client.pk).remittance_details is None
