from __future__ import annotations

from django.core.management import call_command

from accounts.models import Workspace
from debtors.models import Debt, LedgerEntry
from kernel.tenancy import workspace_context


def test_seed_demo_fills_workspaces_with_accounts_in_several_states_once(db, capsys):
    call_command("seed_demo", "--accounts", "60")
    ws = Workspace.objects.get(slug="acme-collections")
    with workspace_context(ws):
        statuses = set(Debt.objects.values_list("status", flat=True))
        count = Debt.objects.count()
        payments = LedgerEntry.objects.filter(kind="payment").count()
    assert count == 60 and payments > 0
    assert {"active", "new"} <= statuses and len(statuses) >= 4
    call_command("seed_demo", "--accounts", "60")  # idempotent
    with workspace_context(ws):
        assert Debt.objects.count() == 60
    assert "Password for all" in capsys.readouterr().out
