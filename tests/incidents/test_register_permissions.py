"""Who runs the register: owners, admins and the privacy contact manage it; auditors read
it only (every write is 403 and changes nothing); other members do not see it. The
dashboard's breach clocks are shown to those who must act."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import can, granted_user_ids, register_permission_grant
from incidents.models import Incident, IncidentUpdate
from incidents.services import duty_done, incident_transition
from kernel.tenancy import workspace_context
from privacy_requests.desk_services import privacy_contact_save
from tests.conftest import add_member, login
from tests.incidents.register_world import duties, record, staff

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def _membership(world, user) -> Membership:
    with workspace_context(world.a):
        return Membership.objects.for_workspace(world.a).get(user=user)


def test_the_permission_matrix(world):
    people = staff(world)
    expected = {
        world.alice: (True, True),
        people.admin: (True, True),
        people.contact: (True, True),  # a manager, named the privacy contact
        people.auditor: (True, False),
        people.manager: (False, False),
        people.agent: (False, False),
        people.client_user: (False, False),  # a client's login never gains them
    }
    for user, (view, manage) in expected.items():
        with workspace_context(world.a):
            membership = _membership(world, user)
            assert (can(membership, "incidents.view"), can(membership, "incidents.manage")) == (view, manage), user


def test_the_grant_follows_the_privacy_contact(world):
    people = staff(world)
    with workspace_context(world.a):
        assert granted_user_ids(world.a.pk, "incidents.manage") == {people.contact.pk}
        privacy_contact_save(
            workspace=world.a,
            contact_user=people.manager,
            contact_name="Manager",
            contact_email="manager@example.com",
            contact_phone="",
            grievance_period_days=None,
        )
        assert can(_membership(world, people.manager), "incidents.manage")
        assert not can(_membership(world, people.contact), "incidents.view")
        # Not in another workspace, where the manager is a plain agent.
    add_member(world.b, "manager@example.com")
    with workspace_context(world.b):
        membership = Membership.objects.for_workspace(world.b).get(user=people.manager)
        assert not can(membership, "incidents.view")
    assert login(people.manager).get("/w/globex/incidents/").status_code == 403
    assert login(people.manager).get("/w/acme/incidents/").status_code == 200


def test_a_grant_names_known_permissions():
    with pytest.raises(KeyError):
        register_permission_grant("typo", perms=("incidents.veiw",), users=lambda workspace_id: [])


def test_members_without_the_permission_get_403_and_no_link(world):
    people = staff(world)
    incident = record(world.a)
    for user in (people.manager, people.agent, people.client_user):
        client = login(user)
        assert client.get("/w/acme/incidents/").status_code == 403
        assert client.get(f"/w/acme/incidents/{incident.reference}/").status_code == 403
    page = login(people.agent).get("/w/acme/debts/").content.decode()
    assert "/w/acme/incidents/" not in page
    for user in (world.alice, people.auditor, people.contact):
        page = login(user).get("/w/acme/debts/").content.decode()
        assert 'href="/w/acme/incidents/"' in page and ">Incidents</a>" in page


def test_auditors_read_only(world):
    people = staff(world)
    now = timezone.now()
    incident = record(world.a, aware_at=now - 80 * H, now=now)
    duty = duties(incident)["IN-DPB-REPORT"]
    auditor = login(people.auditor)
    register = auditor.get("/w/acme/incidents/").content.decode()
    assert incident.reference in register and "Record an incident" not in register
    page = auditor.get(f"/w/acme/incidents/{incident.reference}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-testid="duty"' in body
    for form in ('data-testid="decide"', 'data-testid="mark-done"', 'data-testid="status-form"', "Edit the facts"):
        assert form not in body
    assert auditor.get("/w/acme/incidents/export.csv").status_code == 200
    assert auditor.get("/w/acme/incidents/settings/").status_code == 200
    assert 'data-testid="target-form"' not in auditor.get("/w/acme/incidents/settings/").content.decode()
    assert auditor.get("/w/acme/incidents/new/").status_code == 403
    assert auditor.get(f"/w/acme/incidents/{incident.reference}/edit/").status_code == 403
    writes = {
        "/w/acme/incidents/new/": {"title": "T", "what_happened": "W", "aware_at": "2026-03-02T10:00"},
        "/w/acme/incidents/settings/": {"authority_target_hours": "12"},
        f"/w/acme/incidents/{incident.reference}/edit/": {
            "title": "T",
            "what_happened": "W",
            "aware_at": "2026-03-02T10:00",
        },
        f"/w/acme/incidents/{incident.reference}/status/": {"to": "confirmed"},
        f"/w/acme/incidents/{incident.reference}/updates/": {"text": "Auditor was here"},
        f"/w/acme/incidents/{incident.reference}/duties/{duty.pk}/decision/": {"decision": "notify", "reason": "x"},
        f"/w/acme/incidents/{incident.reference}/duties/{duty.pk}/done/": {"late_reason": "x"},
    }
    for url, data in writes.items():
        assert auditor.post(url, data).status_code == 403, url
    with workspace_context(world.a):
        assert Incident.objects.for_workspace(world.a).count() == 1
        assert Incident.objects.for_workspace(world.a).get().status == "suspected"
        assert IncidentUpdate.objects.for_workspace(world.a).count() == 1  # "created" only
    assert duties(incident)["IN-DPB-REPORT"].done_at is None and duties(incident)["IN-DPB-REPORT"].decision == "pending"


def test_the_privacy_contact_records_an_incident(world):
    people = staff(world)
    response = login(people.contact).post(
        "/w/acme/incidents/new/",
        {
            "title": "Misdirected email",
            "what_happened": "A statement went to the wrong address.",
            "aware_at": "2026-03-02T10:00",
        },
    )
    assert response.status_code == 302
    with workspace_context(world.a):
        assert Incident.objects.for_workspace(world.a).get().created_by == people.contact


# --- The dashboard's countdowns ---------------------------------------------------------------------


def test_the_dashboard_shows_the_clocks_to_those_who_must_act(world):
    people = staff(world)
    now = timezone.now()
    incident = record(world.a, aware_at=now - 2 * H, now=now, cert_in_listed=True)
    for user in (world.alice, people.admin, people.contact):
        body = login(user).get("/w/acme/").content.decode()
        assert 'data-testid="breach-clocks"' in body, user
        panel = body.split('data-testid="breach-clocks"')[1].split("</section>")[0]
        assert "4 duties to act on" in panel
        # The most urgent first: CERT-In's six hours.
        assert panel.index('data-code="CERT-IN"') < panel.index('data-code="IN-DPB-REPORT"')
        assert f"/w/acme/incidents/{incident.reference}/" in panel and 'data-state="due_soon"' in panel
    for user in (people.auditor, people.manager, people.agent):
        assert 'data-testid="breach-clocks"' not in login(user).get("/w/acme/").content.decode(), user


def test_the_dashboard_clocks_go_once_nothing_is_owed(world):
    incident = record(world.a)
    with workspace_context(world.a):
        for duty in duties(incident).values():
            duty_done(duty=duty, filing_reference="R", late_reason="Recorded afterwards for the test")
    other = record(world.a, title="Second")
    with workspace_context(world.a):
        incident_transition(incident=other, to="closed", reason="No breach after all")
    assert 'data-testid="breach-clocks"' not in login(world.alice).get("/w/acme/").content.decode()
