"""Security alerts that propose an incident (issue 14, point 5).

What raises one (thresholds per workspace in ``AlertThresholds``, defaults ``DEFAULTS``):

- ``bulk_reveal``: one member saw the details of at least ``reveals_per_hour`` different
  people within an hour (``personal_data.read`` events of the audit trail);
- ``bulk_export``: one member exported or downloaded personal data at least
  ``exports_per_day`` times, or ``export_rows_per_day`` rows, within a day;
- ``failed_logins``: at least ``failed_logins_per_15_minutes`` failed sign-ins within 15
  minutes for one member's account, or from one network against the members (the
  ``auth.login_failed`` events accounts writes to each member's workspaces);
- ``new_network`` and ``cross_tenant_404``: raised while the API answers, by
  ``incidents.alert_hooks``, through ``alert_raise`` below.

``alerts_detect`` (the beat job every 5 minutes) counts over the window that ends now,
each member or network separately. A count at or over its threshold is a **burst**, and
a burst is one alert: a window whose events overlap an alert of the same kind and who
extends that alert (its end, its peak count, its evidence) instead of raising another;
the fingerprint (kind, who, the burst's first event) makes two concurrent runs raise it
once. The evidence holds ids, counts and networks (IPv4 /24, IPv6 /48), never a person's
values. A new alert is audited (``alert.raised``) and emailed to the workspace's owners
once, after the transaction commits.

An alert is dismissed with its reason (``alert_dismiss``) or turned into a suspected
incident carrying its evidence (``alert_to_incident``); either is audited
(``incidents.alert_handling``).
"""

from __future__ import annotations

import ipaddress
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Workspace
from accounts.roles import Role
from audit import actions
from audit.selectors import audit_events_for_workspace
from audit.services import audit_record
from incidents.alert_handling import (
    THRESHOLD_FIELDS,
    alert_dismiss,
    alert_thresholds_save,
    alert_to_incident,
    evidence_lines,
)
from incidents.models import AlertKind, AlertStatus, AlertThresholds, SecurityAlert
from incidents.services import thresholds_for

# Handling lives in alert_handling; named here too, where the register looks for alerts.
__all__ = [
    "DEFAULTS",
    "alert_dismiss",
    "alert_raise",
    "alert_thresholds_save",
    "alert_to_incident",
    "alerts_detect",
    "evidence_lines",
    "network_of",
]

DEFAULTS: dict[str, Any] = {
    name: getattr(AlertThresholds._meta.get_field(name), "default", None)
    for name in (*THRESHOLD_FIELDS, "new_network_alerts")
}

WINDOWS: dict[str, timedelta] = {
    AlertKind.BULK_REVEAL: timedelta(hours=1),
    AlertKind.BULK_EXPORT: timedelta(days=1),
    AlertKind.FAILED_LOGINS: timedelta(minutes=15),
    AlertKind.CROSS_TENANT: timedelta(hours=1),
}

# Data leaving CollectPro with personal data in it, one event per export or download.
EXPORT_ACTIONS = (
    actions.PERSONAL_DATA_EXPORT,
    actions.PERSONAL_DATA_DOWNLOAD,
    actions.DEBTS_EXPORTED,
    actions.AUDIT_EXPORTED,
    actions.REMITTANCE_EXPORTED,
    actions.PRIVACY_REQUESTS_EXPORTED,
    actions.RETENTION_HOLDS_EXPORTED,
    actions.WORKSPACE_EXPORTED,
)
# At most this many ids of one kind in an alert's evidence (the counts are exact).
EVIDENCE_IDS_MAX = 50


