from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from collectpro.models import TenantModel


class Client(TenantModel):
    """A creditor who places debts with the workspace."""

    name = models.CharField(max_length=200)
    reference = models.CharField(max_length=64, help_text="Unique within the workspace")
    commission_rate_bps = models.PositiveIntegerField(
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(10_000)],
        help_text="Commission in basis points (1500 = 15%)",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "reference"], name="client_unique_reference")
        ]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} [{self.reference}]"
