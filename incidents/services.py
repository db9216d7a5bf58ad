"""Writing the breach register. Every change is audited and written to the incident's
history in the same transaction.

- ``incident_create`` records an incident (suspected by default) and opens its clocks.
- ``incident_edit`` changes the facts (what, when, categories, numbers, consequences,
  measures, risk); the clocks follow (a high-risk incident gains the people's duty).
- ``incident_transition`` moves the status along ``INCIDENT_TRANSITIONS``.
- ``incident_phase_add`` adds information in phases (GDPR Art. 33(4)).
- ``duties_sync`` creates the duties the incident has now (never removes one: a duty
  once owed is decided, not deleted).
- ``duty_decide`` records whether to notify a party and why (a "not required" needs
  its reason: GDPR Art. 33(5) documentation).
- ``duty_done`` records the filing or the sending; after the deadline it requires the
  reason for the delay (GDPR Art. 33(1)).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Client, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from incidents.clocks import DutySpec, duty_specs
from incidents.models import (
    INCIDENT_TRANSITIONS,
    AlertThresholds,
    Decision,
    Duty,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    Party,
)
from kernel.privacy.registry import Category

SUBJECT_KINDS = {
    "debtors": "Debtors",
    "staff": "Staff users",
    "client_contacts": "Clients' contacts",
    "visitors": "Website visitors",
}
EDITABLE = (
    "title",
    "what_happened",
    "occurred_at",
    "occurred_until",
    "aware_at",
    "data_categories",
    "subject_kinds",
    "approx_subjects",
    "approx_records",
    "likely_consequences",
    "measures_taken",
    "measures_proposed",
    "high_risk",
    "cert_in_listed",
    "data_unintelligible",
)


@dataclass
class IncidentInput:
    title: str
    what_happened: str
    aware_at: datetime
    occurred_at: datetime | None = None
    occurred_until: datetime | None = None
    data_categories: list[str] = field(default_factory=list)
    subject_kinds: list[str] = field(default_factory=list)
    approx_subjects: int | None = None
    approx_records: int | None = None
    likely_consequences: str = ""
    measures_taken: str = ""
    measures_proposed: str = ""
    high_risk: bool = False
    cert_in_listed: bool = False
    data_unintelligible: bool = False


def thresholds_for(workspace: Workspace) -> AlertThresholds:
    found = AlertThresholds.objects.for_workspace(workspace).first()
    return found if found is not None else AlertThresholds(workspace=workspace)


def _clean(data: IncidentInput, now: datetime) -> IncidentInput:
    errors: dict[str, str] = {}
    data.title = " ".join((data.title or "").split())[:200]
    data.what_happened = (data.what_happened or "").strip()
    if not data.title:
        errors["title"] = "Give the incident a short title."
    if not data.what_happened:
        errors["what_happened"] = "Say what happened (without any person's details)."
    if data.aware_at is None:
        errors["aware_at"] = "When did the workspace become aware? The clocks start then."
    elif data.aware_at > now:
        errors["aware_at"] = "Awareness cannot be in the future."
    if data.occurred_at and data.aware_at and data.occurred_at > data.aware_at:
        errors["occurred_at"] = "It cannot have happened after the workspace became aware of it."
    if data.occurred_at and data.occurred_until and data.occurred_until < data.occurred_at:
        errors["occurred_until"] = "The end is before the start."
    unknown = [c for c in data.data_categories if c not in Category.values]
    if unknown:
        errors["data_categories"] = f"Unknown categories: {', '.join(unknown)}."
    unknown = [k for k in data.subject_kinds if k not in SUBJECT_KINDS]
    if unknown:
        errors["subject_kinds"] = f"Unknown kinds of people: {', '.join(unknown)}."
    for name in ("approx_subjects", "approx_records"):
        value = getattr(data, name)
        if value is not None and (not isinstance(value, int) or value < 0):
            errors[name] = "A number of zero or more."
    if errors:
        raise ValidationError(errors)
    return data


def _history(
    incident: Incident, kind: str, text: str = "", *, actor: Actor = None, status_from: str = "", status_to: str = ""
) -> IncidentUpdate:
    update = IncidentUpdate(
        workspace_id=incident.workspace_id,
        incident=incident,
        author=actor_user(actor),
        kind=kind,
        text=text,
        status_from=status_from,
        status_to=status_to,
    )
    update.save(force_insert=True)
    return update


def _next_reference(workspace: Workspace, year: int) -> str:
    prefix = f"INC-{year}-"
    taken = Incident.objects.for_workspace(workspace).filter(reference__startswith=prefix).count()
    return f"{prefix}{taken + 1:04d}"


def incident_create(
    *, workspace: Workspace, data: IncidentInput, actor: Actor = None, now: datetime | None = None
) -> Incident:
    """Record an incident (suspected) and open its clocks from ``aware_at``."""
    now = now or timezone.now()
    data = _clean(data, now)
    for attempt in range(3):
        try:
            with transaction.atomic():
                incident = Incident(
                    workspace=workspace,
                    reference=_next_reference(workspace, now.astimezone(zoneinfo.ZoneInfo(workspace.timezone)).year),
                    created_by=actor_user(actor),
                    created_at=now,
                    updated_at=now,
                    **{name: getattr(data, name) for name in EDITABLE},
                )
                incident.save(force_insert=True)
                _history(incident, "created", "Incident recorded", actor=actor, status_to=incident.status)
                audit_record(
                    action=actions.INCIDENT_CREATED,
                    workspace=workspace,
                    obj=incident,
                    actor_user_id=getattr(actor_user(actor), "pk", None),
                    metadata={"reference": incident.reference, "high_risk": incident.high_risk},
                )
                duties_sync(incident=incident)
                return incident
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def incident_edit(
    *, incident: Incident, data: IncidentInput, actor: Actor = None, now: datetime | None = None
) -> Incident:
    """Change the facts; the history says which fields changed, the clocks follow."""
    now = now or timezone.now()
    data = _clean(data, now)
    with transaction.atomic():
        incident = Incident.objects.for_workspace(incident.workspace_id).select_for_update().get(pk=incident.pk)
        changed = [name for name in EDITABLE if getattr(incident, name) != getattr(data, name)]
        if not changed:
            return incident
        for name in changed:
            setattr(incident, name, getattr(data, name))
        incident.updated_at = now
        incident.save(update_fields=[*changed, "updated_at"])
        _history(incident, "edited", "Changed: " + ", ".join(changed), actor=actor)
        audit_record(
            action=actions.INCIDENT_UPDATED,
            workspace=incident.workspace_id,
            obj=incident,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"fields": changed},
        )
        if "aware_at" in changed:
            _restart_clocks(incident)
        duties_sync(incident=incident)
    return incident


def incident_transition(
    *, incident: Incident, to: str, actor: Actor = None, reason: str = "", now: datetime | None = None
) -> Incident:
    now = now or timezone.now()
    with transaction.atomic():
        incident = Incident.objects.for_workspace(incident.workspace_id).select_for_update().get(pk=incident.pk)
        if to not in INCIDENT_TRANSITIONS.get(incident.status, frozenset()):
            raise ValidationError(
                {"status": f"An incident cannot go from {incident.get_status_display().lower()} to {to}."}
            )
        if to == IncidentStatus.CLOSED and not reason.strip():
            raise ValidationError(
                {"reason": "Say why the incident is closed (e.g. contained and notified, or no breach)."}
            )
        was = incident.status
        incident.status = to
        stamp = {"confirmed": "confirmed_at", "contained": "contained_at", "closed": "closed_at"}.get(to)
        fields = ["status", "updated_at"]
        if stamp:
            setattr(incident, stamp, now)
            fields.append(stamp)
        incident.updated_at = now
        incident.save(update_fields=fields)
        _history(incident, "status", reason.strip(), actor=actor, status_from=was, status_to=to)
        audit_record(
            action=actions.INCIDENT_STATUS_CHANGED,
            workspace=incident.workspace_id,
            obj=incident,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"from": was, "to": to},
        )
    return incident


def incident_phase_add(*, incident: Incident, text: str, actor: Actor = None) -> IncidentUpdate:
    """Information added in phases (GDPR Art. 33(4))."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write what is new."})
    with transaction.atomic():
        update = _history(incident, "phase", text, actor=actor)
        Incident.objects.for_workspace(incident.workspace_id).filter(pk=incident.pk).update(updated_at=timezone.now())
        audit_record(
            action=actions.INCIDENT_UPDATED,
            workspace=incident.workspace_id,
            obj=incident,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"phase": True},
        )
    return update


