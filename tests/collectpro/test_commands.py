"""The shell's operator commands: seed_demo (and the help of every shell command)."""

from __future__ import annotations

import pkgutil
from io import StringIO

import pytest
from django.core.management import call_command, load_command_class

import collectpro.management.commands as shell_commands
from accounts.models import ApiKey, Client, Membership, User, Workspace
from audit.models import AuditEvent
from debtors.models import Debt
from kernel.tenancy import workspace_context

COMMANDS = sorted(m.name for m in pkgutil.iter_modules(shell_commands.__path__))


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _counts() -> dict[str, int]:
    # Unscoped on purpose: "nothing changed" means nowhere, in no workspace.
    return {
        "workspaces": Workspace.objects.count(),
        "users": User.objects.count(),
        "memberships": Membership.unscoped.count(),
        "api_keys": ApiKey.unscoped.count(),
        "clients": Client.unscoped.count(),
        "audit_events": AuditEvent.unscoped.count(),
    }


# --- seed_demo ------------------------------------------------------------------------


def test_seed_demo_is_idempotent_and_prints_the_logins(db):
    out, _ = _run("seed_demo", "--accounts", "0")
    seeded = _counts()
    assert seeded["workspaces"] == 2 and seeded["clients"] == 3
    for login in ("owner@acme.example", "agent@acme.example", "auditor@acme.example", "owner@liberty.example"):
        assert login in out
    assert "Password for all: collectpro-demo-2026" in out
    assert User.objects.get(email="agent@acme.example").check_password("collectpro-demo-2026")

    out_again, _ = _run("seed_demo", "--accounts", "0")
    assert _counts() == seeded
    assert "owner@acme.example" in out_again


def test_seed_demo_portfolio_is_seeded_once(db):
    _run("seed_demo", "--accounts", "6")
    seeded = _counts()
    with workspace_context(Workspace.objects.get(slug="acme-collections")):
        debts = Debt.objects.count()
    assert debts == 6
    _run("seed_demo", "--accounts", "6")
    assert _counts() == seeded
    with workspace_context(Workspace.objects.get(slug="acme-collections")):
        assert Debt.objects.count() == debts


def test_every_shell_command_is_tested_for_help():
    assert {"seed_demo", "rotate_keys", "verify_audit_chain"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        call_command(name, "--help")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.split()[:2] == ["usage:", name]
    help_text = load_command_class("collectpro", name).help
    assert help_text and " ".join(help_text.split()[:4]) in " ".join(out.split())
