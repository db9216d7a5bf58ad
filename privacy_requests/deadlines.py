"""When a rights request must be answered, from the workspace's jurisdiction profile.

- EU/UK: one calendar month from the clock's start, extendable by two more
  (GDPR Art. 12(3)); the extension must be told to the requester, with its
  reason, inside the first month.
- South Africa: one calendar month (what the policies promise), extendable by
  30 days (PAIA s.26).
- India: the workspace's published grievance period (default 30 days), never
  above the rules' cap.
- US: 45 days, extendable by 45.

Months are calendar months (31 January + 1 month = 28/29 February), counted in
the workspace's time zone: the deadline is the end of that day there.

**When the clock starts.** At receipt — unless identity had to be confirmed and
the confirmation was asked for promptly (within ``PROMPT_VERIFICATION_DAYS`` of
receipt), in which case at verification (GDPR Art. 12(6) and the regulators'
guidance: the time limit starts once identity is confirmed).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dateutil.relativedelta import relativedelta

from accounts.jurisdictions import JurisdictionProfile, profile_for
from accounts.models import Workspace

PROMPT_VERIFICATION_DAYS = 5
REMIND_DAYS_BEFORE = (7, 2)


@dataclass(frozen=True)
class Period:
    months: int
    days: int
    source: str

    def add_to(self, day: date) -> date:
        return day + relativedelta(months=self.months, days=self.days)

    def __str__(self) -> str:
        if self.months:
            return f"{self.months} month" + ("s" if self.months != 1 else "")
        return f"{self.days} days"


def answer_period(workspace: Workspace, *, grievance_period_days: int | None = None) -> Period:
    """The first period to answer in; India's is the workspace's own (capped)."""
    profile = profile_for(workspace.jurisdiction)
    if profile.rights_request_max_days is not None:
        days = grievance_period_days or profile.rights_request_days
        return Period(0, min(days, profile.rights_request_max_days), profile.rights_request_source)
    return Period(profile.rights_request_months, profile.rights_request_days, profile.rights_request_source)


def extension_period(profile: JurisdictionProfile) -> Period | None:
    """How much longer the request may take, once extended; None where the law allows none."""
    if not (profile.rights_request_extension_months or profile.rights_request_extension_days):
        return None
    return Period(
        profile.rights_request_extension_months, profile.rights_request_extension_days, profile.rights_request_source
    )


def _end_of_day(day: date, tz: zoneinfo.ZoneInfo) -> datetime:
    return datetime.combine(day, time(23, 59, 59), tzinfo=tz)


def _local_day(moment: datetime, tz: zoneinfo.ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def clock_start(
    *, received_at: datetime, verification_asked_at: datetime | None, verified_at: datetime | None
) -> datetime | None:
    """When the time limit starts; None while it waits for a promptly asked verification."""
    asked_promptly = verification_asked_at is not None and verification_asked_at - received_at <= timedelta(
        days=PROMPT_VERIFICATION_DAYS
    )
    if not asked_promptly:
        return received_at
    return verified_at


def due_at(workspace: Workspace, start: datetime, *, grievance_period_days: int | None = None) -> datetime:
    """The end of the last day to answer, in the workspace's time zone."""
    tz = zoneinfo.ZoneInfo(workspace.timezone)
    period = answer_period(workspace, grievance_period_days=grievance_period_days)
    return _end_of_day(period.add_to(_local_day(start, tz)), tz)


def extended_due_at(
    workspace: Workspace, start: datetime, *, grievance_period_days: int | None = None
) -> datetime | None:
    """The deadline after the one extension the profile allows (counted from the
    clock's start: one month + two), or None."""
    profile = profile_for(workspace.jurisdiction)
    extension = extension_period(profile)
    if extension is None:
        return None
    tz = zoneinfo.ZoneInfo(workspace.timezone)
    first = answer_period(workspace, grievance_period_days=grievance_period_days).add_to(_local_day(start, tz))
    return _end_of_day(extension.add_to(first), tz)


def days_left(deadline: datetime | None, *, now: datetime, workspace: Workspace) -> int | None:
    """Whole days from today to the deadline's day in the workspace's zone (0 on the
    day itself, negative once overdue); None while the clock has not started."""
    if deadline is None:
        return None
    tz = zoneinfo.ZoneInfo(workspace.timezone)
    return (_local_day(deadline, tz) - _local_day(now, tz)).days