def network_of(ip: str | None) -> str | None:
    """The network an address belongs to, as kept in evidence: IPv4 /24, IPv6 /48."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


@dataclass
class Burst:
    """Activity of one member, key or network over one window, with what it touched."""

    who: str  # "user:<id>", "key:<id>", "net:<network>"
    count: int = 0
    first_at: datetime | None = None
    last_at: datetime | None = None
    actor_user_id: int | None = None
    actor_api_key_id: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)

    def saw(self, at: datetime) -> None:
        self.first_at = at if self.first_at is None or at < self.first_at else self.first_at
        self.last_at = at if self.last_at is None or at > self.last_at else self.last_at


def _add_capped(values: list[Any], items: Iterable[Any]) -> None:
    for item in items:
        if len(values) >= EVIDENCE_IDS_MAX:
            return
        if item not in values:
            values.append(item)


def _merge_evidence(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """An extended alert's evidence: id lists joined (capped), counts at their peak."""
    merged = dict(old)
    for key, value in new.items():
        was = merged.get(key)
        if isinstance(value, list) and isinstance(was, list):
            joined = list(was)
            _add_capped(joined, value)
            merged[key] = joined
        elif isinstance(value, int) and not isinstance(value, bool) and isinstance(was, int):
            merged[key] = max(was, value)
        else:
            merged[key] = value
    return merged


# --- Raising ----------------------------------------------------------------------------


def _owner_emails(workspace: Workspace) -> list[str]:
    owners = (
        Membership.objects.for_workspace(workspace)
        .filter(role=Role.OWNER, client__isnull=True, user__is_active=True)
        .select_related("user")
    )
    return sorted({m.user.email for m in owners if m.user.email})


def _alert_email(workspace: Workspace, alert: SecurityAlert) -> tuple[str, str]:
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    url = settings.SITE_URL.rstrip("/") + reverse("incidents:alert", args=[workspace.slug, alert.pk])
    label = alert.get_kind_display()
    when = f"{alert.window_start.astimezone(zone):%Y-%m-%d %H:%M} to {alert.window_end.astimezone(zone):%Y-%m-%d %H:%M}"
    if alert.kind == AlertKind.NEW_NETWORK:
        what = f"An API key of the workspace was used from network {alert.evidence.get('network', '?')}, new to it."
    else:
        what = f"{alert.count} counted against a threshold of {alert.threshold}, {when} ({workspace.timezone})."
    subject = f"[{workspace.name}] Security alert: {label}"
    body = (
        f"CollectPro raised a security alert in {workspace.name}: {label}.\n\n{what}\n\n"
        "Look at the evidence, then dismiss the alert with your reason or turn it into an incident "
        f"(its breach clocks start then): {url}\n\n"
        "You receive this because you own the workspace. The alert names ids, counts and networks only.\n"
    )
    return subject, body


def alert_raise(
    *,
    workspace: Workspace,
    kind: str,
    burst: Burst,
    threshold: int,
    now: datetime,
    window: timedelta | None = None,
) -> tuple[SecurityAlert, bool]:
    """One alert per burst: extend the alert of the same kind and who whose events the
    burst overlaps (any status: a dismissed burst stays dismissed while it lasts), else
    raise a new one — audited and emailed to the owners once, on commit. Returns the
    alert and whether it is new."""
    first_at = burst.first_at or now
    last_at = burst.last_at or now
    prefix = f"{kind}:{burst.who}:"
    with transaction.atomic():
        ongoing = None
        if window is not None:
            ongoing = (
                SecurityAlert.objects.for_workspace(workspace)
                .select_for_update()
                .filter(kind=kind, fingerprint__startswith=prefix, window_end__gte=first_at)
                .order_by("-window_end")
                .first()
            )
        if ongoing is not None:
            ongoing.window_end = max(ongoing.window_end, last_at)
            ongoing.count = max(ongoing.count, burst.count)
            fields = ["window_end", "count"]
            if ongoing.status == AlertStatus.OPEN:  # a handled alert keeps the evidence it was judged on
                ongoing.evidence = _merge_evidence(ongoing.evidence, burst.evidence)
                fields.append("evidence")
            ongoing.save(update_fields=fields)
            return ongoing, False
        alert = SecurityAlert(
            workspace=workspace,
            kind=kind,
            actor_user_id=burst.actor_user_id,
            actor_api_key_id=burst.actor_api_key_id,
            window_start=first_at,
            window_end=last_at,
            count=burst.count,
            threshold=threshold,
            evidence=burst.evidence,
            fingerprint=(prefix + first_at.isoformat())[:128],
            created_at=now,
        )
        try:
            with transaction.atomic():
                alert.save(force_insert=True)
        except IntegrityError:
            # Another run raised this very burst a moment ago.
            return SecurityAlert.objects.for_workspace(workspace).get(fingerprint=alert.fingerprint), False
        recipients = _owner_emails(workspace)
        audit_record(
            action=actions.ALERT_RAISED,
            workspace=workspace,
            obj=alert,
            metadata={
                "kind": kind,
                "count": alert.count,
                "threshold": threshold,
                "actor_user_id": burst.actor_user_id,
                "actor_api_key_id": burst.actor_api_key_id or None,
                "recipients": len(recipients),
            },
        )
        if recipients:
            subject, body = _alert_email(workspace, alert)
            transaction.on_commit(
                lambda: send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients)
            )
    return alert, True


