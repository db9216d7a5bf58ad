"""Every profile's clocks at their edges, counted from a fixed awareness (``now=`` is
passed; no real time). The numbers come from the jurisdiction profiles
(accounts/jurisdictions.py) and ../shared/REGULATIONS.md."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from incidents.clocks import clock_state
from incidents.models import Duty
from incidents.register_services import authority_target_save
from incidents.services import IncidentInput, duty_decide, duty_done, incident_edit
from kernel.tenancy import workspace_context
from tests.incidents.register_world import (
    AWARE,
    client_with_hours,
    duties,
    involve_clients,
    profile_workspace,
    record,
)

pytestmark = pytest.mark.django_db

SECOND = timedelta(seconds=1)
H = timedelta(hours=1)


def assert_edges(duty: Duty, deadline_hours: int) -> None:
    """Running a second before the deadline, not late at it, late a second after."""
    deadline = AWARE + deadline_hours * H
    assert (duty.due_at or duty.target_at) == deadline
    before = clock_state(duty, deadline - SECOND)
    assert before.state in ("running", "due_soon") and before.remaining == SECOND
    assert clock_state(duty, deadline).state == "due_soon"
    after = clock_state(duty, deadline + SECOND)
    assert after.state == "late" and after.remaining_label == "0 h 00 min late"


# --- India -----------------------------------------------------------------------------------


def test_india_board_without_delay_is_the_workspace_target_and_the_report_72_hours(world):
    incident = record(world.a)
    found = duties(incident)
    assert set(found) == {"IN-DPB", "IN-DPB-REPORT", "PEOPLE"}  # not CERT-In listed
    board, report, people = found["IN-DPB"], found["IN-DPB-REPORT"], found["PEOPLE"]
    # "Without delay": no fixed hours in law, measured against the workspace's target (72 h by default).
    assert board.due_at is None and clock_state(board, AWARE).fixed is False
    assert_edges(board, 72)
    # The detailed report: 72 hours in law.
    assert report.due_at == AWARE + 72 * H and clock_state(report, AWARE).fixed is True
    assert_edges(report, 72)
    # Each affected person, always (DPDP Rule 7(1)), without delay: the target too.
    assert people.due_at is None and people.target_at == AWARE + 72 * H
    assert "Rule 7" in board.source and "Rule 7(2)(b)" in report.source


def test_india_cert_in_six_hours_only_when_listed(world):
    listed = record(world.a, cert_in_listed=True)
    cert_in = duties(listed)["CERT-IN"]
    assert cert_in.due_at == AWARE + 6 * H and "CERT-In directions" in cert_in.source
    assert_edges(cert_in, 6)
    assert clock_state(cert_in, AWARE + 1 * H).state == "due_soon"  # 5 h left: within the last 6
    assert "CERT-IN" not in duties(record(world.a, cert_in_listed=False))


def test_india_incident_found_to_be_cert_in_listed_later_gains_the_clock_from_awareness(world):
    incident = record(world.a)
    with workspace_context(world.a):
        incident_edit(
            incident=incident,
            data=IncidentInput(
                title=incident.title, what_happened=incident.what_happened, aware_at=AWARE, cert_in_listed=True
            ),
            now=AWARE + 2 * H,
        )
    cert_in = duties(incident)["CERT-IN"]
    assert cert_in.due_at == AWARE + 6 * H  # from awareness, not from the edit


def test_india_workspace_target_set_on_the_register_applies_to_new_incidents(world):
    with workspace_context(world.a):
        authority_target_save(workspace=world.a, hours=24)
    found = duties(record(world.a))
    assert found["IN-DPB"].target_at == AWARE + 24 * H
    assert found["IN-DPB-REPORT"].due_at == AWARE + 72 * H  # the law's hours do not move
    assert_edges(found["IN-DPB"], 24)


# --- EU and UK ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "authority"), [("EU", "EU-SA"), ("UK", "UK-ICO")])
def test_eu_uk_authority_72_hours_people_only_when_high_risk_and_intelligible(world, code, authority):
    ws = profile_workspace(world, code)
    low = duties(record(ws))
    assert set(low) == {authority}
    assert low[authority].due_at == AWARE + 72 * H and "Art. 33(1)" in low[authority].source
    assert_edges(low[authority], 72)

    high = duties(record(ws, high_risk=True))
    assert set(high) == {authority, "PEOPLE"}
    assert high["PEOPLE"].due_at is None and high["PEOPLE"].target_at == AWARE + 72 * H
    assert "Art. 34" in high["PEOPLE"].source

    # Encrypted with the key safe (Art. 34(3)(a)): people need not be told.
    assert set(duties(record(ws, high_risk=True, data_unintelligible=True))) == {authority}


def test_eu_incident_judged_high_risk_later_gains_the_people_duty(world):
    ws = profile_workspace(world, "EU")
    incident = record(ws)
    with workspace_context(ws):
        incident_edit(
            incident=incident,
            data=IncidentInput(
                title=incident.title, what_happened=incident.what_happened, aware_at=AWARE, high_risk=True
            ),
            now=AWARE + 30 * H,
        )
    assert duties(incident)["PEOPLE"].target_at == AWARE + 72 * H


# --- South Africa and the US -------------------------------------------------------------------


def test_south_africa_has_no_fixed_hours_and_counts_against_the_workspace_target(world):
    ws = profile_workspace(world, "ZA")
    with workspace_context(ws):
        authority_target_save(workspace=ws, hours=48)
    found = duties(record(ws))
    assert set(found) == {"ZA-IR", "PEOPLE"}
    for code in ("ZA-IR", "PEOPLE"):
        assert found[code].due_at is None
        assert clock_state(found[code], AWARE).fixed is False
        assert_edges(found[code], 48)
    assert "POPIA s22" in found["ZA-IR"].source


def test_us_tells_the_people_only(world):
    found = duties(record(world.b))
    assert set(found) == {"PEOPLE"}
    assert found["PEOPLE"].due_at is None and found["PEOPLE"].target_at == AWARE + 72 * H
    assert_edges(found["PEOPLE"], 72)


# --- Clients ---------------------------------------------------------------------------------------


def test_each_client_within_its_contracts_hours(world):
    fast = client_with_hours(world.a, "Fast Bank", "FAST", 12)
    default = client_with_hours(world.a, "Plain Bank", "PLAIN", None)
    incident = record(world.a)
    found = involve_clients(incident, fast, default)
    assert found["CLIENT", "Fast Bank"].due_at == AWARE + 12 * H
    assert found["CLIENT", "Plain Bank"].due_at == AWARE + 24 * H
    assert "12 hours" in found["CLIENT", "Fast Bank"].source
    assert_edges(found["CLIENT", "Fast Bank"], 12)
    assert_edges(found["CLIENT", "Plain Bank"], 24)
    # Syncing again adds nothing: one duty per client.
    assert len(involve_clients(incident, fast, default)) == len(found)


# --- Awareness corrected, late filings ---------------------------------------------------------------


def test_awareness_corrected_restarts_the_open_clocks_and_their_reminders(world):
    incident = record(world.a, cert_in_listed=True)
    found = duties(incident)
    with workspace_context(world.a):
        Duty.objects.for_workspace(world.a).filter(pk=found["CERT-IN"].pk).update(reminders_sent=["6h", "1h"])
        duty_done(duty=found["IN-DPB"], filing_reference="DPB-1", now=AWARE + 1 * H)
        earlier = AWARE - 3 * H
        incident_edit(
            incident=incident,
            data=IncidentInput(
                title=incident.title, what_happened=incident.what_happened, aware_at=earlier, cert_in_listed=True
            ),
            now=AWARE + 2 * H,
        )
    after = duties(incident)
    assert after["CERT-IN"].due_at == earlier + 6 * H and after["CERT-IN"].reminders_sent == []
    assert after["IN-DPB-REPORT"].due_at == earlier + 72 * H
    assert after["PEOPLE"].target_at == earlier + 72 * H
    # A duty already done keeps the clock it was done against.
    assert after["IN-DPB"].target_at == AWARE + 72 * H and after["IN-DPB"].done_at == AWARE + 1 * H


def test_a_filing_after_the_deadline_needs_its_reason(world):
    incident = record(world.a, cert_in_listed=True)
    cert_in = duties(incident)["CERT-IN"]
    late = AWARE + 6 * H + 20 * timedelta(minutes=1)
    with workspace_context(world.a), pytest.raises(ValidationError) as refused:
        duty_done(duty=cert_in, filing_reference="CERTIN-77", now=late)
    # The error names the deadline, in the workspace's zone (09:30 UTC + 6 h = 21:00 in Kolkata).
    assert refused.value.message_dict["late_reason"] == [
        "The deadline passed (2026-03-02 21:00 Asia/Kolkata): give the reasons for the delay."
    ]
    assert duties(incident)["CERT-IN"].done_at is None

    with workspace_context(world.a):
        done = duty_done(
            duty=cert_in, filing_reference="CERTIN-77", late_reason="The portal was down until 21:15.", now=late
        )
    assert done.done_at == late and done.late_reason == "The portal was down until 21:15."
    state = clock_state(done, late + H)
    assert state.state == "done" and state.late_filing is True
    with workspace_context(world.a):
        history = [u.text for u in incident.updates.order_by("at")]
    assert any("late: The portal was down" in text for text in history)


def test_a_filing_at_the_deadline_is_on_time(world):
    cert_in = duties(record(world.a, cert_in_listed=True))["CERT-IN"]
    with workspace_context(world.a):
        done = duty_done(duty=cert_in, filing_reference="CERTIN-1", now=AWARE + 6 * H)
    assert done.late_reason == "" and clock_state(done, AWARE + 7 * H).late_filing is False


def test_not_required_stops_the_clock_and_keeps_the_reason(world):
    people = duties(record(world.b))["PEOPLE"]
    with workspace_context(world.b):
        with pytest.raises(ValidationError):
            duty_decide(duty=people, decision="not_required", reason=" ")
        decided = duty_decide(duty=people, decision="not_required", reason="Encrypted drive, key not exposed")
    state = clock_state(decided, AWARE + 100 * H)
    assert state.state == "not_required" and state.remaining is None
    assert decided.decision_reason == "Encrypted drive, key not exposed"