def involved_clients(incident: Incident) -> list[Client]:
    """Clients whose data the incident involves: the clients of the affected people's
    debts (once the finder has frozen them) and any client named by the finder."""
    client_ids = set(incident.finder.get("client_ids", []) if isinstance(incident.finder, dict) else [])
    debtor_ids = list(incident.affected.values_list("debtor_id", flat=True))
    if debtor_ids:
        from_debts = (
            Client.objects.for_workspace(incident.workspace_id)
            .filter(debts__debtor_id__in=debtor_ids)
            .values_list("pk", flat=True)
            .distinct()
        )
        client_ids |= {str(pk) for pk in from_debts}
    return list(Client.objects.for_workspace(incident.workspace_id).filter(pk__in=client_ids).order_by("name"))


def _spec_key(spec: DutySpec) -> tuple[str, Any]:
    return (spec.code, spec.client.pk if spec.client is not None else None)


def duties_sync(*, incident: Incident) -> list[Duty]:
    """Create the duties the incident now has; existing ones keep their decisions."""
    workspace = Workspace.objects.get(pk=incident.workspace_id)
    specs = duty_specs(
        workspace=workspace,
        incident=incident,
        clients=involved_clients(incident),
        target_hours=thresholds_for(workspace).authority_target_hours,
    )
    existing = {(d.code, d.client_id): d for d in Duty.objects.for_workspace(workspace).filter(incident=incident)}
    for spec in specs:
        if _spec_key(spec) in existing:
            continue
        duty = Duty(
            workspace=workspace,
            incident=incident,
            party=spec.party,
            code=spec.code,
            client=spec.client,
            label=spec.label,
            source=spec.source,
            starts_at=incident.aware_at,
            due_at=spec.due_at,
            target_at=spec.target_at,
        )
        duty.save(force_insert=True)
        existing[_spec_key(spec)] = duty
    return sorted(existing.values(), key=lambda d: (d.due_at or d.target_at or incident.aware_at, d.code))


