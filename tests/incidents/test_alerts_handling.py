"""Handling an alert (incidents/alert_handling.py): dismissed only with a reason, turned
into an incident with its evidence, the owners emailed once, the thresholds checked;
each audited."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.roles import Role
from audit import actions
from audit.models import AuditEvent
from incidents.alerts import alert_dismiss, alert_thresholds_save, alert_to_incident
from incidents.models import Duty, IncidentUpdate
from incidents.services import thresholds_for
from kernel.tenancy import workspace_context
from tests.conftest import add_member
from tests.incidents.alerts_world import alerts, debts, detect, export, reveal, thresholds

pytestmark = pytest.mark.django_db


def _reveal_burst(world, n: int = 3):
    thresholds(world.a, reveals_per_hour=n)
    people = [d.debtor for d in debts(world.a, n)]
    reveal(world.a, world.alice, people)
    detect(world.a)
    [alert] = alerts(world.a)
    return alert, people


def _events(workspace, action):
    with workspace_context(workspace):
        return list(AuditEvent.objects.filter(action=action))


def test_an_alert_is_dismissed_only_with_a_reason(world):
    alert, _people = _reveal_burst(world)
    with workspace_context(world.a):
        with pytest.raises(ValidationError) as refused:
            alert_dismiss(alert=alert, reason="   ", actor=world.alice)
        assert "reason" in refused.value.message_dict
        alert.refresh_from_db()
        assert alert.status == "open"
        alert_dismiss(
            alert=alert, reason="Month-end review of the portfolio, agreed with the client.", actor=world.alice
        )
        alert.refresh_from_db()
        assert (alert.status, alert.handled_by_id) == ("dismissed", world.alice.pk)
        assert alert.dismissed_reason == "Month-end review of the portfolio, agreed with the client."
        with pytest.raises(ValidationError):
            alert_dismiss(alert=alert, reason="again", actor=world.alice)
    [event] = _events(world.a, actions.ALERT_DISMISSED)
    assert (event.object_id, event.actor_user_id, event.metadata) == (
        str(alert.pk),
        world.alice.pk,
        {"kind": "bulk_reveal"},
    )


def test_a_dismissed_burst_raises_nothing_more_while_it_lasts(world):
    alert, _people = _reveal_burst(world)
    with workspace_context(world.a):
        alert_dismiss(alert=alert, reason="Known and authorised.", actor=world.alice)
    reveal(world.a, world.alice, [d.debtor for d in debts(world.a, 2, prefix="Q")])
    detect(world.a)
    assert [a.status for a in alerts(world.a)] == ["dismissed"]


def test_turning_an_alert_into_an_incident_carries_its_evidence(world):
    alert, people = _reveal_burst(world)
    now = timezone.now()
    with workspace_context(world.a):
        incident = alert_to_incident(alert=alert, actor=world.alice, now=now)
        alert.refresh_from_db()
        history = list(IncidentUpdate.objects.for_workspace(world.a).filter(incident=incident).order_by("at"))
        duties = Duty.objects.for_workspace(world.a).filter(incident=incident).count()
    assert (alert.status, alert.incident_id, alert.handled_by_id) == ("incident", incident.pk, world.alice.pk)
    assert incident.status == "suspected" and incident.aware_at == now
    assert (incident.occurred_at, incident.occurred_until) == (alert.window_start, alert.window_end)
    assert "bulk reveal" in incident.what_happened and f"user id {world.alice.pk}" in incident.what_happened
    assert "3 counted against a threshold of 3" in incident.what_happened
    [phase] = [u for u in history if u.kind == "phase"]
    assert all(str(p.pk) in phase.text for p in people)
    assert "Secret Name" not in phase.text + incident.what_happened
    assert duties > 0  # its clocks run from now
    [event] = _events(world.a, actions.ALERT_TO_INCIDENT)
    assert event.metadata["reference"] == incident.reference
    assert _events(world.a, actions.INCIDENT_CREATED)
    with workspace_context(world.a), pytest.raises(ValidationError):
        alert_to_incident(alert=alert, actor=world.alice)


def test_every_owner_is_emailed_once_per_alert_and_no_one_else(world, django_capture_on_commit_callbacks):
    add_member(world.a, "co-owner@example.com", Role.OWNER)
    add_member(world.a, "admin@example.com", Role.ADMIN)
    add_member(world.a, "auditor@example.com", Role.AUDITOR)
    thresholds(world.a, exports_per_day=1)
    export(world.a, world.alice, rows=5)
    with django_capture_on_commit_callbacks(execute=True):
        detect(world.a)
        export(world.a, world.alice, rows=5)
        detect(world.a)
        detect(world.a)
    assert len(alerts(world.a)) == 1
    assert [sorted(m.to) for m in mail.outbox] == [["alice@example.com", "co-owner@example.com"]]
    [raised] = _events(world.a, actions.ALERT_RAISED)
    assert (raised.metadata["kind"], raised.metadata["recipients"]) == ("bulk_export", 2)


def test_a_rolled_back_detection_emails_no_one(world, django_capture_on_commit_callbacks):
    thresholds(world.a, exports_per_day=1)
    export(world.a, world.alice, rows=5)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        detect(world.a)
    assert len(callbacks) == 1 and mail.outbox == []  # queued for the commit, not sent before it


def test_thresholds_are_whole_numbers_from_one_and_their_change_is_audited(world):
    with workspace_context(world.a):
        with pytest.raises(ValidationError) as refused:
            alert_thresholds_save(workspace=world.a, values={"reveals_per_hour": 0, "exports_per_day": "5"})
        assert set(refused.value.message_dict) == {"reveals_per_hour", "exports_per_day"}
        saved = alert_thresholds_save(
            workspace=world.a, values={"reveals_per_hour": 80, "new_network_alerts": False}, actor=world.alice
        )
        assert (saved.reveals_per_hour, saved.new_network_alerts, saved.exports_per_day) == (80, False, 5)
    [event] = _events(world.a, actions.WORKSPACE_SETTINGS_CHANGED)
    assert event.metadata["setting"] == "security_alert_thresholds"
    assert event.metadata["fields"] == ["reveals_per_hour", "new_network_alerts"]
    with workspace_context(world.b):
        assert thresholds_for(world.b).reveals_per_hour == 50  # globex keeps the defaults
