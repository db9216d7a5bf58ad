"""Reading the security alerts: one alert (404 for another workspace's), a page of them
by status, the counts by status, and whom each is about (a member or an API key of the
workspace, named for the people who handle it)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.http import Http404

from accounts.models import ApiKey, Membership, Workspace
from incidents.models import AlertKind, AlertStatus, SecurityAlert

ALERTS_PAGE_SIZE = 25
STATUS_FILTERS = ("open", "dismissed", "incident", "all")


def alert_get(*, workspace: Workspace, alert_id: uuid.UUID) -> SecurityAlert:
    """The workspace's alert, or 404 (also for another workspace's)."""
    alert = (
        SecurityAlert.objects.for_workspace(workspace)
        .filter(pk=alert_id)
        .select_related("incident", "handled_by")
        .first()
    )
    if alert is None:
        raise Http404("No such alert")
    return alert


def alert_counts(*, workspace: Workspace) -> dict[str, Any]:
    """How many alerts in each status, and the kinds of the open ones (label: count)."""
    counts: dict[str, Any] = {status: 0 for status in AlertStatus.values}
    rows = SecurityAlert.objects.for_workspace(workspace).values("status", "kind").annotate(n=Count("id"))
    labels = dict(AlertKind.choices)
    open_kinds: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + row["n"]
        if row["status"] == AlertStatus.OPEN:
            open_kinds[labels.get(row["kind"], row["kind"])] = row["n"]
    counts["all"] = sum(counts[s] for s in AlertStatus.values)
    counts["open_kinds"] = open_kinds
    return counts


@dataclass(frozen=True)
class AlertRow:
    alert: SecurityAlert
    who: str  # the member's email, the API key's name and prefix, or the network


def _who_labels(workspace: Workspace, alerts: list[SecurityAlert]) -> dict[str, str]:
    """Names for the members and keys the alerts are about, in two queries. A user who
    is no longer a member keeps their id."""
    user_ids = {a.actor_user_id for a in alerts if a.actor_user_id is not None}
    key_ids = {a.actor_api_key_id for a in alerts if a.actor_api_key_id}
    labels: dict[str, str] = {}
    if user_ids:
        members = Membership.objects.for_workspace(workspace).filter(user_id__in=user_ids).select_related("user")
        labels.update({f"user:{m.user_id}": f"{m.user.email} ({m.get_role_display()})" for m in members})
    if key_ids:
        valid = [k for k in key_ids if _is_uuid(k)]
        keys = ApiKey.objects.for_workspace(workspace).filter(pk__in=valid)
        labels.update({f"key:{k.pk}": f"API key {k.name} ({k.prefix}…)" for k in keys})
    return labels


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def who_of(alert: SecurityAlert, labels: dict[str, str]) -> str:
    if alert.actor_user_id is not None:
        return labels.get(f"user:{alert.actor_user_id}", f"user #{alert.actor_user_id} (no longer a member)")
    if alert.actor_api_key_id:
        return labels.get(f"key:{alert.actor_api_key_id}", f"API key {alert.actor_api_key_id}")
    network = alert.evidence.get("network") if isinstance(alert.evidence, dict) else None
    return f"network {network}" if network else "—"


def alerts_page(*, workspace: Workspace, status: str, page: int) -> tuple[list[AlertRow], bool]:
    """One page of alerts in ``status`` (or all), the newest first; whether more follow."""
    qs = SecurityAlert.objects.for_workspace(workspace).select_related("incident", "handled_by")
    if status != "all":
        qs = qs.filter(status=status)
    start = (page - 1) * ALERTS_PAGE_SIZE
    alerts = list(qs.order_by("-created_at", "-id")[start : start + ALERTS_PAGE_SIZE + 1])
    has_more = len(alerts) > ALERTS_PAGE_SIZE
    alerts = alerts[:ALERTS_PAGE_SIZE]
    labels = _who_labels(workspace, alerts)
    return [AlertRow(alert, who_of(alert, labels)) for alert in alerts], has_more


def alert_row(*, workspace: Workspace, alert: SecurityAlert) -> AlertRow:
    return AlertRow(alert, who_of(alert, _who_labels(workspace, [alert])))
