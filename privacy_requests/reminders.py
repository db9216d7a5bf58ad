"""Deadline reminders for rights requests (the daily beat job, tasks.privacy_reminders).

The workspace's privacy contact is emailed 7 and 2 days before each open
request's deadline in force (``deadlines.REMIND_DAYS_BEFORE``), and once when it
is overdue. Who is emailed: the privacy contact's member (``contact_user``) if
still a member, else the contact email shown on the public pages, else the
workspace's owners.

Each reminder is claimed with a conditional UPDATE on its own column
(``reminded_7_at``, ``reminded_2_at``, ``overdue_flagged_at``) before anything
is sent, so running the job twice — or two workers at once — sends nothing
twice. A reminder counts for the deadline it was sent for: once a request is
extended, its new deadline gets its own reminders. Every reminder is a timeline
note and an audit event (``privacy_request.reminded``); the emails carry the
reference, the type and the deadline, never the person's data.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.roles import Role
from audit import actions
from audit.services import audit_record
from privacy_requests import deadlines
from privacy_requests.models import OPEN_STATUSES, PrivacyRequest, RequestType
from privacy_requests.selectors import due_before, effective_due, privacy_contact_get
from privacy_requests.services import privacy_request_note

FAR, NEAR = sorted(deadlines.REMIND_DAYS_BEFORE, reverse=True)  # 7, 2
OVERDUE = "overdue"
_COLUMN = {FAR: "reminded_7_at", NEAR: "reminded_2_at", OVERDUE: "overdue_flagged_at"}


def reminder_recipients(*, workspace: Workspace) -> list[str]:
    """The privacy contact's member, else its published email, else the owners."""
    contact = privacy_contact_get(workspace=workspace)
    members = Membership.objects.for_workspace(workspace).filter(client__isnull=True, user__is_active=True)
    if contact is not None and contact.contact_user_id is not None:
        member = members.filter(user_id=contact.contact_user_id).select_related("user").first()
        if member is not None and member.user.email:
            return [member.user.email]
    if contact is not None and contact.contact_email:
        return [contact.contact_email]
    return sorted(members.filter(role=Role.OWNER).values_list("user__email", flat=True))


def _sent_for(sent_at: datetime | None, deadline: datetime, days: int, workspace: Workspace) -> bool:
    """Whether a reminder was sent inside this deadline's last ``days`` days (one sent
    for the deadline before an extension does not count)."""
    if sent_at is None:
        return False
    left = deadlines.days_left(deadline, now=sent_at, workspace=workspace)
    return left is not None and left <= days


def reminder_due(request: PrivacyRequest, *, workspace: Workspace, now: datetime) -> str | int | None:
    """Which reminder this request needs now: ``"overdue"``, 2, 7 or None. A job
    that missed a day catches up (≤ 7 days left and none sent yet)."""
    deadline = request.effective_due_at
    if not request.is_open or deadline is None:
        return None
    left = deadlines.days_left(deadline, now=now, workspace=workspace)
    assert left is not None
    if left < 0:
        return OVERDUE if request.overdue_flagged_at is None else None
    if left <= NEAR:
        return None if _sent_for(request.reminded_2_at, deadline, NEAR, workspace) else NEAR
    if left <= FAR:
        return None if _sent_for(request.reminded_7_at, deadline, FAR, workspace) else FAR
    return None


def _email(workspace: Workspace, request: PrivacyRequest, kind: str | int, recipients: list[str]) -> None:
    deadline = request.effective_due_at
    assert deadline is not None
    local = deadline.astimezone(zoneinfo.ZoneInfo(workspace.timezone))
    url = settings.SITE_URL.rstrip("/") + reverse("privacy_desk_request", args=[workspace.slug, request.pk])
    what = RequestType(request.type).label
    if kind == OVERDUE:
        subject = f"[{workspace.name}] Overdue: privacy request {request.reference}"
        lead = f"The deadline to answer privacy request {request.reference} passed on {local:%d %B %Y}."
    else:
        subject = f"[{workspace.name}] Privacy request {request.reference} is due in {kind} days"
        lead = f"Privacy request {request.reference} must be answered by {local:%d %B %Y} ({kind} days left)."
    send_mail(
        subject=subject,
        message=(
            f"{lead}\n\nType: {what}\nStatus: {request.get_status_display()}\n"
            f"Deadline: end of {local:%Y-%m-%d} ({workspace.timezone})\n\nOpen it on the privacy desk: {url}\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )


def _remind(workspace: Workspace, request: PrivacyRequest, kind: str | int, now: datetime) -> bool:
    """Claim the reminder (conditional UPDATE), note it and audit it; the email goes
    once the transaction commits. False if another run claimed it first."""
    column = _COLUMN[kind]
    updates = {column: now}
    if kind == NEAR and not _sent_for(request.reminded_7_at, request.effective_due_at, FAR, workspace):  # type: ignore[arg-type]
        updates["reminded_7_at"] = now  # a 2-day reminder makes the 7-day one moot
    with transaction.atomic():
        claimed = (
            PrivacyRequest.objects.for_workspace(workspace)
            .filter(pk=request.pk, **{column: getattr(request, column)})
            .update(**updates)
        )
        if not claimed:
            return False
        recipients = reminder_recipients(workspace=workspace)
        deadline = request.effective_due_at
        assert deadline is not None
        day = deadline.astimezone(zoneinfo.ZoneInfo(workspace.timezone)).date().isoformat()
        if kind == OVERDUE:
            note = f"Overdue: the deadline ({day}) passed; the privacy contact was alerted"
        else:
            note = f"Reminder: {kind} days left (deadline {day}); the privacy contact was emailed"
        privacy_request_note(
            request=request,
            kind="overdue" if kind == OVERDUE else "reminder",
            reason=note if recipients else note.split(";")[0] + "; no one to email (set a privacy contact)",
            actor_label="system",
        )
        audit_record(
            action=actions.PRIVACY_REQUEST_REMINDED,
            workspace=workspace,
            obj=request,
            metadata={"kind": OVERDUE if kind == OVERDUE else f"{kind}_days", "recipients": len(recipients)},
        )
        if recipients:
            transaction.on_commit(lambda: _email(workspace, request, kind, recipients))
    return True


def privacy_reminders_run(*, workspace: Workspace, now: datetime | None = None) -> dict[str, int]:
    """Send the reminders due today in one workspace; how many of each were sent."""
    now = now or timezone.now()
    tz = zoneinfo.ZoneInfo(workspace.timezone)
    horizon = datetime.combine(now.astimezone(tz).date() + timedelta(days=FAR + 1), datetime.min.time(), tzinfo=tz)
    candidates = PrivacyRequest.objects.for_workspace(workspace).filter(due_before(horizon), status__in=OPEN_STATUSES)
    counts = {f"reminded_{FAR}": 0, f"reminded_{NEAR}": 0, "overdue_flagged": 0}
    for request in candidates.order_by(effective_due(), "id"):
        kind = reminder_due(request, workspace=workspace, now=now)
        if kind is not None and _remind(workspace, request, kind, now):
            counts["overdue_flagged" if kind == OVERDUE else f"reminded_{kind}"] += 1
    return counts
