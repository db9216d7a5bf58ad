"""Telling the people affected by a breach: once each, in batches, with progress.

- ``incident_notices_start`` begins (or resumes) the notices of one incident. Only when
  the people's duty was decided "notify" and is not yet done, the list of people is
  frozen (the finder), and the workspace has a privacy contact for the notice to name.
  After the deadline it requires the reasons for the delay (GDPR Art. 34 "without undue
  delay"; kept on the duty, as a late filing's). The batch task is queued on commit.
- ``incident_notices_batch`` tells one batch of people. Exactly once per person: the
  batch locks its pending ``AffectedPerson`` rows (``FOR UPDATE SKIP LOCKED``: two
  workers take different rows), creates each person's message through the
  communications pipeline (``legal_notice_send``: a ``Communication`` on the debt's
  timeline, delivered at most once by the delivery task) and marks the row ``sent`` in
  the same transaction. A worker killed mid-batch rolls all of it back (no message, no
  mark) and the next run takes the same people again; a committed batch is never
  redone. Messages go after the commit; one whose hand-off a killed worker never
  queued is queued again when the run finishes (delivery claims each message once, so
  queuing twice sends once).
- A person with neither a usable email nor a phone on file (or whose data was erased)
  is ``no_contact``; the email is preferred, else an SMS.
- When no one is left, the people's duty is recorded done (``duty_done``) with the
  reasons given at the start if the deadline has passed meanwhile; without them the
  duty stays open for the officer to record with the reasons.

A notice is a notice the law requires, not collection contact: the contact rules are
not asked (an opt-out or a cease-communication request does not stop it) and it does not
count as the debt's last contact. The content is in ``notice_messages``.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from accounts.models import Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from communications.models import Communication
from communications.services import legal_notice_send
from communications.tasks import deliver_communication
from debtors.models import Debt, Debtor
from incidents import notice_tasks  # the tasks call back into this module: imported as a module
from incidents.contact import contact_point
from incidents.models import AffectedPerson, Decision, Duty, Incident, IncidentUpdate, NoticeStatus, Party
from incidents.notice_messages import NOTICE_TEMPLATE, NoticeFacts, language_of, notice_message
from incidents.services import duty_done

BATCH_SIZE = 200
STARTED = "notices"  # IncidentUpdate.kind of the start (and of each resumption)


def notice_template(incident: Incident) -> str:
    """``Communication.template`` of this incident's notices: how they are found again."""
    return f"{NOTICE_TEMPLATE}@{incident.reference}"


def people_duty(incident: Incident) -> Duty | None:
    return (
        Duty.objects.for_workspace(incident.workspace_id)
        .filter(incident=incident, party=Party.PEOPLE, client__isnull=True)
        .first()
    )


def notices_started(incident: Incident) -> bool:
    return IncidentUpdate.objects.for_workspace(incident.workspace_id).filter(incident=incident, kind=STARTED).exists()


@dataclass(frozen=True)
class NoticeProgress:
    """Where the notices of one incident stand: people by notice status, and the
    messages by delivery status."""

    total: int = 0
    pending: int = 0
    sent: int = 0
    no_contact: int = 0
    failed: int = 0
    delivery: dict[str, int] = field(default_factory=dict)
    started: bool = False
    duty_done: bool = False

    @property
    def handled(self) -> int:
        return self.total - self.pending

    @property
    def percent(self) -> int:
        return (100 * self.handled) // self.total if self.total else 0

    @property
    def running(self) -> bool:
        return self.started and self.pending > 0

    @property
    def finished(self) -> bool:
        return self.started and self.total > 0 and self.pending == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "pending": self.pending,
            "sent": self.sent,
            "no_contact": self.no_contact,
            "failed": self.failed,
            "handled": self.handled,
            "percent": self.percent,
            "delivery": dict(self.delivery),
            "started": self.started,
            "running": self.running,
            "finished": self.finished,
            "duty_done": self.duty_done,
        }


