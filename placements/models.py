"""Placement import jobs. The table keeps its first name (ADR 0015)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from kernel.models import TenantModel


class ImportStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class PlacementImport(TenantModel):
    """A placement file import job: its progress, counts and rejected rows."""

    stable_label = "debtors.placementimport"  # moved from debtors (ADR 0015)

    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    file_name = models.CharField(max_length=200)
    storage_name = models.CharField(max_length=200)
    strict = models.BooleanField(default=False)
    header_map = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=8, choices=ImportStatus.choices, default=ImportStatus.PENDING)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    rejects_storage_name = models.CharField(max_length=200, blank=True, default="")
    # When the rejects file was deleted under PLACEMENT_REJECTS_RETENTION_DAYS.
    rejects_purged_at = models.DateTimeField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True, default="")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "debtors_placementimport"
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    @property
    def progress_percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == ImportStatus.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))