# --- Counting over a window of the audit trail -----------------------------------------


def _events(workspace: Workspace, action_names: Iterable[str], start: datetime, end: datetime) -> Any:
    return (
        audit_events_for_workspace(workspace=workspace)
        .filter(action__in=list(action_names), created_at__gt=start, created_at__lte=end)
        .order_by("created_at", "seq")
    )


def _reveals(workspace: Workspace, start: datetime, end: datetime) -> dict[str, Burst]:
    """Per member: the different people whose details they saw."""
    bursts: dict[str, Burst] = {}
    seen: dict[str, set[str]] = defaultdict(set)
    rows = (
        _events(workspace, [actions.PERSONAL_DATA_READ], start, end)
        .filter(actor_user_id__isnull=False)
        .values_list("id", "created_at", "actor_user_id", "object_type", "object_id", "metadata", "ip")
    )
    for event_id, at, user_id, object_type, object_id, metadata, ip in rows.iterator():
        who = f"user:{user_id}"
        burst = bursts.setdefault(
            who,
            Burst(
                who,
                actor_user_id=user_id,
                evidence={"user_id": user_id, "reveals": 0, "subjects": [], "audit_event_ids": [], "networks": []},
            ),
        )
        ids = metadata.get("ids") if isinstance(metadata, dict) else None
        subjects = [f"{object_type}:{i}" for i in (ids if isinstance(ids, list) else [object_id]) if i]
        seen[who].update(subjects)
        burst.saw(at)
        burst.count = len(seen[who])
        burst.evidence["people"] = burst.count
        burst.evidence["reveals"] += 1
        _add_capped(burst.evidence["subjects"], subjects)
        _add_capped(burst.evidence["audit_event_ids"], [event_id])
        _add_capped(burst.evidence["networks"], [n for n in [network_of(ip)] if n])
    return bursts


def _exports(workspace: Workspace, start: datetime, end: datetime) -> dict[str, Burst]:
    """Per member: exports and downloads, and the rows they carried (1 when unsaid)."""
    bursts: dict[str, Burst] = {}
    rows = (
        _events(workspace, EXPORT_ACTIONS, start, end)
        .filter(actor_user_id__isnull=False)
        .values_list("id", "created_at", "actor_user_id", "action", "metadata", "ip")
    )
    for event_id, at, user_id, action, metadata, ip in rows.iterator():
        who = f"user:{user_id}"
        burst = bursts.setdefault(
            who,
            Burst(
                who,
                actor_user_id=user_id,
                evidence={
                    "user_id": user_id,
                    "exports": 0,
                    "rows": 0,
                    "actions": [],
                    "audit_event_ids": [],
                    "networks": [],
                },
            ),
        )
        meta = metadata if isinstance(metadata, dict) else {}
        carried = meta.get("rows", meta.get("records", 1))
        burst.saw(at)
        burst.evidence["exports"] += 1
        burst.evidence["rows"] += carried if isinstance(carried, int) and not isinstance(carried, bool) else 1
        _add_capped(burst.evidence["actions"], [action])
        _add_capped(burst.evidence["audit_event_ids"], [event_id])
        _add_capped(burst.evidence["networks"], [n for n in [network_of(ip)] if n])
        burst.count = burst.evidence["exports"]
    return bursts


