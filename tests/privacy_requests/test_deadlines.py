"""Rights-request deadlines per jurisdiction profile, with frozen time: calendar
months, the extension, India's published period and its cap, and the rule that
the clock starts at verification when verification was asked for promptly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from accounts.services import workspace_create
from kernel.tenancy import workspace_context
from privacy_requests import deadlines
from privacy_requests.models import PrivacyContact, RequestStatus
from privacy_requests.services import (
    privacy_request_create,
    privacy_request_extend,
    privacy_request_transition,
    privacy_request_verified,
)
from tests.conftest import PASSWORD


def _workspace(jurisdiction: str, tz: str):
    return workspace_create(
        slug=f"ws-{jurisdiction.lower()}",
        name=f"WS {jurisdiction}",
        owner_email=f"owner-{jurisdiction.lower()}@example.com",
        owner_password=PASSWORD,
        jurisdiction=jurisdiction,
        timezone_name=tz,
    )


def _local(ws, moment):
    return moment.astimezone(__import__("zoneinfo").ZoneInfo(ws.timezone))


@pytest.mark.parametrize(
    ("jurisdiction", "tz", "received", "due_day", "extended_day"),
    [
        # One calendar month, not 30 days: 31 Jan → 28 Feb (2026 is not a leap year); two more months after that first deadline → 28 April.
        ("EU", "Europe/Berlin", datetime(2026, 1, 31, 10, tzinfo=UTC), "2026-02-28", "2026-04-28"),
        ("UK", "Europe/London", datetime(2026, 3, 15, 10, tzinfo=UTC), "2026-04-15", "2026-06-15"),
        # South Africa: one month, extendable by 30 days (PAIA s.26).
        ("ZA", "Africa/Johannesburg", datetime(2026, 1, 31, 10, tzinfo=UTC), "2026-02-28", "2026-03-30"),
        # US: 45 + 45 days.
        ("US", "America/New_York", datetime(2026, 1, 1, 15, tzinfo=UTC), "2026-02-15", "2026-04-01"),
        # India: 30 days by default, no extension.
        ("IN", "Asia/Kolkata", datetime(2026, 1, 1, 15, tzinfo=UTC), "2026-01-31", None),
    ],
)
def test_each_profile_gives_its_own_deadline(db, jurisdiction, tz, received, due_day, extended_day):
    ws = _workspace(jurisdiction, tz)
    due = deadlines.due_at(ws, received)
    assert _local(ws, due).date().isoformat() == due_day
    assert _local(ws, due).time().isoformat() == "23:59:59"  # the end of that day where the workspace is
    extended = deadlines.extended_due_at(ws, received)
    assert (_local(ws, extended).date().isoformat() if extended else None) == extended_day


def test_the_day_is_counted_where_the_workspace_is(db):
    ws = _workspace("IN", "Asia/Kolkata")
    # 20:00 UTC on 1 Jan is already 2 Jan in Mumbai.
    due = deadlines.due_at(ws, datetime(2026, 1, 1, 20, tzinfo=UTC))
    assert _local(ws, due).date().isoformat() == "2026-02-01"


def test_india_uses_the_published_period_never_above_the_cap(db):
    ws = _workspace("IN", "Asia/Kolkata")
    received = datetime(2026, 1, 1, 6, tzinfo=UTC)
    assert _local(ws, deadlines.due_at(ws, received, grievance_period_days=15)).date().isoformat() == "2026-01-16"
    # 120 days published: capped at the rules' 90.
    assert _local(ws, deadlines.due_at(ws, received, grievance_period_days=120)).date().isoformat() == "2026-04-01"
    with workspace_context(ws):
        PrivacyContact.objects.create(workspace=ws, contact_name="Grievance Officer", grievance_period_days=15)
        request = privacy_request_create(
            workspace=ws, type="access", channel="phone", received_at=received, verified_by="agent checked DOB"
        )
    assert _local(ws, request.due_at).date().isoformat() == "2026-01-16"


def test_clock_starts_at_receipt_when_no_verification_was_needed(db):
    ws = _workspace("EU", "Europe/Berlin")
    received = datetime(2026, 5, 10, 9, tzinfo=UTC)
    with workspace_context(ws):
        request = privacy_request_create(
            workspace=ws, type="erasure", channel="api", received_at=received, verified_by="relayed by client"
        )
    assert request.status == RequestStatus.VERIFIED
    assert request.clock_started_at == received
    assert _local(ws, request.due_at).date().isoformat() == "2026-06-10"


def test_clock_starts_at_verification_when_it_was_asked_promptly(db, monkeypatch):
    ws = _workspace("EU", "Europe/Berlin")
    received = datetime(2026, 5, 10, 9, tzinfo=UTC)
    with workspace_context(ws):
        request = privacy_request_create(workspace=ws, type="access", channel="web", received_at=received)
        assert request.status == RequestStatus.RECEIVED and request.due_at is not None  # counting from receipt so far
        monkeypatch.setattr(timezone, "now", lambda: received + timedelta(days=1))
        request = privacy_request_transition(request=request, to=RequestStatus.AWAITING_VERIFICATION)
        verified = received + timedelta(days=9)
        monkeypatch.setattr(timezone, "now", lambda: verified)
        request = privacy_request_verified(request=request, method="code to email on file + date of birth")
    assert request.clock_started_at == verified
    assert _local(ws, request.due_at).date().isoformat() == "2026-06-19"


def test_a_late_verification_request_does_not_stop_the_clock(db, monkeypatch):
    ws = _workspace("UK", "Europe/London")
    received = datetime(2026, 5, 10, 9, tzinfo=UTC)
    with workspace_context(ws):
        request = privacy_request_create(workspace=ws, type="access", channel="letter", received_at=received)
        monkeypatch.setattr(timezone, "now", lambda: received + timedelta(days=deadlines.PROMPT_VERIFICATION_DAYS + 2))
        request = privacy_request_transition(request=request, to=RequestStatus.AWAITING_VERIFICATION)
        monkeypatch.setattr(timezone, "now", lambda: received + timedelta(days=20))
        request = privacy_request_verified(request=request, method="code to phone on file")
    assert request.clock_started_at == received
    assert _local(ws, request.due_at).date().isoformat() == "2026-06-10"


def test_extension_once_inside_the_first_period_with_a_reason(db, monkeypatch):
    ws = _workspace("EU", "Europe/Berlin")
    received = datetime(2026, 1, 31, 10, tzinfo=UTC)
    monkeypatch.setattr(timezone, "now", lambda: received + timedelta(days=3))
    with workspace_context(ws):
        request = privacy_request_create(
            workspace=ws, type="access", channel="api", received_at=received, verified_by="relayed"
        )
        with pytest.raises(ValidationError) as no_reason:
            privacy_request_extend(request=request, reason=" ")
        assert "reason" in no_reason.value.message_dict
        request = privacy_request_extend(request=request, reason="Many records across several portfolios")
        assert _local(ws, request.effective_due_at).date().isoformat() == "2026-04-28"
        with pytest.raises(ValidationError, match="already been extended"):
            privacy_request_extend(request=request, reason="again")


def test_no_extension_after_the_first_period_or_where_the_law_has_none(db, monkeypatch):
    eu = _workspace("EU", "Europe/Berlin")
    india = _workspace("IN", "Asia/Kolkata")
    received = datetime(2026, 1, 1, 10, tzinfo=UTC)
    with workspace_context(eu):
        late = privacy_request_create(workspace=eu, type="access", channel="api", received_at=received, verified_by="x")
        monkeypatch.setattr(timezone, "now", lambda: received + timedelta(days=40))
        with pytest.raises(ValidationError, match="inside the first period"):
            privacy_request_extend(request=late, reason="too late")
    monkeypatch.setattr(timezone, "now", lambda: received + timedelta(days=2))
    with workspace_context(india):
        request = privacy_request_create(
            workspace=india, type="access", channel="api", received_at=received, verified_by="x"
        )
        with pytest.raises(ValidationError, match="allows no extension"):
            privacy_request_extend(request=request, reason="busy")


def test_days_left_counts_calendar_days_in_the_workspace_zone(db):
    ws = _workspace("EU", "Europe/Berlin")
    due = deadlines.due_at(ws, datetime(2026, 1, 31, 10, tzinfo=UTC))
    assert deadlines.days_left(due, now=datetime(2026, 2, 21, 10, tzinfo=UTC), workspace=ws) == 7
    assert (
        deadlines.days_left(due, now=datetime(2026, 2, 28, 23, 30, tzinfo=UTC), workspace=ws) == -1
    )  # 1 March in Berlin
    assert deadlines.days_left(None, now=datetime(2026, 2, 1, tzinfo=UTC), workspace=ws) is None
