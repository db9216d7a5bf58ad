"""The incident page's notices section and its routes: start, live progress, the
message preview; who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from accounts.models import Client
from accounts.roles import Role
from incidents.notices import incident_notices_batch, incident_notices_start
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login
from tests.incidents.notices_world import breach, contact, decide_people, freeze_client, notices_of, person

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


@pytest.fixture
def ready(world):
    """Acme's incident with three people frozen (two emails, one without contact), the
    people's duty decided, the privacy contact set."""
    with workspace_context(world.a):
        client = Client.objects.for_workspace(world.a).get(reference="SAHYADRI")
    person(world.a, client, "P-1", email="p1@example.com")
    person(world.a, client, "P-2", email="p2@example.com")
    person(world.a, client, "P-3")
    incident = breach(world.a, aware_at=timezone.now() - H)
    freeze_client(incident, client)
    decide_people(incident)
    contact(world.a)
    return incident


def url(incident, tail=""):
    return f"/w/acme/incidents/{incident.reference}/{tail}"


def test_the_page_shows_the_preview_and_the_start_button(world, ready):
    page = login(world.alice).get(url(ready)).content.decode()
    section = page.split('data-testid="notices"')[1].split("</section>")[0]
    assert "Send the notices to 3 people" in section
    assert "A CSV of accounts was emailed to an outside address by mistake." in section  # the preview
    assert "[your account reference] ([creditor])" in section
    assert "Email (Hindi)" in section  # an Indian workspace previews Hindi too
    assert 'data-testid="notice-progress"' in section and 'data-running="false"' in section


def test_starting_from_the_page_sends_and_the_page_says_done(world, ready, django_capture_on_commit_callbacks):
    alice = login(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = alice.post(url(ready, "notices/start/"))
    assert response.status_code == 302 and response["Location"].endswith("#notices")
    assert sorted(m.to[0] for m in mail.outbox) == ["p1@example.com", "p2@example.com"]
    page = alice.get(response["Location"]).content.decode()
    assert "Notices are being sent: 3 people to tell." in page
    assert 'data-testid="notices-done"' in page and 'data-testid="notices-start"' not in page
    assert '<strong data-testid="notices-no-contact">1</strong>' in page


def test_a_refused_start_says_what_to_do_first(world, ready, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        decide_people(ready, "not_required")
    alice = login(world.alice)
    page = alice.get(url(ready)).content.decode()
    assert "Decide to notify the people affected" in page and 'data-testid="notices-start"' not in page
    response = alice.post(url(ready, "notices/start/"), follow=True)
    assert "Notices not started: Decide to notify the people affected" in response.content.decode()
    assert notices_of(ready) == {}


def test_progress_as_json_and_as_the_live_fragment(world, ready, django_capture_on_commit_callbacks):
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=False):
        incident_notices_start(incident=ready)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        incident_notices_batch(workspace=world.a, incident_id=ready.pk, size=2)
    alice = login(world.alice)
    data = alice.get(url(ready, "notices/progress/")).json()
    assert {k: data[k] for k in ("total", "handled", "pending", "running", "finished", "percent")} == {
        "total": 3,
        "handled": 2,
        "pending": 1,
        "running": True,
        "finished": False,
        "percent": 66,
    }
    assert data["sent"] + data["no_contact"] == 2 and data["delivery"] == {"sent": data["sent"]}
    fragment = alice.get(url(ready, "notices/progress/"), HTTP_HX_REQUEST="true").content.decode()
    assert fragment.startswith('<div id="notice-progress"') or 'id="notice-progress"' in fragment
    assert 'hx-trigger="every 2s"' in fragment  # still running: htmx keeps polling
    assert "1 to go" in fragment
    page = alice.get(url(ready)).content.decode()
    assert 'data-testid="notices-resume"' in page  # running: offered to resume after a stopped worker


def test_auditors_read_the_progress_and_cannot_start(world, ready):
    auditor = login(add_member(world.a, "auditor@example.com", Role.AUDITOR))
    page = auditor.get(url(ready)).content.decode()
    assert 'data-testid="notices"' in page and 'data-testid="notices-start"' not in page
    assert auditor.get(url(ready, "notices/progress/")).status_code == 200
    assert auditor.post(url(ready, "notices/start/")).status_code == 403
    agent = login(add_member(world.a, "agent@example.com", Role.AGENT))
    assert agent.get(url(ready, "notices/progress/")).status_code == 403
    assert notices_of(ready) == {}


def test_another_workspace_gets_404(world, ready):
    bob = login(world.bob)
    for tail in ("notices/start/", "notices/progress/"):
        assert bob.get(url(ready, tail)).status_code == 404
        assert bob.post(url(ready, tail)).status_code == 404
    assert login(world.alice).get(f"/w/globex/incidents/{ready.reference}/notices/progress/").status_code == 404
    assert notices_of(ready) == {}
