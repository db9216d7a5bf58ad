"""One clock per duty to notify: which duties an incident has and where each stands.

The duties come from the workspace's jurisdiction profile
(``JurisdictionProfile.breach_duties``: the authority, CERT-In, the people affected)
and from the contracts of the clients whose data is involved
(``Client.breach_notice_hours``, default 24). Every clock starts when the workspace
became aware (``Incident.aware_at``). A duty without fixed hours ("without undue
delay", "as soon as reasonably possible") is measured against the workspace's own
target (``AlertThresholds.authority_target_hours``) and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from accounts.jurisdictions import BreachDuty, profile_for
from accounts.models import Client, Workspace
from incidents.models import Decision, Duty, Incident, Party

CLIENT_SOURCE = "the client's contract (a processor tells its controller without undue delay: GDPR Art. 33(2))"
# Reminders before a deadline, and once overdue; each is sent once per duty.
REMINDERS = (("24h", timedelta(hours=24)), ("6h", timedelta(hours=6)), ("1h", timedelta(hours=1)))


@dataclass(frozen=True)
class DutySpec:
    party: str
    code: str
    label: str
    source: str
    due_at: datetime | None
    target_at: datetime | None
    client: Client | None = None


def applies(rule: BreachDuty, incident: Incident) -> bool:
    if rule.when == "cert_in_listed":
        return incident.cert_in_listed
    if rule.when == "high_risk":
        return incident.high_risk and not incident.data_unintelligible
    return True


def duty_specs(*, workspace: Workspace, incident: Incident, clients: list[Client], target_hours: int) -> list[DutySpec]:
    """The duties ``incident`` has now (it may gain some: a client found involved, the
    incident judged high-risk)."""
    specs: list[DutySpec] = []
    start = incident.aware_at
    for rule in profile_for(workspace.jurisdiction).breach_duties:
        if not applies(rule, incident):
            continue
        due = start + timedelta(hours=rule.hours) if rule.hours is not None else None
        target = None if due is not None else start + timedelta(hours=target_hours)
        specs.append(DutySpec(rule.party, rule.code, rule.label, rule.source, due, target))
    for client in clients:
        specs.append(
            DutySpec(
                Party.CLIENT,
                "CLIENT",
                f"Client {client.name}",
                f"{CLIENT_SOURCE}: {client.breach_notice_hours} hours",
                start + timedelta(hours=client.breach_notice_hours),
                None,
                client,
            )
        )
    return specs


@dataclass(frozen=True)
class ClockState:
    """What a countdown shows for one duty at ``now``."""

    duty: Duty
    deadline: datetime | None  # due_at, else the workspace's target
    fixed: bool  # a legal deadline (True) or the workspace's own target
    remaining: timedelta | None  # negative when late; None when done or not required
    state: str  # done | not_required | late | due_soon | running | no_deadline
    late_filing: bool  # done after the deadline: a reason is required

    @property
    def remaining_label(self) -> str:
        if self.remaining is None:
            return ""
        seconds = int(abs(self.remaining.total_seconds()))
        hours, rest = divmod(seconds, 3600)
        minutes = rest // 60
        text = f"{hours} h {minutes:02d} min" if hours < 48 else f"{hours // 24} days {hours % 24} h"
        return f"{text} late" if self.remaining.total_seconds() < 0 else f"{text} left"


def clock_state(duty: Duty, now: datetime) -> ClockState:
    deadline = duty.due_at or duty.target_at
    fixed = duty.due_at is not None
    if duty.decision == Decision.NOT_REQUIRED:
        return ClockState(duty, deadline, fixed, None, "not_required", False)
    if duty.done_at is not None:
        late = deadline is not None and duty.done_at > deadline
        return ClockState(duty, deadline, fixed, None, "done", late)
    if deadline is None:
        return ClockState(duty, None, False, None, "no_deadline", False)
    remaining = deadline - now
    if remaining.total_seconds() < 0:
        state = "late"
    elif remaining <= timedelta(hours=6):
        state = "due_soon"
    else:
        state = "running"
    return ClockState(duty, deadline, fixed, remaining, state, False)


def reminder_due(duty: Duty, now: datetime) -> str | None:
    """The name of the reminder to send now for ``duty`` (or None): the tightest one
    whose moment has come and that was not sent yet; "overdue" once late."""
    deadline = duty.due_at or duty.target_at
    if deadline is None or duty.done_at is not None or duty.decision == Decision.NOT_REQUIRED:
        return None
    sent: list[Any] = list(duty.reminders_sent or [])
    if now >= deadline:
        return None if "overdue" in sent else "overdue"
    for name, before in reversed(REMINDERS):  # 1h, then 6h, then 24h
        if now >= deadline - before:
            return None if name in sent else name
    return None
