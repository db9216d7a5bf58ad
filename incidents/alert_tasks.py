"""Celery tasks of the security alerts: the windowed detections, every 5 minutes per
workspace (``CELERY_BEAT_SCHEDULE["security-alerts"]``). Imported by
``incidents.alert_hooks`` so the worker knows them (Celery discovers ``tasks`` modules only)."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from incidents.alerts import alerts_detect


@workspace_task()
def security_alerts_detect(workspace: Workspace) -> dict[str, int]:
    """Bulk reveals, bulk exports and failed sign-ins over the windows ending now; each
    burst is one alert, so running twice raises nothing twice (alerts.py)."""
    return alerts_detect(workspace=workspace)


@shared_task
def security_alerts_detect_all() -> int:
    """Beat entry point (every 5 minutes): one detection task per workspace."""
    return fan_out(security_alerts_detect)
