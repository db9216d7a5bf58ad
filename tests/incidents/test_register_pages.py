"""The register's list, filters, search, pagination, CSV export and empty state, the
form that records an incident (in the workspace's time zone) and the settings page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from incidents.forms import IncidentForm
from incidents.models import Incident
from incidents.services import duty_done, incident_transition
from kernel.tenancy import workspace_context
from tests.conftest import login
from tests.incidents.register_world import AWARE, duties, record

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def _body(response) -> str:
    if response.streaming:
        return b"".join(response.streaming_content).decode()
    return response.content.decode()


# --- The list ----------------------------------------------------------------------------------------


def test_an_empty_register_says_what_to_record_and_offers_the_form(world):
    response = login(world.alice).get("/w/acme/incidents/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'data-testid="register-empty"' in body and "No incidents recorded" in body
    assert "even if it turns out nobody needs to be told" in body
    assert 'href="/w/acme/incidents/new/"' in body


def test_the_register_lists_every_incident_with_its_next_deadline(world):
    now = timezone.now()
    late = record(world.a, title="Stolen laptop", aware_at=now - 80 * H, now=now)  # the 72-hour report is late
    soon = record(world.a, title="Phishing", aware_at=now - 2 * H, now=now, cert_in_listed=True)  # CERT-In: 4 h left
    closed = record(world.a, title="Wrong recipient", aware_at=now - 200 * H, now=now - 199 * H)
    with workspace_context(world.a):
        incident_transition(incident=closed, to="closed", reason="Notified and contained")
    body = login(world.alice).get("/w/acme/incidents/").content.decode()
    for incident in (late, soon, closed):
        assert f'data-reference="{incident.reference}"' in body  # notified or not, open or closed
    assert "<strong>2</strong> open incidents of 3" in body
    row = body.split(f'data-reference="{soon.reference}"')[1].split("</tr>")[0]
    assert 'data-state="due_soon"' in body.split(f'data-reference="{soon.reference}"')[1][:40]
    assert "CERT-In: cyber incident report" in row and "in law" in row
    late_row = body.split(f'data-reference="{late.reference}"')[1].split("</tr>")[0]
    assert 'data-state="late"' in late_row and "late" in late_row
    # Times in the workspace's zone, labelled.
    assert "Aware at (Asia/Kolkata)" in body
    local = late.aware_at.astimezone(timezone.get_fixed_timezone(330))
    assert f"{local:%Y-%m-%d %H:%M}" in body


def test_filters_status_late_and_search(world):
    now = timezone.now()
    late = record(world.a, title="Stolen laptop", aware_at=now - 80 * H, now=now)
    fresh = record(world.a, title="Phishing mailbox", aware_at=now - 2 * H, now=now)
    closed = record(world.a, title="Wrong recipient", aware_at=now - 3 * H, now=now)
    with workspace_context(world.a):
        incident_transition(incident=closed, to="closed", reason="No breach after all")
    alice = login(world.alice)

    def listed(query: str) -> set[str]:
        body = alice.get(f"/w/acme/incidents/?{query}").content.decode()
        return {i.reference for i in (late, fresh, closed) if f'data-reference="{i.reference}"' in body}

    assert listed("status=open") == {late.reference, fresh.reference}
    assert listed("status=closed") == {closed.reference}
    assert listed("status=suspected") == {late.reference, fresh.reference}
    assert listed("late=on") == {late.reference}
    assert listed("q=phishing") == {fresh.reference}
    assert listed(f"q={late.reference}") == {late.reference}
    assert listed("status=nonsense") == {late.reference, fresh.reference, closed.reference}
    body = alice.get("/w/acme/incidents/?q=nothing-like-it").content.decode()
    assert "No incident matches" in body


def test_a_duty_filed_late_keeps_the_incident_in_the_late_filter(world):
    incident = record(world.a, cert_in_listed=True)
    with workspace_context(world.a):
        for duty in duties(incident).values():
            duty_done(
                duty=duty, filing_reference="X", late_reason="Filed late: the team was offline", now=AWARE + 100 * H
            )
    body = login(world.alice).get("/w/acme/incidents/?late=on").content.decode()
    assert f'data-reference="{incident.reference}"' in body


def test_pagination_fifty_a_page_and_constant_queries(world):
    now = timezone.now()
    alice = login(world.alice)
    for n in range(3):
        record(world.a, title=f"Incident {n}", aware_at=now - (n + 1) * H, now=now)

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert alice.get(url).status_code == 200
        return len(ctx.captured_queries)

    queries("/w/acme/incidents/")  # warm: the first request of a session loads more
    few = queries("/w/acme/incidents/")
    for n in range(3, 51):
        record(world.a, title=f"Incident {n}", aware_at=now - (n + 1) * H, now=now)
    assert queries("/w/acme/incidents/") == few
    first = alice.get("/w/acme/incidents/").content.decode()
    assert first.count("data-reference=") == 50 and 'rel="next"' in first
    second = alice.get("/w/acme/incidents/?page=2").content.decode()
    assert second.count("data-reference=") == 1 and 'rel="prev"' in second and "Incident 50" in second


# --- CSV export ----------------------------------------------------------------------------------


def test_csv_export_is_audited_and_in_the_workspaces_zone(world):
    incident = record(world.a, title="Stolen laptop", cert_in_listed=True, approx_subjects=120)
    record(world.b, title="Globex incident")
    response = login(world.alice).get("/w/acme/incidents/export.csv?status=all")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert len(rows) == 1
    row = rows[0]
    assert row["reference"] == incident.reference and row["title"] == "Stolen laptop"
    assert row["aware_at"] == "2026-03-02T15:00+05:30"  # 09:30 UTC in Kolkata
    assert row["next_duty"] == "CERT-In: cyber incident report" and row["next_deadline"] == "2026-03-02T21:00+05:30"
    assert row["next_deadline_fixed_in_law"] == "yes" and row["approx_subjects"] == "120"
    assert row["duties"] == "4" and row["duties_settled"] == "0"
    with workspace_context(world.a):
        event = AuditEvent.objects.get(action=actions.INCIDENTS_EXPORTED)
    assert event.metadata == {"rows": 1, "filters": ["status"]}
    assert event.actor_user_id == world.alice.pk


# --- Recording an incident ---------------------------------------------------------------------


def test_the_form_reads_and_shows_times_in_the_workspaces_zone(world):
    form = IncidentForm(workspace=world.a, now=AWARE)
    # 09:30 UTC is 15:00 in Kolkata: the default awareness is now, where the workspace is.
    assert form["aware_at"].value() == "2026-03-02T15:00"
    assert form.fields["aware_at"].label == "When the workspace became aware (in Asia/Kolkata time)"
    bound = IncidentForm({"title": "T", "what_happened": "W", "aware_at": "2026-03-02T15:00"}, workspace=world.b)
    assert bound.is_valid(), bound.errors
    # Globex is in New York: 15:00 there is 20:00 UTC (EST).
    assert bound.cleaned_data["aware_at"] == datetime(2026, 3, 2, 20, 0, tzinfo=UTC)


def test_recording_an_incident_from_the_form(world):
    alice = login(world.alice)
    page = alice.get("/w/acme/incidents/new/").content.decode()
    assert "No person&#x27;s details here" in page and "(in Asia/Kolkata time)" in page
    assert 'type="datetime-local"' in page and 'value="government_id"' in page
    response = alice.post(
        "/w/acme/incidents/new/",
        {
            "title": "Stolen laptop",
            "what_happened": "A laptop with an export of the queue was stolen from a car.",
            "occurred_at": "2026-03-01T22:00",
            "aware_at": "2026-03-02T15:00",
            "data_categories": ["identity", "contact", "financial"],
            "subject_kinds": ["debtors"],
            "approx_subjects": "1200",
            "approx_records": "1500",
            "likely_consequences": "Phishing aimed at the debtors.",
            "measures_taken": "Remote wipe requested; passwords rotated.",
            "measures_proposed": "Full-disk encryption on every laptop.",
            "cert_in_listed": "on",
        },
    )
    with workspace_context(world.a):
        incident = Incident.objects.for_workspace(world.a).get()
    assert response.status_code == 302 and response["Location"] == f"/w/acme/incidents/{incident.reference}/"
    assert incident.aware_at == AWARE and incident.occurred_at == datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert incident.data_categories == ["identity", "contact", "financial"] and incident.subject_kinds == ["debtors"]
    assert (incident.approx_subjects, incident.approx_records, incident.cert_in_listed) == (1200, 1500, True)
    assert incident.status == "suspected" and incident.created_by == world.alice
    assert set(duties(incident)) == {"IN-DPB", "IN-DPB-REPORT", "CERT-IN", "PEOPLE"}
    with workspace_context(world.a):
        assert AuditEvent.objects.filter(action=actions.INCIDENT_CREATED, object_id=str(incident.pk)).exists()
    page = alice.get(response["Location"]).content.decode()
    assert "Mon 2 Mar 2026, 15:00" in page and "(Asia/Kolkata)" in page


def test_a_bad_form_records_nothing_and_says_why(world):
    alice = login(world.alice)
    future = (timezone.now() + 3 * H).astimezone(timezone.get_fixed_timezone(330)).strftime("%Y-%m-%dT%H:%M")
    response = alice.post("/w/acme/incidents/new/", {"title": "Lost phone", "what_happened": "", "aware_at": future})
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-field="what_happened"' in body
    response = alice.post(
        "/w/acme/incidents/new/", {"title": "Lost phone", "what_happened": "Lost", "aware_at": future}
    )
    assert response.status_code == 400 and "Awareness cannot be in the future." in response.content.decode()
    with workspace_context(world.a):
        assert not Incident.objects.for_workspace(world.a).exists()


# --- Settings ----------------------------------------------------------------------------------------


def test_settings_show_the_profiles_clocks_and_save_the_target(world):
    alice = login(world.alice)
    body = alice.get("/w/acme/incidents/settings/").content.decode()
    assert 'data-code="CERT-IN"' in body and "6 hours (in law)" in body
    assert "no fixed hours: the workspace's target, 72 hours" in body
    assert "CERT-In directions of 28 Apr 2022" in body
    response = alice.post("/w/acme/incidents/settings/", {"authority_target_hours": "0"})
    assert response.status_code == 400
    response = alice.post("/w/acme/incidents/settings/", {"authority_target_hours": "36"})
    assert response.status_code == 302
    assert "the workspace's target, 36 hours" in alice.get("/w/acme/incidents/settings/").content.decode()
    with workspace_context(world.a):
        event = AuditEvent.objects.get(action=actions.WORKSPACE_SETTINGS_CHANGED, metadata__to=36)
    assert event.metadata == {"setting": "incident_authority_target_hours", "from": 72, "to": 36}
    assert duties(record(world.a))["IN-DPB"].target_at == AWARE + 36 * H
