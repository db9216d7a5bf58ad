"""The alerts raised while the API answers (incidents/alert_hooks.py): an API key used
from a network it has never used, and many not-found answers to one key."""

from __future__ import annotations

import uuid

import pytest
from django.core import mail

from accounts.services import api_key_create
from incidents.models import ApiKeyNetwork
from kernel.tenancy import workspace_context
from tests.conftest import api
from tests.cross_tenant import assert_api_error
from tests.incidents.alerts_world import alerts, debts, thresholds

pytestmark = pytest.mark.django_db


def _call(secret: str, ip: str, path: str = "/api/v1/debts/") -> int:
    return api(secret).get(path, REMOTE_ADDR=ip).status_code


def test_a_keys_first_network_is_its_baseline_and_a_new_one_alerts_once(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert _call(world.key_a, "203.0.113.5") == 200
        assert _call(world.key_a, "203.0.113.99") == 200  # the same /24
        assert alerts(world.a) == []
        assert _call(world.key_a, "198.51.100.9") == 200
        assert _call(world.key_a, "198.51.100.10") == 200
    [alert] = alerts(world.a)
    assert (alert.kind, alert.count, alert.threshold) == ("new_network", 1, 1)
    assert alert.evidence["network"] == "198.51.100.0/24"
    assert alert.evidence["known_networks"] == ["203.0.113.0/24"]
    with workspace_context(world.a):
        key_id = alert.actor_api_key_id
        networks = set(ApiKeyNetwork.objects.for_workspace(world.a).values_list("network", flat=True))
    assert networks == {"203.0.113.0/24", "198.51.100.0/24"}
    assert key_id and alert.evidence["api_key_id"] == key_id
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]
    assert "198.51.100.0/24" in mail.outbox[0].body and "198.51.100.9" not in mail.outbox[0].body


def test_ipv6_networks_are_compared_by_their_slash_48(world):
    _call(world.key_a, "2001:db8:abcd:1::1")
    _call(world.key_a, "2001:db8:abcd:ffff::2")
    assert alerts(world.a) == []
    _call(world.key_a, "2001:db8:beef::1")
    [alert] = alerts(world.a)
    assert alert.evidence["network"] == "2001:db8:beef::/48"


def test_new_networks_are_recorded_without_alerts_when_the_workspace_turned_them_off(world):
    thresholds(world.a, new_network_alerts=False)
    _call(world.key_a, "203.0.113.5")
    _call(world.key_a, "198.51.100.9")
    assert alerts(world.a) == []
    with workspace_context(world.a):
        assert ApiKeyNetwork.objects.for_workspace(world.a).count() == 2


def test_each_key_has_its_own_networks_and_its_own_workspace(world):
    with workspace_context(world.a):
        second = api_key_create(workspace=world.a, name="Second integration").secret
    _call(world.key_a, "203.0.113.5")
    _call(second, "198.51.100.9")  # the second key's first network: its baseline
    _call(world.key_b, "203.0.113.5")
    _call(world.key_b, "192.0.2.1")  # globex's key moves: globex's alert
    assert alerts(world.a) == []
    assert [a.kind for a in alerts(world.b)] == ["new_network"]


def test_not_found_answers_to_one_key_alert_at_the_threshold(world, django_capture_on_commit_callbacks):
    thresholds(world.a, not_found_per_hour=3)
    [foreign] = debts(world.b, 1)  # globex's debt, probed for with acme's key
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            assert_api_error(api(world.key_a).get(f"/api/v1/debts/{foreign.pk}/", REMOTE_ADDR="203.0.113.5"), 404)
        assert alerts(world.a) == []
        assert_api_error(api(world.key_a).get(f"/api/v1/debts/{uuid.uuid4()}/", REMOTE_ADDR="203.0.113.5"), 404)
        [alert] = alerts(world.a)
        for _ in range(3):
            assert_api_error(api(world.key_a).get(f"/api/v1/debts/{foreign.pk}/", REMOTE_ADDR="203.0.113.5"), 404)
    [alert] = alerts(world.a)  # still one alert
    assert (alert.kind, alert.count, alert.threshold) == ("cross_tenant_404", 3, 3)
    assert alert.actor_api_key_id and alert.evidence["not_found"] == 3
    assert alert.evidence["networks"] == ["203.0.113.0/24"]
    assert str(foreign.pk) not in str(alert.evidence)
    assert alerts(world.b) == []  # the probed workspace is not told whose key it was
    assert len([m for m in mail.outbox if "Many not-found answers" in m.subject]) == 1


def test_answers_found_do_not_count(world):
    thresholds(world.a, not_found_per_hour=2)
    [own] = debts(world.a, 1)
    for _ in range(3):
        assert _call(world.key_a, "203.0.113.5", f"/api/v1/debts/{own.pk}/") == 200
    assert alerts(world.a) == []