def notices_progress(*, incident: Incident) -> NoticeProgress:
    """Counts only (three grouped queries), whatever the number of people."""
    workspace_id = incident.workspace_id
    people = AffectedPerson.objects.for_workspace(workspace_id).filter(incident=incident)
    by_status = dict(people.values_list("notice_status").annotate(n=Count("pk")).order_by())
    delivery = dict(
        Communication.objects.for_workspace(workspace_id)
        .filter(pk__in=people.exclude(communication_id=None).values("communication_id"))
        .values_list("status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    duty = people_duty(incident)
    return NoticeProgress(
        total=sum(by_status.values()),
        pending=by_status.get(NoticeStatus.PENDING, 0),
        sent=by_status.get(NoticeStatus.SENT, 0),
        no_contact=by_status.get(NoticeStatus.NO_CONTACT, 0),
        failed=by_status.get(NoticeStatus.FAILED, 0),
        delivery=delivery,
        started=notices_started(incident),
        duty_done=duty is not None and duty.done_at is not None,
    )


def start_blockers(*, incident: Incident, duty: Duty | None) -> list[str]:
    """Why the notices cannot start (or resume) now, each saying what to do first;
    empty when they can."""
    if duty is None:
        return ["This incident has no duty to tell the people affected (is it judged high risk?)."]
    if duty.done_at is not None:
        return ["The people affected are already recorded as notified."]
    found = []
    if duty.decision != Decision.NOTIFY:
        found.append("Decide to notify the people affected, with the reason, on their duty's card.")
    if incident.affected_frozen_at is None:
        found.append("Find the people affected and freeze the list on the incident.")
    elif not AffectedPerson.objects.for_workspace(incident.workspace_id).filter(incident=incident).exists():
        found.append("The frozen list has no one on it: there is no one to tell.")
    contact = contact_point(Workspace.objects.get(pk=incident.workspace_id))
    if contact is None or not contact.usable:
        found.append(
            "Set the workspace's privacy contact (with an email or a phone): the notice must tell people whom to contact."
        )
    return found


def _local(workspace_id: int, moment: datetime) -> str:
    zone = Workspace.objects.get(pk=workspace_id).timezone
    return f"{moment.astimezone(zoneinfo.ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}"


def incident_notices_start(
    *, incident: Incident, actor: Actor = None, late_reason: str = "", now: datetime | None = None
) -> int:
    """Begin (or resume) telling the people affected; returns how many are still to be
    told. Rules in the module docstring; each refusal says what to do first."""
    now = now or timezone.now()
    late_reason = (late_reason or "").strip()
    with transaction.atomic():
        incident = Incident.objects.for_workspace(incident.workspace_id).select_for_update().get(pk=incident.pk)
        duty = people_duty(incident)
        if duty is not None:
            duty = Duty.objects.for_workspace(incident.workspace_id).select_for_update().get(pk=duty.pk)
        blockers = start_blockers(incident=incident, duty=duty)
        if blockers or duty is None:
            raise ValidationError({"notices": blockers[0] if blockers else "No duty to tell the people."})
        people = AffectedPerson.objects.for_workspace(incident.workspace_id).filter(incident=incident)
        deadline = duty.due_at or duty.target_at
        if deadline is not None and now > deadline:
            if not late_reason and not duty.late_reason:
                raise ValidationError(
                    {
                        "late_reason": f"The deadline passed ({_local(incident.workspace_id, deadline)}): "
                        "give the reasons for the delay."
                    }
                )
            if late_reason:
                duty.late_reason = late_reason
                duty.save(update_fields=["late_reason"])
        pending = people.filter(notice_status=NoticeStatus.PENDING).count()
        resumed = notices_started(incident)
        update = IncidentUpdate(
            workspace_id=incident.workspace_id,
            incident=incident,
            author=actor_user(actor),
            kind=STARTED,
            text=(
                f"Notices resumed: {pending} still to be told."
                if resumed
                else f"Notices to the people affected started: {pending} to be told (email, else SMS)."
            ),
            at=now,
        )
        update.save(force_insert=True)
        audit_record(
            action=actions.INCIDENT_NOTIFIED,
            workspace=incident.workspace_id,
            obj=incident,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"step": "resumed" if resumed else "started", "pending": pending, "late": bool(duty.late_reason)},
        )
        workspace_id, incident_id = incident.workspace_id, str(incident.pk)
        transaction.on_commit(lambda: notice_tasks.incident_notices_run.delay(workspace_id, incident_id))
    return pending


def _usable_email(value: str | None) -> str:
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    return "" if value.lower().endswith(".invalid") else value


def notice_channel(debtor: Debtor) -> str:
    """``email`` for a usable email on file, else ``sms`` for a phone, else "" (an
    erased person's values read as empty)."""
    if _usable_email(debtor.email):
        return "email"
    return "sms" if (debtor.phone or "").strip() else ""


@dataclass
class BatchResult:
    sent: int = 0
    no_contact: int = 0
    failed: int = 0
    remaining: int = 0
    finished: bool = False
    communication_ids: list[str] = field(default_factory=list)


def incident_notices_batch(
    *, workspace: Workspace, incident_id: Any, size: int = BATCH_SIZE, now: datetime | None = None
) -> BatchResult:
    """Tell up to ``size`` pending people of the incident (module docstring); when none
    is left, finish the run. Safe to run twice, or in two workers at once."""
    result = BatchResult()
    incident = Incident.objects.for_workspace(workspace).filter(pk=incident_id).first()
    if incident is None:
        return result
    duty = people_duty(incident)
    if duty is None or duty.decision != Decision.NOTIFY or not notices_started(incident):
        return result  # never started, or the decision changed: nothing is sent
    contact = contact_point(workspace)
    if contact is None or not contact.usable:
        return result  # the contact was removed meanwhile: stop until it is set again
    facts = NoticeFacts(workspace=workspace, incident=incident, contact=contact)
    template = notice_template(incident)
    with transaction.atomic():
        rows = list(
            AffectedPerson.objects.for_workspace(workspace)
            .select_for_update(skip_locked=True)
            .filter(incident=incident, notice_status=NoticeStatus.PENDING)
            .order_by("pk")[:size]
        )
        debtor_ids = [row.debtor_id for row in rows]
        debtors = {d.pk: d for d in Debtor.objects.for_workspace(workspace).filter(pk__in=debtor_ids)}
        debts: dict[Any, list[Debt]] = {}
        for debt in (
            Debt.objects.for_workspace(workspace)
            .filter(debtor_id__in=debtor_ids)
            .select_related("client")
            .order_by("created_at", "pk")
        ):
            debts.setdefault(debt.debtor_id, []).append(debt)
        at = now or timezone.now()
        for row in rows:
            _tell(row, debtors.get(row.debtor_id), debts.get(row.debtor_id, []), facts, template, at, result)
        if rows:
            AffectedPerson.objects.for_workspace(workspace).bulk_update(
                rows, ["notice_status", "notice_claimed_at", "notified_at", "communication_id", "channel"]
            )
            audit_record(
                action=actions.INCIDENT_NOTIFIED,
                workspace=workspace,
                obj=incident,
                metadata={
                    "step": "batch",
                    "sent": result.sent,
                    "no_contact": result.no_contact,
                    "failed": result.failed,
                },
            )
    result.remaining = (
        AffectedPerson.objects.for_workspace(workspace)
        .filter(incident=incident, notice_status=NoticeStatus.PENDING)
        .count()
    )
    if result.remaining == 0:
        _finish(workspace, incident, duty, exclude=set(result.communication_ids))
        result.finished = True
    return result


def _tell(
    row: AffectedPerson,
    debtor: Debtor | None,
    theirs: list[Debt],
    facts: NoticeFacts,
    template: str,
    at: datetime,
    result: BatchResult,
) -> None:
    """One person, inside the batch's transaction: their message, and their row marked."""
    row.notice_claimed_at = at
    channel = notice_channel(debtor) if debtor is not None else ""
    if not channel:
        row.notice_status = NoticeStatus.NO_CONTACT
        result.no_contact += 1
        return
    if not theirs:  # a contact on file but no account to send through (the log needs a debt)
        row.notice_status = NoticeStatus.FAILED
        result.failed += 1
        return
    assert debtor is not None
    subject, body = notice_message(
        facts=facts,
        accounts=[f"{d.reference} ({d.client.name})" for d in theirs],
        categories=list(row.categories or []),
        channel=channel,
        language=language_of(debtor.preferred_language),
    )
    communication = legal_notice_send(
        debt=theirs[-1],
        channel=channel,
        subject=subject,
        body=body,
        template=template,
        template_label=f"notice of security incident {facts.incident.reference}",
        at=at,
    )
    row.notice_status, row.notified_at = NoticeStatus.SENT, at
    row.communication_id, row.channel = communication.pk, channel
    result.sent += 1
    result.communication_ids.append(str(communication.pk))


def _finish(workspace: Workspace, incident: Incident, duty: Duty, *, exclude: set[str]) -> None:
    """Everyone is handled: queue again any message a killed worker left unqueued, and
    record the people's duty done (with the start's reasons if it is late now)."""
    told = AffectedPerson.objects.for_workspace(workspace).filter(incident=incident, notice_status=NoticeStatus.SENT)
    queued = (
        Communication.objects.for_workspace(workspace)
        .filter(pk__in=told.values("communication_id"), status="queued")
        .values_list("pk", flat=True)
    )
    for pk in queued:
        if str(pk) not in exclude:
            deliver_communication.delay(workspace.pk, str(pk), None)
    duty = Duty.objects.for_workspace(workspace).get(pk=duty.pk)
    if duty.done_at is not None:
        return
    deadline = duty.due_at or duty.target_at
    if deadline is not None and timezone.now() > deadline and not duty.late_reason:
        return  # late, and no reasons were given: the officer records it with them (the section says so)
    duty_done(duty=duty, late_reason=duty.late_reason)


STALLED_AFTER = timedelta(minutes=10)


def notices_resume_stalled(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Queue the run again for every incident whose notices started, still have people
    to tell and made no progress for ``STALLED_AFTER`` (a worker killed mid-batch: its
    task message would come back only after the broker's visibility timeout). Queuing a
    run that is in fact alive is harmless: batches skip each other's rows. How many."""
    now = now or timezone.now()
    since = now - STALLED_AFTER
    incidents = (
        Incident.objects.for_workspace(workspace)
        .filter(
            affected__notice_status=NoticeStatus.PENDING,
            duties__party=Party.PEOPLE,
            duties__decision=Decision.NOTIFY,
            duties__done_at__isnull=True,
            updates__kind=STARTED,
        )
        .distinct()
    )
    queued = 0
    for incident in incidents:
        people = AffectedPerson.objects.for_workspace(workspace).filter(incident=incident)
        last = people.aggregate(last=Max("notice_claimed_at"))["last"]
        started = (
            IncidentUpdate.objects.for_workspace(workspace)
            .filter(incident=incident, kind=STARTED)
            .aggregate(last=Max("at"))["last"]
        )
        if max(filter(None, (last, started)), default=now) > since:
            continue
        notice_tasks.incident_notices_run.delay(workspace.pk, str(incident.pk))
        queued += 1
    return queued
