"""The register against the other workspace, beyond the route walker
(tests/kernel/tenancy/test_cross_tenant.py, which covers every incident route: 404 for
another workspace's member, for another workspace's reference or duty id, login for
the anonymous). Here: the same reference in both workspaces, a duty of another
incident, lists, exports, the dashboard, the reminders and the permission grant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.models import Duty
from incidents.reminders import duty_reminders_run, reminder_recipients
from kernel.tenancy import workspace_context
from tests.conftest import add_member, login
from tests.incidents.register_world import AWARE, duties, record, staff

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def test_the_same_reference_names_each_workspaces_own_incident(world):
    ours = record(world.a, title="Acme's stolen laptop")
    theirs = record(world.b, title="Globex's lost phone")
    assert ours.reference == theirs.reference  # numbered per workspace
    page = login(world.alice).get(f"/w/acme/incidents/{ours.reference}/").content.decode()
    assert "Acme&#x27;s stolen laptop" in page and "Globex" not in page.split("<main")[1]
    assert login(world.bob).get(f"/w/acme/incidents/{ours.reference}/").status_code == 404
    assert login(world.charlie).get(f"/w/acme/incidents/{ours.reference}/").status_code == 404


def test_a_duty_of_another_incident_or_workspace_is_404_and_untouched(world):
    first, second = record(world.a), record(world.a, title="Second")
    foreign = record(world.b)
    alice = login(world.alice)
    others = {
        "another incident's": duties(second)["PEOPLE"],
        "another workspace's": duties(foreign)["PEOPLE"],
    }
    for label, duty in others.items():
        base = f"/w/acme/incidents/{first.reference}/duties/{duty.pk}"
        decided = alice.post(f"{base}/decision/", {"decision": "not_required", "reason": "probe"})
        filed = alice.post(f"{base}/done/", {"filing_reference": "probe", "late_reason": "probe"})
        assert (decided.status_code, filed.status_code) == (404, 404), label
    for incident, workspace in ((second, world.a), (foreign, world.b)):
        with workspace_context(workspace):
            duty = Duty.objects.for_workspace(workspace).get(incident=incident, code="PEOPLE")
        assert (duty.decision, duty.done_at) == ("pending", None)


def test_lists_exports_and_dashboard_show_only_the_workspaces_own(world):
    now = timezone.now()
    record(world.b, title="Globex breach", aware_at=now - H, now=now)
    alice = login(world.alice)
    assert "Globex breach" not in alice.get("/w/acme/incidents/").content.decode()
    assert "Globex breach" not in alice.get("/w/acme/incidents/?q=Globex").content.decode()
    export = b"".join(alice.get("/w/acme/incidents/export.csv").streaming_content).decode()  # type: ignore[attr-defined]
    assert "Globex" not in export and export.count("\n") == 1  # the header only
    assert 'data-testid="breach-clocks"' not in alice.get("/w/acme/").content.decode()
    assert 'data-testid="breach-clocks"' in login(world.bob).get("/w/globex/").content.decode()


def test_reminders_stay_in_their_workspace(world, django_capture_on_commit_callbacks):
    staff(world)
    record(world.b)
    with workspace_context(world.a), django_capture_on_commit_callbacks(execute=True):
        sent = duty_reminders_run(workspace=world.a, now=AWARE + 71 * H)
    assert sum(sent.values()) == 0 and mail.outbox == []
    with workspace_context(world.b):
        assert reminder_recipients(workspace=world.b) == ["bob@example.com"]


def test_the_privacy_contacts_grant_does_not_cross_workspaces(world):
    people = staff(world)  # dpo@example.com is acme's privacy contact
    add_member(world.b, "dpo@example.com")  # and a plain agent at globex
    dpo = login(people.contact)
    assert dpo.get("/w/acme/incidents/").status_code == 200
    assert dpo.get("/w/globex/incidents/").status_code == 403
    with workspace_context(world.b):
        assert "dpo@example.com" not in reminder_recipients(workspace=world.b)
