"""Handling a security alert (raised by ``incidents.alerts``) and setting the thresholds.

- ``alert_dismiss``: an open alert is dismissed with its reason (required, kept).
- ``alert_to_incident``: an alert becomes a suspected incident carrying its evidence,
  and is linked to it.
- ``alert_thresholds_save``: the workspace's thresholds, each counted per its window.

Each runs in one transaction with its audit event.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from incidents.models import AlertStatus, AlertThresholds, Incident, SecurityAlert
from incidents.services import IncidentInput, incident_create, incident_phase_add

THRESHOLD_FIELDS = (
    "reveals_per_hour",
    "exports_per_day",
    "export_rows_per_day",
    "failed_logins_per_15_minutes",
    "not_found_per_hour",
)
THRESHOLD_MAX = 1_000_000


def _locked(alert: SecurityAlert) -> SecurityAlert:
    return SecurityAlert.objects.for_workspace(alert.workspace_id).select_for_update().get(pk=alert.pk)


def alert_dismiss(
    *, alert: SecurityAlert, reason: str, actor: Actor = None, now: datetime | None = None
) -> SecurityAlert:
    """Dismiss an open alert; the reason is required and kept with it."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Say why this alert needs no incident (it is kept with the alert)."})
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status != AlertStatus.OPEN:
            raise ValidationError({"reason": f"This alert is already {alert.get_status_display().lower()}."})
        alert.status, alert.dismissed_reason = AlertStatus.DISMISSED, reason
        alert.handled_by, alert.handled_at = actor_user(actor), now
        alert.save(update_fields=["status", "dismissed_reason", "handled_by", "handled_at"])
        audit_record(
            action=actions.ALERT_DISMISSED,
            workspace=alert.workspace_id,
            obj=alert,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"kind": alert.kind},
        )
    return alert


EVIDENCE_LABELS = {
    "user_id": "Member (user id)",
    "people": "Different people revealed",
    "reveals": "Reveals",
    "subjects": "People revealed (ids)",
    "exports": "Exports and downloads",
    "rows": "Rows exported",
    "actions": "Kinds of export",
    "limit": "Limit reached",
    "failures": "Failed sign-ins",
    "user_ids": "Accounts tried (user ids)",
    "network": "Network",
    "networks": "Networks",
    "api_key_id": "API key (id)",
    "api_key_prefix": "API key (prefix)",
    "not_found": "Not-found answers",
    "known_networks": "Networks the key was used from before",
    "window_minutes": "Window (minutes)",
    "audit_event_ids": "Audit events (ids)",
}


def evidence_lines(evidence: dict[str, Any]) -> list[tuple[str, str]]:
    """The evidence as (label, value) pairs, in a stable order, for pages and text."""
    order = list(EVIDENCE_LABELS)
    keys = sorted(evidence, key=lambda k: (order.index(k) if k in order else len(order), k))
    lines = []
    for key in keys:
        value = evidence[key]
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        lines.append((EVIDENCE_LABELS.get(key, key.replace("_", " ").capitalize()), shown or "—"))
    return lines


def _summary(alert: SecurityAlert, zone: zoneinfo.ZoneInfo) -> str:
    start = alert.window_start.astimezone(zone)
    end = alert.window_end.astimezone(zone)
    who = (
        f"member with user id {alert.actor_user_id}"
        if alert.actor_user_id is not None
        else f"API key {alert.actor_api_key_id}"
        if alert.actor_api_key_id
        else f"network {alert.evidence.get('network', '?')}"
    )
    return (
        f"Security alert raised by CollectPro on {alert.created_at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key}): "
        f"{alert.get_kind_display().lower()}, by the {who}, between {start:%Y-%m-%d %H:%M} and "
        f"{end:%Y-%m-%d %H:%M}; {alert.count} counted against a threshold of {alert.threshold}. "
        "To be investigated: who did this, whether it was authorised, and whose data it touched "
        "(the affected-people finder, from the same user, key and window)."
    )


def alert_to_incident(*, alert: SecurityAlert, actor: Actor = None, now: datetime | None = None) -> Incident:
    """Turn an open (or dismissed) alert into a suspected incident: the summary in what
    happened, the full evidence as its first update, the alert linked to it. The
    incident's clocks start now, when the workspace judged the alert a likely breach;
    correct the awareness on the incident if it was earlier."""
    now = now or timezone.now()
    with transaction.atomic():
        alert = _locked(alert)
        if alert.status == AlertStatus.INCIDENT:
            raise ValidationError({"alert": "This alert is already an incident."})
        workspace = Workspace.objects.get(pk=alert.workspace_id)
        zone = zoneinfo.ZoneInfo(workspace.timezone)
        incident = incident_create(
            workspace=workspace,
            data=IncidentInput(
                title=f"Security alert: {alert.get_kind_display()}",
                what_happened=_summary(alert, zone),
                aware_at=now,
                occurred_at=alert.window_start,
                occurred_until=alert.window_end,
            ),
            actor=actor,
            now=now,
        )
        incident_phase_add(
            incident=incident,
            text="Evidence of the alert:\n"
            + "\n".join(f"{label}: {value}" for label, value in evidence_lines(alert.evidence)),
            actor=actor,
        )
        alert.status, alert.incident = AlertStatus.INCIDENT, incident
        alert.handled_by, alert.handled_at = actor_user(actor), now
        alert.save(update_fields=["status", "incident", "handled_by", "handled_at"])
        audit_record(
            action=actions.ALERT_TO_INCIDENT,
            workspace=workspace,
            obj=alert,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"kind": alert.kind, "incident": str(incident.pk), "reference": incident.reference},
        )
    return incident


def alert_thresholds_save(
    *, workspace: Workspace, values: dict[str, Any], actor: Actor = None, now: datetime | None = None
) -> AlertThresholds:
    """Set the workspace's alert thresholds: each a whole number from 1 to a million
    (counted per window), and whether new networks of an API key raise alerts."""
    errors = {
        name: f"A whole number from 1 to {THRESHOLD_MAX:,}."
        for name in THRESHOLD_FIELDS
        if name in values
        and (
            not isinstance(values[name], int)
            or isinstance(values[name], bool)
            or not 1 <= values[name] <= THRESHOLD_MAX
        )
    }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        thresholds = AlertThresholds.objects.for_workspace(workspace).select_for_update().first()
        if thresholds is None:
            thresholds = AlertThresholds(workspace=workspace)
        changed = [
            name
            for name in (*THRESHOLD_FIELDS, "new_network_alerts")
            if name in values and getattr(thresholds, name) != values[name]
        ]
        if not changed:
            return thresholds
        before = {name: getattr(thresholds, name) for name in changed}
        for name in changed:
            setattr(thresholds, name, values[name])
        thresholds.updated_at = now or timezone.now()
        thresholds.save()
        audit_record(
            action=actions.WORKSPACE_SETTINGS_CHANGED,
            workspace=workspace,
            obj=thresholds,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={
                "setting": "security_alert_thresholds",
                "fields": changed,
                "changes": [f"{name}: {before[name]} -> {values[name]}" for name in changed],
            },
        )
    return thresholds
