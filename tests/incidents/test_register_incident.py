"""The incident page: one card per duty with its countdown (a deadline in law or the
workspace's own target, said plainly), its source, the decision and the filing (a late
one asks for its reason, naming the deadline), the status, phased updates, the history,
the edit form, and the other parts' sections when their templates exist."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from audit import actions
from audit.models import AuditEvent
from incidents.models import Incident
from kernel.tenancy import workspace_context
from tests.conftest import login
from tests.incidents.register_world import duties, record

pytestmark = pytest.mark.django_db

H = timedelta(hours=1)


def _card(body: str, code: str) -> str:
    return body.split(f'data-code="{code}"')[1].split("</article>")[0]


def _kolkata(moment) -> str:
    return f"{moment.astimezone(timezone.get_fixed_timezone(330)):%Y-%m-%d %H:%M}"


def test_each_duty_has_a_card_with_its_countdown_and_its_law(world):
    now = timezone.now()
    incident = record(world.a, aware_at=now - 2 * H, now=now, cert_in_listed=True)
    body = login(world.alice).get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    assert body.count('data-testid="duty"') == 4
    cert_in = _card(body, "CERT-IN")
    assert 'data-state="due_soon"' in body.split('data-code="CERT-IN"')[1][:40]
    assert "Deadline in law" in cert_in and "6 h from awareness" in cert_in and " left" in cert_in
    assert "CERT-In directions of 28 Apr 2022" in cert_in
    board = _card(body, "IN-DPB")
    assert "No fixed hours in law" in board and "the workspace&#x27;s own target" not in board
    assert "the workspace's own target" in board and "72 h from awareness" in board
    assert "Rule 7(2)(a)" in board
    report = _card(body, "IN-DPB-REPORT")
    assert "Deadline in law" in report and 'data-state="running"' in body.split('data-code="IN-DPB-REPORT"')[1][:40]
    # The header names the next deadline; times are in the workspace's zone.
    assert "Next: <strong>CERT-In: cyber incident report</strong>" in body
    assert _kolkata(incident.aware_at + 6 * H)[-5:] in cert_in and "(Asia/Kolkata)" in cert_in


def test_a_late_filing_asks_for_its_reason_then_shows_it(world):
    now = timezone.now()
    incident = record(world.a, aware_at=now - 80 * H, now=now)
    report = duties(incident)["IN-DPB-REPORT"]
    alice = login(world.alice)
    page = alice.get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    assert 'data-state="late"' in page.split('data-code="IN-DPB-REPORT"')[1][:40]
    assert "The deadline passed at" in _card(page, "IN-DPB-REPORT")

    url = f"/w/acme/incidents/{incident.reference}/duties/{report.pk}/done/"
    response = alice.post(url, {"filing_reference": "DPB-2026-0042"})
    assert response.status_code == 400
    error = f"The deadline passed ({_kolkata(report.due_at)} Asia/Kolkata): give the reasons for the delay."
    assert error in response.content.decode()
    assert duties(incident)["IN-DPB-REPORT"].done_at is None

    response = alice.post(
        url, {"filing_reference": "DPB-2026-0042", "late_reason": "The forensic report arrived on day 4."}
    )
    assert response.status_code == 302
    page = alice.get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    card = _card(page, "IN-DPB-REPORT")
    assert "DPB-2026-0042" in card and "The forensic report arrived on day 4." in card
    assert 'data-state="late-filing"' in card
    with workspace_context(world.a):
        event = AuditEvent.objects.get(action=actions.INCIDENT_DUTY_DONE, object_id=str(report.pk))
    assert event.metadata["late"] is True


def test_filed_at_an_earlier_moment_on_time_needs_no_reason(world):
    now = timezone.now()
    incident = record(world.a, aware_at=now - 80 * H, now=now)
    report = duties(incident)["IN-DPB-REPORT"]
    filed = (incident.aware_at + 70 * H).astimezone(timezone.get_fixed_timezone(330)).strftime("%Y-%m-%dT%H:%M")
    response = login(world.alice).post(
        f"/w/acme/incidents/{incident.reference}/duties/{report.pk}/done/",
        {"filing_reference": "DPB-7", "done_at": filed},
    )
    assert response.status_code == 302
    done = duties(incident)["IN-DPB-REPORT"]
    assert done.late_reason == "" and done.done_at is not None
    assert done.done_at.astimezone(timezone.get_fixed_timezone(330)).strftime("%Y-%m-%dT%H:%M") == filed


def test_the_decision_needs_its_reason_and_is_kept(world):
    incident = record(world.b)  # the US: people only
    people = duties(incident)["PEOPLE"]
    bob = login(world.bob)
    url = f"/w/globex/incidents/{incident.reference}/duties/{people.pk}/decision/"
    response = bob.post(url, {"decision": "not_required", "reason": ""})
    assert response.status_code == 400 and 'data-field="reason"' in response.content.decode()
    response = bob.post(url, {"decision": "not_required", "reason": "Only encrypted backups; key not exposed."})
    assert response.status_code == 302
    page = bob.get(f"/w/globex/incidents/{incident.reference}/").content.decode()
    card = _card(page, "PEOPLE")
    assert "Not required</strong> — Only encrypted backups; key not exposed." in card
    assert 'data-state="not_required"' in card
    assert "Mark as sent" not in card  # nothing to file once not required
    history = page.split('data-testid="history"')[1]
    assert "People affected: not required — Only encrypted backups" in history


def test_status_moves_and_closing_needs_a_reason(world):
    incident = record(world.a)
    alice = login(world.alice)
    url = f"/w/acme/incidents/{incident.reference}/status/"
    # Suspected cannot jump to contained.
    assert alice.post(url, {"to": "contained"}).status_code == 400
    assert alice.post(url, {"to": "confirmed"}).status_code == 302
    response = alice.post(url, {"to": "closed", "reason": ""})
    assert response.status_code == 400
    assert "Say why the incident is closed" in response.content.decode()
    assert alice.post(url, {"to": "closed", "reason": "Contained; every party notified."}).status_code == 302
    with workspace_context(world.a):
        incident = Incident.objects.for_workspace(world.a).get(pk=incident.pk)
    assert incident.status == "closed" and incident.confirmed_at and incident.closed_at
    page = alice.get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    assert "confirmed → closed</strong>: Contained; every party notified." in page
    # A closed incident can only be reopened.
    assert '<option value="confirmed">Confirmed</option>' in page.split('data-testid="status-form"')[1]


def test_phased_updates_and_edits_go_into_the_history(world):
    now = timezone.now()
    incident = record(world.a, aware_at=now - 3 * H, now=now)
    alice = login(world.alice)
    url = f"/w/acme/incidents/{incident.reference}/updates/"
    assert alice.post(url, {"text": " "}).status_code == 400
    assert alice.post(url, {"text": "Forensics: the disk was encrypted after all."}).status_code == 302

    edit = alice.get(f"/w/acme/incidents/{incident.reference}/edit/").content.decode()
    local_aware = incident.aware_at.astimezone(timezone.get_fixed_timezone(330)).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{local_aware}"' in edit
    earlier = (incident.aware_at - 5 * H).astimezone(timezone.get_fixed_timezone(330)).strftime("%Y-%m-%dT%H:%M")
    response = alice.post(
        f"/w/acme/incidents/{incident.reference}/edit/",
        {"title": incident.title, "what_happened": incident.what_happened, "aware_at": earlier},
    )
    assert response.status_code == 302
    report = duties(incident)["IN-DPB-REPORT"]
    corrected = datetime.strptime(earlier, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo("Asia/Kolkata"))
    assert report.starts_at == corrected and report.due_at == corrected + 72 * H
    page = alice.get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    history = page.split('data-testid="history"')[1]
    assert "Forensics: the disk was encrypted after all." in history and "Changed: aware_at" in history


def test_other_parts_sections_are_included_when_their_templates_exist(world, settings, tmp_path: Path):
    incident = record(world.a)
    folder = tmp_path / "incidents"
    folder.mkdir()
    (folder / "_finder.html").write_text('<section data-testid="finder-probe">{{ incident.reference }}</section>')
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    body = login(world.alice).get(f"/w/acme/incidents/{incident.reference}/").content.decode()
    assert f'<section data-testid="finder-probe">{incident.reference}</section>' in body
