"""The audit page and its CSV export: owners read and filter the trail, the export
is itself audited, agents are refused and other workspaces do not exist."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client

from accounts.roles import Role
from audit import actions
from audit.models import AuditEvent
from audit.services import audit_record
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login

AUDIT = "/w/acme/audit/"
EXPORT = "/w/acme/audit/export.csv"


@pytest.fixture
def trail(world):
    """A's trail with events by two actors; B has its own events."""
    agent = add_member(world.a, "agent@example.com", role=Role.AGENT)
    with workspace_context(world.a):
        for i in range(3):
            audit_record(
                action=actions.PERSONAL_DATA_READ,
                workspace=world.a,
                actor_user_id=world.alice.pk,
                object_type="debtors.debtor",
                object_id=f"alice-{i}",
                metadata={"fields": ["email"], "purpose": "call"},
            )
        audit_record(
            action=actions.PERSONAL_DATA_EXPORT,
            workspace=world.a,
            actor_user_id=agent.pk,
            object_type="debtors.debtor",
            object_id="agent-0",
        )
    with workspace_context(world.b):
        audit_record(
            action=actions.PERSONAL_DATA_READ,
            workspace=world.b,
            actor_user_id=world.bob.pk,
            object_type="debtors.debtor",
            object_id="bob-secret",
        )
    return agent


def _listed(response) -> list[AuditEvent]:
    assert response.status_code == 200
    return list(response.context["page"].object_list)


def _csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_owner_sees_the_workspace_trail_and_nothing_of_others(world, trail):
    alice = login(world.alice)
    response = alice.get(AUDIT)
    events = _listed(response)
    expected = AuditEvent.unscoped.filter(workspace=world.a).count()
    assert len(events) == expected
    assert {e.workspace_id for e in events} == {world.a.pk}
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)  # newest first
    body = response.content.decode()
    assert "<code>personal_data.read</code>" in body and "alice-" in body
    assert "bob-secret" not in body


def test_filter_by_action(world, trail):
    events = _listed(login(world.alice).get(AUDIT, {"action": actions.PERSONAL_DATA_READ}))
    assert len(events) == 3
    assert {e.action for e in events} == {actions.PERSONAL_DATA_READ}
    assert {e.workspace_id for e in events} == {world.a.pk}


def test_filter_by_actor(world, trail):
    agent = trail
    by_agent = _listed(login(world.alice).get(AUDIT, {"actor": str(agent.pk)}))
    assert [e.object_id for e in by_agent] == ["agent-0"]
    by_alice = _listed(
        login(world.alice).get(AUDIT, {"actor": str(world.alice.pk), "action": actions.PERSONAL_DATA_READ})
    )
    assert sorted(e.object_id for e in by_alice) == ["alice-0", "alice-1", "alice-2"]


def test_csv_export_has_a_header_and_one_row_per_event_and_is_audited(world, trail):
    alice = login(world.alice)
    before = list(AuditEvent.unscoped.filter(workspace=world.a).order_by("-seq"))
    response = alice.get(EXPORT)
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-acme.csv"' in response["Content-Disposition"]
    rows = _csv_rows(response)
    header, body = rows[0], rows[1:]
    assert {"seq", "time", "action", "prev_hash", "hash", "metadata", "user_agent"} <= set(header)
    assert len(body) == len(before)
    assert [int(r[header.index("seq")]) for r in body] == [e.seq for e in before]
    # Every hashed field is exported, so the export can be re-verified on its own.
    assert [r[header.index("prev_hash")] for r in body[:-1]] == [r[header.index("hash")] for r in body[1:]]
    assert [r[header.index("hash")] for r in body] == [e.hash for e in before]
    assert "bob-secret" not in "".join(",".join(r) for r in body)

    exported = AuditEvent.unscoped.filter(workspace=world.a, action=actions.AUDIT_EXPORTED).get()
    assert exported.actor_user_id == world.alice.pk
    assert exported.metadata == {"rows": len(before)}


def test_csv_export_respects_the_filters(world, trail):
    response = login(world.alice).get(EXPORT, {"action": actions.PERSONAL_DATA_EXPORT})
    rows = _csv_rows(response)
    col = rows[0].index("action")
    assert [r[col] for r in rows[1:]] == [actions.PERSONAL_DATA_EXPORT]


@pytest.mark.parametrize("url", [AUDIT, EXPORT])
def test_an_agent_is_refused(world, trail, url):
    agent = trail
    assert login(agent).get(url).status_code == 403
    assert not AuditEvent.unscoped.filter(action=actions.AUDIT_EXPORTED).exists()


@pytest.mark.parametrize("url", [AUDIT, EXPORT])
def test_another_workspaces_owner_gets_404(world, trail, url):
    assert login(world.bob).get(url).status_code == 404
    assert login(world.charlie).get(url).status_code == 404
    assert not AuditEvent.unscoped.filter(action=actions.AUDIT_EXPORTED).exists()


def test_anonymous_is_sent_to_log_in(world):
    response = Client().get(AUDIT)
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
