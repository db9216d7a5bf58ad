"""Reminders as a duty's deadline nears (the beat job every 15 minutes,
``incidents.tasks.incident_reminders_all``).

For each duty still owed (not done, not decided "not required") of an incident not
closed, ``clocks.reminder_due`` names the reminder due now: 24 h, 6 h and 1 h before the
deadline in force (the legal one, or the workspace's own target where the law sets no
hours), and once when it has passed. A job that missed a run sends only the tightest
reminder due, not the ones it missed.

Who is emailed: the members who must act — the owners and admins (``incidents.manage``
by role) and the workspace's privacy contact (granted that permission through
``accounts.roles``) — if their account is active and they are staff, not a client's login.

Each reminder goes once per duty: the duty's row is locked, the reminder is checked
again and added to ``Duty.reminders_sent`` in the same transaction that audits it
(``incident.reminded``) and queues the email with ``on_commit``. Running the job twice,
or two workers at once, sends nothing twice; a rolled-back run sends nothing. The email
carries the incident's reference and title, the duty and its deadline, never anyone's
personal data.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.roles import granted_user_ids, role_can
from audit import actions
from audit.services import audit_record
from incidents.clocks import REMINDERS, clock_state, reminder_due
from incidents.models import Duty
from incidents.selectors import open_duties

MUST_ACT = "incidents.manage"
# The earliest reminder is this long before a deadline: duties further away wait.
HORIZON = max(before for _name, before in REMINDERS)


def reminder_recipients(*, workspace: Workspace) -> list[str]:
    """The emails of the members who must act on the register's deadlines."""
    granted = granted_user_ids(workspace.pk, MUST_ACT)
    members = (
        Membership.objects.for_workspace(workspace)
        .filter(client__isnull=True, user__is_active=True)
        .select_related("user")
    )
    return sorted(
        {m.user.email for m in members if m.user.email and (role_can(m.role, MUST_ACT) or m.user_id in granted)}
    )


def _describe(workspace: Workspace, duty: Duty, name: str, now: datetime) -> tuple[str, str]:
    """The email's subject and body."""
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    deadline = duty.due_at or duty.target_at
    assert deadline is not None
    local = deadline.astimezone(zone)
    incident = duty.incident
    url = settings.SITE_URL.rstrip("/") + reverse("incidents:incident", args=[workspace.slug, incident.reference])
    clock = clock_state(duty, now)
    if name == "overdue":
        subject = f"[{workspace.name}] Overdue: {duty.label} for incident {incident.reference}"
        lead = f"The deadline for {duty.label} on incident {incident.reference} passed at {local:%Y-%m-%d %H:%M}."
    else:
        subject = f"[{workspace.name}] {clock.remaining_label}: {duty.label} for incident {incident.reference}"
        lead = (
            f"{duty.label} on incident {incident.reference} is due by {local:%Y-%m-%d %H:%M} ({clock.remaining_label})."
        )
    if duty.due_at is not None:
        kind = f"This is a deadline in law: {duty.source}."
    else:
        hours = round((deadline - duty.starts_at).total_seconds() / 3600)
        kind = (
            f"The law sets no fixed hours ({duty.source}); this is the workspace's own target, "
            f"{hours} hours from awareness."
        )
    body = (
        f"{lead}\n\nIncident: {incident.reference} — {incident.title}\nStatus: {incident.get_status_display()}\n"
        f"Deadline: {local:%Y-%m-%d %H:%M} ({workspace.timezone})\n{kind}\n\n"
        "Record the filing or the notices sent, or decide that this party need not be told and why, "
        f"on the incident page: {url}\n"
        + ("A filing after the deadline must say why it was late.\n" if name == "overdue" else "")
    )
    return subject, body


def _remind(workspace: Workspace, duty: Duty, recipients: list[str], now: datetime) -> str | None:
    """Claim and send the reminder due for ``duty`` (its name), or None if none is due
    any more (done meanwhile, or another run sent it)."""
    with transaction.atomic():
        locked = Duty.objects.for_workspace(workspace).select_for_update().filter(pk=duty.pk).first()
        if locked is None:
            return None
        name = reminder_due(locked, now)
        if name is None:
            return None
        locked.reminders_sent = [*list(locked.reminders_sent or []), name]
        locked.save(update_fields=["reminders_sent"])
        locked.incident = duty.incident
        audit_record(
            action=actions.INCIDENT_REMINDED,
            workspace=workspace,
            obj=locked,
            metadata={
                "incident": str(locked.incident_id),
                "reference": duty.incident.reference,
                "code": locked.code,
                "reminder": name,
                "recipients": len(recipients),
            },
        )
        if recipients:
            subject, body = _describe(workspace, locked, name, now)
            transaction.on_commit(
                lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients)
            )
    return name


def duty_reminders_run(*, workspace: Workspace, now: datetime | None = None) -> dict[str, int]:
    """Send the reminders due now in one workspace; how many of each were sent."""
    now = now or timezone.now()
    counts = {name: 0 for name, _before in REMINDERS} | {"overdue": 0}
    horizon = now + HORIZON
    candidates = list(
        open_duties(workspace=workspace).filter(Q(due_at__lte=horizon) | Q(due_at__isnull=True, target_at__lte=horizon))
    )
    due = [(d, reminder_due(d, now)) for d in candidates]
    if not any(name for _d, name in due):
        return counts
    recipients = reminder_recipients(workspace=workspace)
    for duty, name in due:
        if name is None:
            continue
        sent = _remind(workspace, duty, recipients, now)
        if sent is not None:
            counts[sent] += 1
    return counts
