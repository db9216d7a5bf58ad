"""Writes of the register that are not steps of an incident (those are in
``incidents.services``): the register's CSV export recorded, and the workspace's own
target for duties the law gives no fixed hours. Each runs in one transaction with its
audit event."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record, export_record
from incidents.models import AlertThresholds

TARGET_HOURS_MAX = 720


def _actor_id(actor: Actor) -> int | None:
    user = actor_user(actor)
    return user.pk if user is not None else None


def incidents_export_record(*, workspace: Workspace, rows: int, filters: list[str], actor: Actor = None) -> None:
    """The register left CollectPro as CSV: recorded before the first byte is sent
    (counts and filter names only)."""
    export_record(
        action=actions.INCIDENTS_EXPORTED,
        workspace=workspace,
        metadata={"rows": rows, "filters": sorted(filters)},
        actor_user_id=_actor_id(actor),
    )


def authority_target_save(*, workspace: Workspace, hours: int, actor: Actor = None) -> AlertThresholds:
    """Set the workspace's own target (hours from awareness) for duties without fixed
    hours in law. Existing clocks keep the target they were opened with, so a change
    never makes a late duty look on time; a corrected awareness restarts them with it."""
    if not 1 <= hours <= TARGET_HOURS_MAX:
        raise ValidationError({"authority_target_hours": f"Between 1 and {TARGET_HOURS_MAX} hours."})
    with transaction.atomic():
        thresholds = AlertThresholds.objects.for_workspace(workspace).select_for_update().first()
        if thresholds is None:
            thresholds = AlertThresholds(workspace=workspace)
        was = thresholds.authority_target_hours  # the default when the workspace has no row yet
        if was == hours:
            return thresholds
        thresholds.authority_target_hours = hours
        thresholds.updated_at = timezone.now()
        thresholds.save()
        audit_record(
            action=actions.WORKSPACE_SETTINGS_CHANGED,
            workspace=workspace,
            obj=thresholds,
            actor_user_id=_actor_id(actor),
            metadata={"setting": "incident_authority_target_hours", "from": was, "to": hours},
        )
    return thresholds
