"""Legal holds: what a court, a regulator, an insolvency or a dispute requires kept.

A hold covers one debtor, one debt, a client's whole portfolio or the whole
workspace. While it is active nothing it covers is purged by retention or erased by
a rights request, and the debts it covers are not contacted. The model lives here,
below the apps that must honour it (erasure in ``privacy_requests``, the purge in
``retention``, the contact rules in ``consent``); placing and lifting are the
retention app's services (``retention.holds``). ``Debt.legal_hold`` is a copy of
"some active hold covers this debt", kept in step by ``debtors.services.holds``
for the queue, the contact rules and fast purge queries.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone

from kernel.models import TenantModel


class HoldScope(models.TextChoices):
    DEBTOR = "debtor", "A debtor"
    DEBT = "debt", "A debt"
    PORTFOLIO = "portfolio", "A client's portfolio"
    WORKSPACE = "workspace", "The whole workspace"


class HoldReason(models.TextChoices):
    LITIGATION = "litigation", "Litigation"
    REGULATOR = "regulator_inquiry", "Regulator inquiry"
    INSOLVENCY = "insolvency", "Insolvency"
    DISPUTE = "open_dispute", "Open dispute"
    LAW_ENFORCEMENT = "law_enforcement", "Law-enforcement request"
    AUDIT = "audit", "Audit"
    OTHER = "other", "Other"


class LegalHold(TenantModel):
    scope = models.CharField(max_length=16, choices=HoldScope.choices)
    debtor = models.ForeignKey("debtors.Debtor", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    debt = models.ForeignKey("debtors.Debt", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=24, choices=HoldReason.choices)
    # A court's case number, a regulator's reference: what the hold answers to.
    case_reference = models.CharField(max_length=200, blank=True, default="")
    placed_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    placed_at = models.DateTimeField(default=dj_timezone.now)
    review_on = models.DateField(help_text="When someone must decide whether the hold is still needed.")
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    lift_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["workspace", "lifted_at", "scope"])]
        constraints = [
            models.CheckConstraint(
                name="legal_hold_target_matches_scope",
                condition=(
                    Q(scope="debtor", debtor__isnull=False, debt__isnull=True, client__isnull=True)
                    | Q(scope="debt", debt__isnull=False, debtor__isnull=True, client__isnull=True)
                    | Q(scope="portfolio", client__isnull=False, debtor__isnull=True, debt__isnull=True)
                    | Q(scope="workspace", debtor__isnull=True, debt__isnull=True, client__isnull=True)
                ),
            )
        ]
        ordering = ["-placed_at"]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} hold ({self.get_reason_display()})"

    @property
    def active(self) -> bool:
        return self.lifted_at is None
