"""The security alerts' pages (incidents/alert_views.py): the list with its evidence and
filters, dismissing with a reason, turning an alert into an incident, the thresholds,
the dashboard's count; 404 for another workspace, read-only for auditors."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.roles import Role
from tests.conftest import add_member, login
from tests.incidents.alerts_world import alerts, debts, detect, export, reveal, thresholds

pytestmark = pytest.mark.django_db

ALERTS = "/w/acme/incidents/alerts/"


def _alert(world):
    thresholds(world.a, reveals_per_hour=2)
    people = [d.debtor for d in debts(world.a, 2)]
    reveal(world.a, world.alice, people)
    detect(world.a)
    [alert] = alerts(world.a)
    return alert, people


def test_the_list_shows_each_open_alert_with_its_evidence_and_who(world):
    alert, people = _alert(world)
    page = login(world.alice).get(ALERTS)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-alert="{alert.pk}"' in html and "Unusual bulk reveal of personal data" in html
    assert "alice@example.com (Owner)" in html  # whom it is about, named for the owner
    assert all(str(p.pk) in html for p in people)  # the evidence: ids
    assert "203.0.113.0/24" in html
    assert "Secret Name" not in html
    assert 'data-testid="alert-dismiss"' in html and 'data-testid="alert-to-incident"' in html
    assert 'data-testid="alerts-empty"' in login(world.alice).get(ALERTS + "?status=dismissed").content.decode()


def test_dismissing_needs_a_reason_then_the_alert_moves_to_dismissed(world):
    alert, _people = _alert(world)
    alice = login(world.alice)
    refused = alice.post(f"{ALERTS}{alert.pk}/dismiss/", {"reason": ""})
    assert refused.status_code == 400
    assert 'data-field="reason"' in refused.content.decode()
    assert alerts(world.a)[0].status == "open"

    done = alice.post(f"{ALERTS}{alert.pk}/dismiss/", {"reason": "A manager checking the new hires' work."})
    assert done.status_code == 302 and done["Location"] == ALERTS
    assert alerts(world.a)[0].status == "dismissed"
    assert f'data-alert="{alert.pk}"' not in alice.get(ALERTS).content.decode()
    dismissed = alice.get(ALERTS + "?status=dismissed").content.decode()
    assert "A manager checking the new hires&#x27; work." in dismissed
    assert 'data-testid="alert-dismiss"' not in dismissed


def test_turn_into_an_incident_opens_the_incident_with_the_evidence(world):
    alert, people = _alert(world)
    alice = login(world.alice)
    response = alice.post(f"{ALERTS}{alert.pk}/incident/")
    assert response.status_code == 302
    [alert] = alerts(world.a)
    assert alert.status == "incident"
    assert response["Location"] == f"/w/acme/incidents/{alert.incident.reference}/"
    page = alice.get(response["Location"]).content.decode()
    assert "Security alert: Unusual bulk reveal of personal data" in page
    assert all(str(p.pk) in page for p in people)
    listed = alice.get(ALERTS + "?status=incident").content.decode()
    assert alert.incident.reference in listed and 'data-testid="alert-to-incident"' not in listed
    again = alice.post(f"{ALERTS}{alert.pk}/incident/")
    assert again.status_code == 400


def test_another_workspace_gets_404_for_every_alert_page(world):
    alert, _people = _alert(world)
    bob = login(world.bob)
    for url in (ALERTS, f"{ALERTS}{alert.pk}/", f"{ALERTS}settings/"):
        assert bob.get(url).status_code == 404, url
    for url in (f"{ALERTS}{alert.pk}/dismiss/", f"{ALERTS}{alert.pk}/incident/", f"{ALERTS}settings/"):
        assert bob.post(url, {"reason": "probe", "reveals_per_hour": 1}).status_code == 404, url
    # acme's alert id in bob's own workspace: 404 as if it did not exist
    own = "/w/globex/incidents/alerts/"
    assert bob.get(f"{own}{alert.pk}/").status_code == 404
    assert bob.post(f"{own}{alert.pk}/dismiss/", {"reason": "probe"}).status_code == 404
    assert bob.post(f"{own}{alert.pk}/incident/").status_code == 404
    assert login(world.charlie).get(ALERTS).status_code == 404
    assert [a.status for a in alerts(world.a)] == ["open"]


def test_auditors_read_the_alerts_and_thresholds_but_change_nothing(world):
    alert, _people = _alert(world)
    auditor = login(add_member(world.a, "auditor@example.com", Role.AUDITOR))
    html = auditor.get(ALERTS).content.decode()
    assert f'data-alert="{alert.pk}"' in html
    assert 'data-testid="alert-dismiss"' not in html and 'data-testid="alert-to-incident"' not in html
    assert auditor.get(f"{ALERTS}{alert.pk}/").status_code == 200
    assert auditor.post(f"{ALERTS}{alert.pk}/dismiss/", {"reason": "I think it is fine"}).status_code == 403
    assert auditor.post(f"{ALERTS}{alert.pk}/incident/").status_code == 403
    settings_page = auditor.get(f"{ALERTS}settings/").content.decode()
    assert 'data-testid="thresholds"' in settings_page and 'data-testid="thresholds-form"' not in settings_page
    assert auditor.post(f"{ALERTS}settings/", {"reveals_per_hour": 1}).status_code == 403
    assert alerts(world.a)[0].status == "open"


def test_agents_do_not_see_the_alerts(world):
    _alert(world)
    agent = login(add_member(world.a, "agent@example.com", Role.AGENT))
    assert agent.get(ALERTS).status_code == 403
    assert 'data-testid="security-alerts"' not in agent.get("/w/acme/").content.decode()


def test_owners_set_the_thresholds(world):
    alice = login(world.alice)
    form = alice.get(f"{ALERTS}settings/").content.decode()
    assert 'name="reveals_per_hour"' in form and 'value="50"' in form
    values = {
        "reveals_per_hour": "120",
        "exports_per_day": "4",
        "export_rows_per_day": "20000",
        "failed_logins_per_15_minutes": "10",
        "not_found_per_hour": "40",
    }
    refused = alice.post(f"{ALERTS}settings/", {**values, "reveals_per_hour": "0"})
    assert refused.status_code == 400 and 'data-field="reveals_per_hour"' in refused.content.decode()
    saved = alice.post(f"{ALERTS}settings/", values)  # new_network_alerts unticked
    assert saved.status_code == 302
    page = alice.get(f"{ALERTS}settings/").content.decode()
    assert 'value="120"' in page and 'value="20000"' in page
    export(world.a, world.alice, rows=1)
    detect(world.a)
    assert alerts(world.a) == []  # 4 exports a day now


def test_the_dashboard_counts_open_alerts_for_who_handles_them(world):
    alert, _people = _alert(world)
    dashboard = login(world.alice).get("/w/acme/").content.decode()
    assert 'data-testid="security-alerts"' in dashboard and "1 open security alert" in dashboard
    assert 'data-testid="security-alerts"' not in login(world.bob).get("/w/globex/").content.decode()
    auditor = login(add_member(world.a, "auditor@example.com", Role.AUDITOR))
    assert 'data-testid="security-alerts"' not in auditor.get("/w/acme/").content.decode()
    login(world.alice).post(f"{ALERTS}{alert.pk}/dismiss/", {"reason": "Checked with the member."})
    assert 'data-testid="security-alerts"' not in login(world.alice).get("/w/acme/").content.decode()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_lists_queries_do_not_grow_with_its_alerts(world):
    thresholds(world.a, exports_per_day=1)
    alice = login(world.alice)
    export(world.a, world.alice, rows=1)
    detect(world.a)
    _queries(alice, ALERTS)  # the session's first request does more
    one = _queries(alice, ALERTS)
    for email in ("m1@example.com", "m2@example.com", "m3@example.com"):
        export(world.a, add_member(world.a, email, Role.MANAGER), rows=1)
    detect(world.a)
    assert len(alerts(world.a)) == 4
    assert _queries(alice, ALERTS) == one
