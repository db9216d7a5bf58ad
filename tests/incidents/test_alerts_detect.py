"""The windowed detections (incidents/alerts.py): bulk reveals, bulk exports and failed
sign-ins, each at its threshold and not below, one alert per burst, each workspace
counting only its own members' activity; the beat task that runs them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.utils import timezone

from collectpro.celery import app as celery_app
from incidents.alert_tasks import security_alerts_detect_all
from incidents.alerts import Burst, alert_raise, network_of
from incidents.models import AlertKind
from kernel.tenancy import workspace_context
from tests.conftest import add_member
from tests.incidents.alerts_world import alerts, debts, detect, export, failed_sign_in, reveal, thresholds

pytestmark = pytest.mark.django_db


def test_networks_are_kept_as_a_slash_24_or_a_slash_48():
    assert network_of("203.0.113.77") == "203.0.113.0/24"
    assert network_of("2001:db8:abcd:12::1") == "2001:db8:abcd::/48"
    assert network_of("not an address") is None and network_of(None) is None


def test_bulk_reveal_alerts_at_its_threshold_and_not_below(world):
    thresholds(world.a, reveals_per_hour=3)
    people = [d.debtor for d in debts(world.a, 3)]
    reveal(world.a, world.alice, people[:2])
    assert detect(world.a)[AlertKind.BULK_REVEAL] == 0
    assert alerts(world.a) == []

    reveal(world.a, world.alice, people[2:])
    assert detect(world.a)[AlertKind.BULK_REVEAL] == 1
    [alert] = alerts(world.a)
    assert (alert.kind, alert.actor_user_id, alert.count, alert.threshold) == ("bulk_reveal", world.alice.pk, 3, 3)
    assert sorted(alert.evidence["subjects"]) == sorted(f"debtors.debtor:{p.pk}" for p in people)
    assert alert.evidence["networks"] == ["203.0.113.0/24"]
    # Ids and counts only: no name, email or full address of anyone.
    text = json.dumps(alert.evidence)
    assert "Secret Name" not in text and "people.example" not in text and "203.0.113.7" not in text


def test_seeing_the_same_person_again_and_again_is_not_a_bulk_reveal(world):
    thresholds(world.a, reveals_per_hour=3)
    [debt] = debts(world.a, 1)
    reveal(world.a, world.alice, [debt.debtor] * 5)
    detect(world.a)
    assert alerts(world.a) == []


def test_a_continuing_burst_stays_one_alert_and_the_owner_is_emailed_once(world, django_capture_on_commit_callbacks):
    thresholds(world.a, reveals_per_hour=3)
    people = [d.debtor for d in debts(world.a, 5)]
    reveal(world.a, world.alice, people[:3])
    with django_capture_on_commit_callbacks(execute=True):
        detect(world.a)
        reveal(world.a, world.alice, people[3:], ip="198.51.100.20")
        assert detect(world.a)[AlertKind.BULK_REVEAL] == 0
        assert detect(world.a, now=timezone.now() + timedelta(minutes=5))[AlertKind.BULK_REVEAL] == 0  # next run
    [alert] = alerts(world.a)
    assert alert.count == 5  # the peak of the burst
    assert set(alert.evidence["networks"]) == {"203.0.113.0/24", "198.51.100.0/24"}
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert "Unusual bulk reveal of personal data" in mail.outbox[0].subject
    assert f"/w/acme/incidents/alerts/{alert.pk}/" in mail.outbox[0].body
    assert "Secret Name" not in mail.outbox[0].body


def test_activity_older_than_the_window_does_not_count(world):
    thresholds(world.a, reveals_per_hour=3)
    reveal(world.a, world.alice, [d.debtor for d in debts(world.a, 3)])
    detect(world.a, now=timezone.now() + timedelta(hours=1, minutes=1))
    assert alerts(world.a) == []


def test_another_workspaces_reveals_do_not_count(world):
    thresholds(world.a, reveals_per_hour=3)
    thresholds(world.b, reveals_per_hour=3)
    reveal(world.b, world.bob, [d.debtor for d in debts(world.b, 3)])
    detect(world.a)
    detect(world.b)
    assert alerts(world.a) == []
    assert [(a.kind, a.actor_user_id) for a in alerts(world.b)] == [("bulk_reveal", world.bob.pk)]


def test_bulk_export_by_the_number_of_exports(world):
    thresholds(world.a, exports_per_day=3, export_rows_per_day=1000)
    export(world.a, world.alice, rows=10)
    export(world.a, world.alice, rows=10)
    detect(world.a)
    assert alerts(world.a) == []
    export(world.a, world.alice, rows=10)
    detect(world.a)
    [alert] = alerts(world.a)
    assert (alert.kind, alert.count, alert.threshold) == ("bulk_export", 3, 3)
    assert alert.evidence["limit"] == "exports" and alert.evidence["rows"] == 30
    assert alert.evidence["actions"] == ["debts.exported"] and len(alert.evidence["audit_event_ids"]) == 3


def test_bulk_export_by_the_rows_exported(world):
    agent = add_member(world.a, "agent@example.com")
    thresholds(world.a, exports_per_day=10, export_rows_per_day=100)
    export(world.a, world.alice, rows=99)
    export(world.a, agent, rows=60)
    detect(world.a)
    assert alerts(world.a) == []
    export(world.a, agent, rows=40)
    detect(world.a)
    [alert] = alerts(world.a)
    assert (alert.actor_user_id, alert.count, alert.threshold, alert.evidence["limit"]) == (agent.pk, 100, 100, "rows")


def test_a_day_of_exports_is_counted_but_not_yesterdays(world):
    thresholds(world.a, exports_per_day=2)
    export(world.a, world.alice, rows=1)
    export(world.a, world.alice, rows=1)
    detect(world.a, now=timezone.now() + timedelta(hours=24, minutes=1))
    assert alerts(world.a) == []
    detect(world.a, now=timezone.now() + timedelta(hours=23))
    assert len(alerts(world.a)) == 1


def test_failed_sign_ins_for_one_member_alert_at_the_threshold(world):
    thresholds(world.a, failed_logins_per_15_minutes=3)
    # Each from another network, so only the member's count reaches the threshold.
    assert failed_sign_in("alice@example.com", "10.0.1.1") == 200
    failed_sign_in("alice@example.com", "10.0.2.1")
    detect(world.a)
    assert alerts(world.a) == []
    failed_sign_in("alice@example.com", "10.0.3.1")
    detect(world.a)
    [alert] = alerts(world.a)
    assert (alert.kind, alert.actor_user_id, alert.count, alert.threshold) == ("failed_logins", world.alice.pk, 3, 3)
    assert sorted(alert.evidence["networks"]) == ["10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24"]
    assert alerts(world.b) == []  # bob's workspace: alice is no member of it


def test_failed_sign_ins_from_one_network_against_several_members(world):
    thresholds(world.a, failed_logins_per_15_minutes=3)
    others = [add_member(world.a, f"member{i}@example.com") for i in range(2)]
    for n, user in enumerate([world.alice, *others]):
        failed_sign_in(user.email, f"198.51.100.{n + 10}")
    detect(world.a)
    [alert] = alerts(world.a)
    assert (alert.kind, alert.actor_user_id, alert.count) == ("failed_logins", None, 3)
    assert alert.evidence["network"] == "198.51.100.0/24"
    assert sorted(alert.evidence["user_ids"]) == sorted(u.pk for u in [world.alice, *others])


def test_failed_sign_ins_of_unknown_accounts_and_other_workspaces_members_do_not_count(world):
    thresholds(world.a, failed_logins_per_15_minutes=2)
    thresholds(world.b, failed_logins_per_15_minutes=2)
    for ip in ("10.9.0.1", "10.9.1.1"):
        failed_sign_in("nobody@example.com", ip)
        failed_sign_in("bob@example.com", ip)
    detect(world.a)
    detect(world.b)
    assert alerts(world.a) == []
    assert [(a.kind, a.actor_user_id) for a in alerts(world.b)] == [("failed_logins", world.bob.pk)]


def test_bursts_that_share_no_events_are_separate_alerts(world):
    """The rule behind "one alert per burst", on the raising service: a burst whose
    first event comes after an alert's last is a new alert; one that overlaps it extends it."""
    now = timezone.now()
    window = timedelta(hours=1)
    with workspace_context(world.a):

        def burst(start_minutes: int, end_minutes: int, count: int) -> Burst:
            return Burst(
                f"user:{world.alice.pk}",
                count=count,
                first_at=now + timedelta(minutes=start_minutes),
                last_at=now + timedelta(minutes=end_minutes),
                actor_user_id=world.alice.pk,
            )

        first, new = alert_raise(
            workspace=world.a, kind="bulk_reveal", burst=burst(0, 10, 50), threshold=50, now=now, window=window
        )
        assert new
        same, new = alert_raise(
            workspace=world.a, kind="bulk_reveal", burst=burst(5, 30, 70), threshold=50, now=now, window=window
        )
        assert (same.pk, new, same.count, same.window_end) == (first.pk, False, 70, now + timedelta(minutes=30))
        later, new = alert_raise(
            workspace=world.a, kind="bulk_reveal", burst=burst(31, 40, 50), threshold=50, now=now, window=window
        )
        assert new and later.pk != first.pk
    assert len(alerts(world.a)) == 2


def test_the_beat_runs_the_detections_in_every_workspace(world):
    entry = settings.CELERY_BEAT_SCHEDULE["security-alerts"]
    assert entry["task"] in celery_app.tasks
    thresholds(world.a, exports_per_day=1)
    thresholds(world.b, exports_per_day=1)
    export(world.a, world.alice, rows=5)
    export(world.b, world.bob, rows=5)
    assert security_alerts_detect_all() >= 2
    assert [a.actor_user_id for a in alerts(world.a)] == [world.alice.pk]
    assert [a.actor_user_id for a in alerts(world.b)] == [world.bob.pk]
