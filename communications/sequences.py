"""Collection sequences: cadences that Celery beat advances, always through the
contact rules. A refused step is retried later (it never skips the rules); a debt
can be paused and resumed; ``sequence_preview`` says what comes next and why not."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from audit import actions
from audit.services import audit_record
from communications.log import communication_log
from communications.models import DebtSequence, MessageTemplate, Sequence
from communications.services import communication_send
from consent.rules import can_contact
from consent.services import ContactRefused
from debtors.models import NOT_COLLECTABLE, Debt
from debtors.services.status import debt_event
from kernel.tenancy import workspace_context

CHANNELS = {"email", "sms", "whatsapp", "call", "letter"}
RETRY_AFTER = timedelta(hours=1)


def sequence_create(*, workspace: Any, name: str, steps: list[dict[str, Any]]) -> Sequence:
    errors = []
    last_day = -1
    for i, step in enumerate(steps):
        if step.get("channel") not in CHANNELS:
            errors.append(f"step {i + 1}: channel must be one of {', '.join(sorted(CHANNELS))}")
        if not isinstance(step.get("day"), int) or step["day"] < last_day:
            errors.append(f"step {i + 1}: 'day' must be a whole number, in order")
        else:
            last_day = step["day"]
        if step.get("channel") in ("email", "sms", "whatsapp") and not step.get("template"):
            errors.append(f"step {i + 1}: a message step needs a template")
    if not steps:
        errors.append("a sequence needs at least one step")
    for i, step in enumerate(steps):
        if (
            step.get("channel") in ("email", "sms", "whatsapp")
            and step.get("template")
            and not MessageTemplate.objects.for_workspace(workspace)
            .filter(name=step["template"], channel=step["channel"], is_active=True)
            .exists()
        ):
            errors.append(f"step {i + 1}: there is no active {step['channel']} template named {step['template']!r}")
    if errors:
        raise ValidationError({"steps": errors})
    return Sequence.objects.for_workspace(workspace).create(
        workspace_id=getattr(workspace, "pk", workspace), name=name, steps=steps
    )


def sequence_enrol(*, debt: Debt, sequence: Sequence, start: datetime | None = None) -> DebtSequence:
    start = start or timezone.now()
    enrolment, created = DebtSequence.objects.for_workspace(debt.workspace_id).get_or_create(
        workspace_id=debt.workspace_id,
        debt=debt,
        sequence=sequence,
        defaults={"started_at": start, "next_due_at": start + timedelta(days=sequence.steps[0]["day"])},
    )
    if created:
        debt_event(debt, "sequence", f"Enrolled in sequence “{sequence.name}”", obj=enrolment)
    return enrolment


def sequence_pause(*, enrolment: DebtSequence, paused: bool) -> DebtSequence:
    DebtSequence.objects.for_workspace(enrolment.workspace_id).filter(pk=enrolment.pk).update(paused=paused)
    enrolment.paused = paused
    debt_event(enrolment.debt, "sequence", f"Sequence {'paused' if paused else 'resumed'}", obj=enrolment)
    return enrolment


@dataclass
class StepPreview:
    step: dict[str, Any] | None
    due_at: datetime | None
    allowed_now: bool
    reasons: list[str]


def sequence_preview(*, enrolment: DebtSequence, at: datetime | None = None) -> StepPreview:
    """What this debt will receive next, when, and whether the rules allow it now."""
    at = at or timezone.now()
    steps = enrolment.sequence.steps
    if enrolment.finished_at or enrolment.next_step >= len(steps):
        return StepPreview(None, None, False, ["The sequence has finished."])
    step = steps[enrolment.next_step]
    reasons = ["Paused."] if enrolment.paused else []
    debt = (
        Debt.objects.for_workspace(enrolment.workspace_id)
        .select_related("debtor", "workspace", "client")
        .get(pk=enrolment.debt_id)
    )
    if step["channel"] != "call":
        decision = can_contact(debt, step["channel"], at)
        reasons += [r.message for r in decision.reasons]
    return StepPreview(step, enrolment.next_due_at, not reasons, reasons)


def _run_step(enrolment: DebtSequence, now: datetime) -> str:
    debt = (
        Debt.objects.for_workspace(enrolment.workspace_id)
        .select_related("debtor", "workspace", "client")
        .get(pk=enrolment.debt_id)
    )
    steps = enrolment.sequence.steps
    step = steps[enrolment.next_step]
    if debt.status in NOT_COLLECTABLE:
        DebtSequence.objects.filter(pk=enrolment.pk).update(
            finished_at=now, last_result={"stopped": f"debt {debt.status}"}
        )
        return "stopped"
    try:
        if step["channel"] in ("email", "sms", "whatsapp"):
            communication_send(debt=debt, channel=step["channel"], template_name=step["template"], at=now)
        elif step["channel"] == "letter":
            communication_log(debt=debt, channel="letter", status="queued", template=step.get("template", ""), at=now)
        else:  # a call: a task for the agent, checked against the rules when they call
            debt_event(
                debt,
                "task.call",
                f"Call due (sequence “{enrolment.sequence.name}”, step {enrolment.next_step + 1})",
                obj=enrolment,
            )
    except ContactRefused as exc:
        DebtSequence.objects.filter(pk=enrolment.pk).update(
            next_due_at=now + RETRY_AFTER,
            last_result={"refused": [r.as_dict() for r in exc.decision.reasons], "at": now.isoformat()},
        )
        return "refused"
    except ValidationError as exc:  # e.g. its template was deleted: hold this debt, go on with the others
        DebtSequence.objects.filter(pk=enrolment.pk).update(
            next_due_at=now + RETRY_AFTER, last_result={"error": " ".join(exc.messages)[:300], "at": now.isoformat()}
        )
        return "refused"
    nxt = enrolment.next_step + 1
    if nxt >= len(steps):
        DebtSequence.objects.filter(pk=enrolment.pk).update(
            next_step=nxt, finished_at=now, next_due_at=None, last_result={"done": step}
        )
    else:
        due = enrolment.started_at + timedelta(days=steps[nxt]["day"])
        DebtSequence.objects.filter(pk=enrolment.pk).update(
            next_step=nxt, next_due_at=max(due, now), last_result={"done": step}
        )
    return "done"


def sequences_run_due(*, workspace: Any, now: datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Advance every due, unpaused enrolment by one step. A step is claimed with a
    conditional update so two workers never run it twice."""
    now = now or timezone.now()
    counts = {"done": 0, "refused": 0, "stopped": 0}
    with workspace_context(workspace):
        due = list(
            DebtSequence.objects.filter(paused=False, finished_at__isnull=True, next_due_at__lte=now)
            .select_related("sequence")
            .order_by("next_due_at")[:limit]
        )
    for enrolment in due:
        with workspace_context(workspace), transaction.atomic():
            claimed = DebtSequence.objects.filter(
                pk=enrolment.pk, next_step=enrolment.next_step, next_due_at=enrolment.next_due_at
            ).update(
                next_due_at=now + timedelta(minutes=10)  # lease: a crash retries in 10 minutes
            )
            if not claimed:
                continue
            result = _run_step(enrolment, now)
            counts[result] += 1
    if any(counts.values()):
        with workspace_context(workspace):
            audit_record(action=actions.SEQUENCES_ADVANCED, workspace=workspace, metadata=counts)
    return counts
