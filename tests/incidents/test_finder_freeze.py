"""Freezing the finder's answer on an incident: the rows, the counts kept on the
incident, idempotence, what a refreeze may replace (never the people already
notified), adding a second question, and the audit trail and history."""

from __future__ import annotations

import pytest
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from incidents.finder import Scope, ScopeKind, affected_find
from incidents.finder_freeze import affected_freeze
from incidents.models import AffectedPerson, Duty, Incident, IncidentUpdate, NoticeStatus
from kernel.tenancy import workspace_context
from tests.incidents.finder_world import Traces, build_traces
from tests.incidents.register_world import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def t(world) -> Traces:
    return build_traces(world)


def _find(t: Traces, scope: Scope):
    return affected_find(workspace=t.world.a, scope=scope, start=t.start, end=t.end)


def _alice(t: Traces):
    return _find(t, Scope(ScopeKind.USER, user_id=t.world.alice.pk))


def _rows(incident: Incident) -> dict:
    with workspace_context(incident.workspace):
        return {
            p.debtor_id: p
            for p in AffectedPerson.objects.for_workspace(incident.workspace_id).filter(incident=incident)
        }


def test_freezing_puts_exactly_the_people_found_on_the_incident(t):
    frozen = affected_freeze(incident=t.incident, result=_alice(t), actor=t.world.alice)
    assert (frozen.added, frozen.removed, frozen.total) == (3, 0, 3)
    rows = _rows(t.incident)
    assert set(rows) == t.debtors("revealed", "noted", "paid")
    assert rows[t.debtor("revealed")].categories == ["identity", "contact", "government_id"]
    assert rows[t.debtor("revealed")].found_via == "read"
    assert rows[t.debtor("paid")].found_via == "export,activity"
    assert {r.notice_status for r in rows.values()} == {NoticeStatus.PENDING}
    t.incident.refresh_from_db()
    assert t.incident.affected_frozen_at is not None
    finder = t.incident.finder
    assert finder["total"] == 3
    assert finder["by_category"] == {
        "identity": 1,
        "contact": 1,
        "financial": 1,
        "government_id": 1,
        "communication": 1,
    }
    assert finder["by_way"] == {"read": 1, "export": 1, "activity": 2}
    assert finder["questions"][0]["scope"] == {"kind": "user", "user_id": t.world.alice.pk}
    assert finder["client_ids"] == [str(t.sahyadri.pk)]  # the statement named its client
    event = AuditEvent.unscoped.get(workspace=t.world.a, action=actions.INCIDENT_AFFECTED_FROZEN)
    assert event.actor_user_id == t.world.alice.pk
    assert event.metadata["total"] == 3 and event.metadata["scope"] == "user"
    with workspace_context(t.world.a):
        history = IncidentUpdate.objects.filter(incident=t.incident, kind="finder").get()
    assert "3 in all" in history.text and str(t.debtor("revealed")) not in history.text


def test_freezing_the_same_answer_twice_changes_no_row(t):
    affected_freeze(incident=t.incident, result=_alice(t))
    first = {d: (p.pk, p.categories, p.found_via) for d, p in _rows(t.incident).items()}
    again = affected_freeze(incident=t.incident, result=_alice(t))
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    assert {d: (p.pk, p.categories, p.found_via) for d, p in _rows(t.incident).items()} == first


def test_a_refreeze_replaces_only_the_people_not_yet_notified(t):
    affected_freeze(incident=t.incident, result=_alice(t))
    revealed = _rows(t.incident)[t.debtor("revealed")]
    with workspace_context(t.world.a):  # as the notices' worker records a sent notice
        AffectedPerson.objects.for_workspace(t.world.a).filter(pk=revealed.pk).update(
            notice_status=NoticeStatus.SENT, notified_at=timezone.now()
        )
    frozen = affected_freeze(incident=t.incident, result=_find(t, Scope(ScopeKind.USER, user_id=t.manager.pk)))
    rows = _rows(t.incident)
    # The manager's export replaced Alice's people, except the one already told.
    assert set(rows) == t.debtors("searched", "konkan_other", "revealed")
    assert rows[t.debtor("revealed")].notice_status == NoticeStatus.SENT
    assert rows[t.debtor("revealed")].pk == revealed.pk
    assert (frozen.added, frozen.removed, frozen.kept_notified, frozen.total) == (2, 2, 1, 3)
    t.incident.refresh_from_db()
    assert t.incident.finder["kept_notified"] == 1 and len(t.incident.finder["questions"]) == 1


def test_adding_a_question_keeps_the_first_and_merges_categories(t):
    affected_freeze(incident=t.incident, result=_alice(t))
    statement = _find(t, Scope(ScopeKind.EXPORT, export_id=t.statement_event.pk))  # Alice's statement again
    manager = _find(t, Scope(ScopeKind.USER, user_id=t.manager.pk))
    affected_freeze(incident=t.incident, result=manager, add=True)
    frozen = affected_freeze(incident=t.incident, result=statement, add=True)
    assert frozen.removed == 0
    rows = _rows(t.incident)
    assert set(rows) == t.debtors("revealed", "noted", "paid", "searched", "konkan_other")
    assert rows[t.debtor("paid")].found_via == "export,activity"
    t.incident.refresh_from_db()
    assert [q["scope"]["kind"] for q in t.incident.finder["questions"]] == ["user", "user", "export"]
    assert t.incident.finder["total"] == 5


def test_the_clients_whose_people_were_found_get_their_duty(t):
    affected_freeze(incident=t.incident, result=_find(t, Scope(ScopeKind.USER, user_id=t.manager.pk)))
    with workspace_context(t.world.a):
        clients = set(
            Duty.objects.for_workspace(t.world.a)
            .filter(incident=t.incident, client__isnull=False)
            .values_list("client__reference", flat=True)
        )
    assert clients == {"KONKAN"}  # the export held only Konkan's debts


def test_an_answer_about_another_workspace_cannot_be_frozen(t):
    globex_incident = record(t.world.b, aware_at=timezone.now(), now=timezone.now())
    with pytest.raises(ValueError, match="another workspace"):
        affected_freeze(incident=globex_incident, result=_alice(t))
    assert not _rows(globex_incident)
