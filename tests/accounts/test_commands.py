"""The operator CLI for accounts: create_workspace, create_api_key."""

from __future__ import annotations

import pkgutil
import re
from io import StringIO

import pytest
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError

import accounts.management.commands as account_commands
from accounts.models import ApiKey, Client, Membership, User, Workspace
from accounts.roles import Role
from audit.models import AuditEvent
from tests.conftest import PASSWORD, api

KEY_RE = re.compile(r"cp_[0-9a-f]{8}_[A-Za-z0-9_-]{20,}")
COMMANDS = sorted(m.name for m in pkgutil.iter_modules(account_commands.__path__))


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


# --- create_workspace -----------------------------------------------------------------


def test_create_workspace(db):
    args = ["initech", "--owner-email", "Peter@Example.com", "--password", PASSWORD, "--jurisdiction", "UK"]
    out, _ = _run("create_workspace", *args, "--name", "Initech Recoveries")
    assert "Created workspace initech (Initech Recoveries), owner Peter@Example.com" in out
    ws = Workspace.objects.get(slug="initech")
    assert (ws.jurisdiction, ws.currency, ws.timezone) == ("UK", "GBP", "Europe/London")
    peter = User.objects.get(email="peter@example.com")
    assert peter.check_password(PASSWORD)
    assert Membership.unscoped.get(workspace=ws, user=peter).role == Role.OWNER


def test_create_workspace_for_an_existing_user_keeps_their_password(world):
    _run("create_workspace", "initech", "--name", "Initech", "--owner-email", "alice@example.com")
    world.alice.refresh_from_db()
    assert world.alice.check_password(PASSWORD)
    assert Membership.unscoped.filter(user=world.alice).count() == 2


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["initech", "--jurisdiction", "XX", "--password", PASSWORD], "invalid choice: 'XX'"),
        (["initech", "--password", "1234"], "This password is too short"),
        (["initech"], "A password is required for a new owner"),
        (["acme", "--password", PASSWORD], "A workspace with slug 'acme' already exists."),
        (["Not A Slug!", "--password", PASSWORD], "slug"),
        (["initech", "--password", PASSWORD, "--currency", "EUROS"], "currency"),
        (["initech", "--password", PASSWORD, "--timezone", "Mars/Olympus"], "timezone"),
    ],
    ids=["jurisdiction", "weak-password", "no-password", "duplicate-slug", "slug", "currency", "timezone"],
)
def test_create_workspace_refuses_bad_input_and_changes_nothing(world, args, reason):
    before = _counts()
    with pytest.raises(CommandError) as exc:
        _run("create_workspace", *args, "--name", "Initech", "--owner-email", "peter@example.com")
    message = str(exc.value)
    assert reason in message
    assert "\n" not in message.strip(), "one line"
    assert _counts() == before


# --- create_api_key -------------------------------------------------------------------


def test_create_api_key_prints_the_key_alone_on_the_last_line(world):
    out, err = _run("create_api_key", "acme", "--name", "Nightly ETL")
    last = out.rstrip("\n").splitlines()[-1]
    assert KEY_RE.fullmatch(last), out
    assert last not in err  # the chatter goes to stderr, without the key
    r = api(last).get("/api/v1/workspace/")
    assert r.status_code == 200 and r.json() == {**r.json(), "slug": "acme", "client_scope": None}


def test_create_api_key_for_a_client(world):
    out, _ = _run("create_api_key", "acme", "--client", "SAHYADRI")
    key = out.splitlines()[-1]
    assert api(key).get("/api/v1/workspace/").json()["client_scope"] == "SAHYADRI"


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["nope"], "No workspace with slug 'nope'."),
        (["acme", "--client", "NOPE"], "No client with reference 'NOPE' in acme."),
        # A client of another workspace is as unknown as no client at all.
        (["acme", "--client", "LSCU"], "No client with reference 'LSCU' in acme."),
    ],
    ids=["unknown-slug", "unknown-client", "other-workspaces-client"],
)
def test_create_api_key_refuses_bad_input(world, args, reason):
    before = _counts()
    with pytest.raises(CommandError, match=re.escape(reason)):
        _run("create_api_key", *args)
    assert _counts() == before


# --- --help ---------------------------------------------------------------------------


def test_every_accounts_command_is_tested_for_help():
    assert {"create_workspace", "create_api_key"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        call_command(name, "--help")
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.split()[:2] == ["usage:", name]
    help_text = load_command_class("accounts", name).help
    assert help_text and " ".join(help_text.split()[:4]) in " ".join(out.split())