def _failed_logins(workspace: Workspace, start: datetime, end: datetime) -> dict[str, Burst]:
    """Failed sign-ins for each member's account, and from each network against them."""
    bursts: dict[str, Burst] = {}
    rows = _events(workspace, [actions.LOGIN_FAILED], start, end).values_list("id", "created_at", "object_id", "ip")
    for event_id, at, object_id, ip in rows.iterator():
        network = network_of(ip)
        user_id = int(object_id) if str(object_id).isdigit() else None
        if user_id is not None:
            burst = bursts.setdefault(
                f"user:{user_id}",
                Burst(
                    f"user:{user_id}",
                    actor_user_id=user_id,
                    evidence={"user_id": user_id, "failures": 0, "networks": [], "audit_event_ids": []},
                ),
            )
            _count_failure(burst, at, event_id)
            _add_capped(burst.evidence["networks"], [network] if network else [])
        if network is not None:
            burst = bursts.setdefault(
                f"net:{network}",
                Burst(
                    f"net:{network}",
                    evidence={"network": network, "failures": 0, "user_ids": [], "audit_event_ids": []},
                ),
            )
            _count_failure(burst, at, event_id)
            _add_capped(burst.evidence["user_ids"], [user_id] if user_id is not None else [])
    return bursts


def _count_failure(burst: Burst, at: datetime, event_id: int) -> None:
    burst.saw(at)
    burst.count += 1
    burst.evidence["failures"] = burst.count
    _add_capped(burst.evidence["audit_event_ids"], [event_id])


Collector = Callable[[Workspace, datetime, datetime], dict[str, Burst]]


def _export_limit(burst: Burst, thresholds: AlertThresholds) -> tuple[int, int] | None:
    """(count, threshold) of the export limit the burst reached, if any: the number of
    exports first, else the rows."""
    if burst.evidence["exports"] >= thresholds.exports_per_day:
        burst.evidence["limit"] = "exports"
        return burst.evidence["exports"], thresholds.exports_per_day
    if burst.evidence["rows"] >= thresholds.export_rows_per_day:
        burst.evidence["limit"] = "rows"
        return burst.evidence["rows"], thresholds.export_rows_per_day
    return None


def alerts_detect(*, workspace: Workspace, now: datetime | None = None) -> dict[str, int]:
    """Count each windowed kind over the window ending ``now`` and raise (or extend) an
    alert for every burst at or over its threshold. Returns the new alerts by kind."""
    now = now or timezone.now()
    thresholds = thresholds_for(workspace)
    raised: dict[str, int] = {
        kind: 0 for kind in (AlertKind.BULK_REVEAL, AlertKind.BULK_EXPORT, AlertKind.FAILED_LOGINS)
    }
    plans: list[tuple[str, Collector, Callable[[Burst], tuple[int, int] | None]]] = [
        (
            AlertKind.BULK_REVEAL,
            _reveals,
            lambda b: (b.count, thresholds.reveals_per_hour) if b.count >= thresholds.reveals_per_hour else None,
        ),
        (AlertKind.BULK_EXPORT, _exports, lambda b: _export_limit(b, thresholds)),
        (
            AlertKind.FAILED_LOGINS,
            _failed_logins,
            lambda b: (
                (b.count, thresholds.failed_logins_per_15_minutes)
                if b.count >= thresholds.failed_logins_per_15_minutes
                else None
            ),
        ),
    ]
    for kind, collect, over in plans:
        window = WINDOWS[kind]
        for burst in collect(workspace, now - window, now).values():
            reached = over(burst)
            if reached is None:
                continue
            burst.count, threshold = reached
            burst.evidence["window_minutes"] = int(window.total_seconds() // 60)
            _alert, new = alert_raise(
                workspace=workspace, kind=kind, burst=burst, threshold=threshold, now=now, window=window
            )
            raised[kind] += int(new)
    return raised