def _restart_clocks(incident: Incident) -> None:
    """Awareness was corrected: every open clock counts from the new moment."""
    workspace = Workspace.objects.get(pk=incident.workspace_id)
    specs = {
        _spec_key(s): s
        for s in duty_specs(
            workspace=workspace,
            incident=incident,
            clients=involved_clients(incident),
            target_hours=thresholds_for(workspace).authority_target_hours,
        )
    }
    for duty in Duty.objects.for_workspace(workspace).filter(incident=incident, done_at__isnull=True):
        spec = specs.get((duty.code, duty.client_id))
        if spec is None:
            continue
        duty.starts_at, duty.due_at, duty.target_at, duty.reminders_sent = (
            incident.aware_at,
            spec.due_at,
            spec.target_at,
            [],
        )
        duty.save(update_fields=["starts_at", "due_at", "target_at", "reminders_sent"])


def duty_decide(*, duty: Duty, decision: str, reason: str, actor: Actor = None) -> Duty:
    """Whether to notify this party, and why (recorded either way)."""
    reason = (reason or "").strip()
    if decision not in (Decision.NOTIFY, Decision.NOT_REQUIRED):
        raise ValidationError({"decision": "Notify, or not required."})
    if not reason:
        raise ValidationError({"reason": "Give the reason for the decision (it is kept on the register)."})
    with transaction.atomic():
        duty = Duty.objects.for_workspace(duty.workspace_id).select_for_update().get(pk=duty.pk)
        if duty.done_at is not None:
            raise ValidationError({"decision": "This party was already notified."})
        duty.decision, duty.decision_reason = decision, reason
        duty.decided_by, duty.decided_at = actor_user(actor), timezone.now()
        duty.save(update_fields=["decision", "decision_reason", "decided_by", "decided_at"])
        _history(
            duty.incident,
            "decision",
            f"{duty.label}: {duty.get_decision_display().lower()} — {reason}",
            actor=actor,
        )
        audit_record(
            action=actions.INCIDENT_DUTY_DECIDED,
            workspace=duty.workspace_id,
            obj=duty,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"incident": str(duty.incident_id), "code": duty.code, "decision": decision},
        )
    return duty


def duty_done(
    *,
    duty: Duty,
    actor: Actor = None,
    filing_reference: str = "",
    late_reason: str = "",
    now: datetime | None = None,
) -> Duty:
    """Record that the party was notified (filed with the authority, notices sent).
    After the deadline the reason for the delay is required (GDPR Art. 33(1))."""
    now = now or timezone.now()
    with transaction.atomic():
        duty = Duty.objects.for_workspace(duty.workspace_id).select_for_update().get(pk=duty.pk)
        if duty.done_at is not None:
            return duty
        if duty.decision == Decision.NOT_REQUIRED:
            raise ValidationError(
                {"decision": "This party was decided not to need notifying; change the decision first."}
            )
        deadline = duty.due_at or duty.target_at
        late = deadline is not None and now > deadline
        if late and deadline is not None and not late_reason.strip():
            zone = Workspace.objects.get(pk=duty.workspace_id).timezone  # the deadline as the workspace reads it
            raise ValidationError(
                {
                    "late_reason": f"The deadline passed ({deadline.astimezone(zoneinfo.ZoneInfo(zone)):%Y-%m-%d %H:%M} {zone}): give the reasons for the delay."
                }
            )
        duty.done_at, duty.done_by = now, actor_user(actor)
        duty.filing_reference = filing_reference.strip()[:200]
        duty.late_reason = late_reason.strip()
        if duty.decision == Decision.PENDING:
            duty.decision = Decision.NOTIFY
        duty.save(update_fields=["done_at", "done_by", "filing_reference", "late_reason", "decision"])
        _history(
            duty.incident,
            "filed" if duty.party in (Party.AUTHORITY, Party.CERT_IN) else "notified",
            f"{duty.label}: done"
            + (f" (reference {duty.filing_reference})" if duty.filing_reference else "")
            + (f"; late: {duty.late_reason}" if late else ""),
            actor=actor,
        )
        audit_record(
            action=actions.INCIDENT_DUTY_DONE,
            workspace=duty.workspace_id,
            obj=duty,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"incident": str(duty.incident_id), "code": duty.code, "late": late},
        )
    return duty
