"""Purges and dry runs started from the schedule page: recorded at once, done on a
worker. The nightly job and ``purge_expired`` call the engine directly."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from accounts.types import Actor
from retention.engine import purge_start
from retention.models import PurgeRun, RunTrigger
from retention.selectors import purge_running
from retention.tasks import purge_run_continue


def purge_queue(*, workspace: Workspace, dry_run: bool, actor: Actor = None, now: datetime | None = None) -> PurgeRun:
    """Start a purge (or a dry run) of the whole schedule for ``workspace``; refused
    while another run of the workspace is running (a purge a dead worker left
    unfinished counts: the nightly job continues it). The receipt exists, and the
    start is audited, before the worker picks the run up after the commit."""
    now = now or timezone.now()
    with transaction.atomic():
        # One starter at a time per workspace: the workspace row is the lock.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        running = purge_running(workspace=workspace, now=now)
        if running is not None:
            kind = "A dry run" if running.dry_run else "A purge"
            raise ValidationError(
                f"{kind} started {running.started_at:%Y-%m-%d %H:%M} UTC is still running; wait for its receipt."
            )
        run = purge_start(workspace=workspace, dry_run=dry_run, trigger=RunTrigger.MANUAL, actor=actor, now=now)
        workspace_id, run_id = workspace.pk, str(run.pk)
        transaction.on_commit(lambda: purge_run_continue.delay(workspace_id, run_id))
    return run
