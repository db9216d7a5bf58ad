"""Retention's own records: a workspace's periods and the receipts of purge runs."""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.utils import timezone as dj_timezone

from kernel.models import TenantModel, uuid7
from kernel.tenancy.context import _workspace


class RetentionSetting(TenantModel):
    """A workspace's own period for one category (never below a legal minimum:
    ``retention.schedules.retention_setting_set`` refuses, naming the law)."""

    category = models.CharField(max_length=40)
    days = models.PositiveIntegerField()
    reason = models.CharField(max_length=300)
    set_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    set_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "category"], name="retention_setting_one_per_category")
        ]

    def __str__(self) -> str:
        return f"{self.category}: {self.days} days"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RunTrigger(models.TextChoices):
    NIGHTLY = "nightly", "Nightly"
    COMMAND = "command", "Command line"
    MANUAL = "manual", "Started from the schedule page"
    CLOSURE = "closure", "Workspace closure"


class PurgeRunManager(models.Manager["PurgeRun"]):
    """Runs of the current workspace; with none in context, the installation's own
    runs (sessions, sign-in logs: the global stores)."""

    def get_queryset(self) -> models.QuerySet[PurgeRun]:
        ws = _workspace.get()
        qs = super().get_queryset()
        return qs.filter(workspace_id=ws.pk) if ws is not None else qs.filter(workspace__isnull=True)

    def for_workspace(self, workspace: Any) -> models.QuerySet[PurgeRun]:
        workspace_id = getattr(workspace, "pk", workspace)
        return super().get_queryset().filter(workspace_id=workspace_id)


class PurgeRun(models.Model):
    """The receipt of one purge (or dry run): per store, how far it got and how many
    records it acted on; counts per category and action; errors. The engine updates
    it in the same transaction as each batch's work, so it is exact after a crash,
    and a resumed run continues from it."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    # None: the installation's global stores (sessions, sign-in logs).
    workspace = models.ForeignKey(
        "accounts.Workspace", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, default=RunTrigger.NIGHTLY)
    dry_run = models.BooleanField(default=False)
    category = models.CharField(max_length=64, blank=True, default="", help_text="Only this category or store")
    as_of = models.DateTimeField(help_text="The run's clock: periods are counted back from here")
    started_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    started_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # {store name: {"cursor": str|None, "count": int, "done": bool, "pending": [keys], "category": str,
    #               "action": str, "days": int, "listing": [str] (dry run)}}
    progress = models.JSONField(default=dict, blank=True)
    # {category: {action: count}}
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)

    objects: ClassVar[PurgeRunManager] = PurgeRunManager()
    unscoped: ClassVar[models.Manager[PurgeRun]] = models.Manager()
    rls_tenant: ClassVar[bool] = True

    class Meta:
        indexes = [models.Index(fields=["workspace", "-started_at"]), models.Index(fields=["status"])]
        ordering = ["-started_at"]

    def __str__(self) -> str:
        kind = "dry run" if self.dry_run else "purge"
        return f"{kind} {self.pk} ({self.status})"

    @property
    def total(self) -> int:
        return sum(int(n) for per_action in self.counts.values() for n in per_action.values())
