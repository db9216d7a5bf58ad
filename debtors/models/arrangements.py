"""What a debtor agreed to pay: payment plans and their installments, promises to
pay and settlement offers."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from debtors.models.debtors import COLLECTION_PURPOSE
from debtors.models.debts import BOOKS_RECIPIENTS, Debt, book_fact
from debtors.models.ledger import LedgerEntry
from kernel.models import TenantModel
from kernel.privacy.registry import PD, personal_data


def _agreed(*names: str) -> dict[str, PD]:
    return {name: book_fact() for name in names}


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


@personal_data(
    subject_type="debtor",
    subject="debt__debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=BOOKS_RECIPIENTS,
    fields=_agreed("total_minor", "frequency", "status", "created_at"),
)
class PaymentPlan(TenantModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="plans")
    total_minor = models.BigIntegerField()
    frequency = models.CharField(
        max_length=10, choices=[("weekly", "Weekly"), ("biweekly", "Every 2 weeks"), ("monthly", "Monthly")]
    )
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.ACTIVE)
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["debt"], condition=models.Q(status="active"), name="plan_one_active_per_debt"
            )
        ]


class InstallmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PAID = "paid", "Paid"
    MISSED = "missed", "Missed"


@personal_data(
    subject_type="debtor",
    subject="plan__debt__debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=BOOKS_RECIPIENTS,
    fields=_agreed("seq", "due_on", "amount_minor", "paid_minor", "status"),
)
class Installment(TenantModel):
    plan = models.ForeignKey(PaymentPlan, on_delete=models.CASCADE, related_name="installments")
    seq = models.PositiveIntegerField()
    due_on = models.DateField()
    amount_minor = models.BigIntegerField()
    paid_minor = models.BigIntegerField(default=0)
    status = models.CharField(max_length=8, choices=InstallmentStatus.choices, default=InstallmentStatus.PENDING)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["workspace", "status", "due_on"])]


class InstallmentAllocation(TenantModel):
    """How much of a ledger entry went to which installment: a payment's shares
    (positive), and their take-back when the payment is reversed (negative, on the
    reversal entry). A reversal takes back exactly what its payment paid."""

    entry = models.ForeignKey(LedgerEntry, on_delete=models.CASCADE, related_name="+")
    installment = models.ForeignKey(Installment, on_delete=models.CASCADE, related_name="allocations")
    amount_minor = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["workspace", "entry"])]


class PromiseStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    KEPT = "kept", "Kept"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


@personal_data(
    subject_type="debtor",
    subject="debt__debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=BOOKS_RECIPIENTS,
    fields=_agreed("amount_minor", "due_on", "made_at", "status", "evaluated_at"),
)
class PromiseToPay(TenantModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="promises")
    amount_minor = models.BigIntegerField()
    due_on = models.DateField()
    # Payments on the debt after this moment count towards the promise.
    made_at = models.DateTimeField(default=dj_timezone.now)
    status = models.CharField(max_length=10, choices=PromiseStatus.choices, default=PromiseStatus.PENDING)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["workspace", "status", "due_on"])]


class OfferStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    WITHDRAWN = "withdrawn", "Withdrawn"


@personal_data(
    subject_type="debtor",
    subject="debt__debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=BOOKS_RECIPIENTS,
    fields=_agreed("amount_minor", "discount_bps", "expires_at", "status", "created_at"),
)
class SettlementOffer(TenantModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="offers")
    amount_minor = models.BigIntegerField()
    discount_bps = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
