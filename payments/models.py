from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone as dj_timezone

from kernel.crypto.fields import EncryptedField
from kernel.models import TenantModel
from kernel.privacy.registry import COLLECTION_RECORDS, PD, Basis, Category, Erasure, personal_data


class LinkPurpose(models.TextChoices):
    FULL_BALANCE = "full_balance", "Full balance"
    INSTALLMENT = "installment", "Installment"
    SETTLEMENT = "settlement", "Settlement offer"
    CUSTOM = "custom", "Custom amount"


class LinkStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    PAID = "paid", "Paid"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose="Taking payments from debtors",
    recipients=("payment processor",),
    fields={
        "token": PD(Category.TECHNICAL, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True)
    },
)
class PaymentLink(TenantModel):
    """A link a debtor opens to pay. The token (≥128 random bits) is stored as a
    hash for lookup and encrypted for re-sending; only its holder can open the page,
    and even then sees nothing personal until they verify who they are."""

    debt = models.ForeignKey("debtors.Debt", on_delete=models.CASCADE, related_name="payment_links")
    debtor = models.ForeignKey("debtors.Debtor", on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16, choices=LinkPurpose.choices)
    # What the link is for, as one string: "full_balance", "installment:<id>", "settlement:<id>", "custom".
    purpose_key = models.CharField(max_length=64)
    installment = models.ForeignKey(
        "debtors.Installment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    offer = models.ForeignKey(
        "debtors.SettlementOffer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount_minor = models.BigIntegerField(
        null=True, blank=True, help_text="Fixed amount; blank = the balance when paid"
    )
    currency = models.CharField(max_length=3)
    token_hash = models.CharField(max_length=64, unique=True)
    token = EncryptedField(subject="debtor_id", subject_type="debtor")
    status = models.CharField(max_length=8, choices=LinkStatus.choices, default=LinkStatus.ACTIVE)
    expires_at = models.DateTimeField()
    failed_verifications = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    paid_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    # The debtor's page finds its link by the hash of the token in the URL.
    rls_extra_read: ClassVar[str] = "token_hash = current_setting('app.payment_link_hash', true)"

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "debt", "purpose_key"],
                condition=models.Q(status="active"),
                name="payment_link_one_active_per_purpose",
            )
        ]
        indexes = [models.Index(fields=["workspace", "status", "expires_at"])]


class CheckoutStatus(models.TextChoices):
    OPEN = "open", "Open"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class CheckoutSession(TenantModel):
    """One checkout at a provider for one payment link (Stripe Checkout Session or
    the sandbox's own)."""

    link = models.ForeignKey(PaymentLink, on_delete=models.CASCADE, related_name="sessions")
    provider = models.CharField(max_length=16)
    provider_session_id = models.CharField(max_length=200, unique=True)
    provider_payment_id = models.CharField(max_length=200, blank=True, default="")
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10, choices=CheckoutStatus.choices, default=CheckoutStatus.OPEN)
    idempotency_key = models.CharField(max_length=100)
    created_at = models.DateTimeField(default=dj_timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    # Webhooks and the sandbox page find the session by the provider's session or payment id.
    rls_extra_read: ClassVar[str] = (
        "provider_session_id = current_setting('app.provider_ref', true) "
        "OR provider_payment_id = current_setting('app.provider_ref', true)"
    )

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "status", "created_at"]),
            models.Index(fields=["provider_payment_id"]),
        ]


class WebhookEvent(models.Model):
    """Each provider event stored once by its id (the first delivery wins). Holds
    only what processing needs — ids, type, amounts — never card or contact data."""

    provider = models.CharField(max_length=16)
    event_id = models.CharField(max_length=200)
    type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=200, blank=True, default="")
    data = models.JSONField(default=dict)
    received_at = models.DateTimeField(default=dj_timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "event_id"], name="webhook_event_once")]


class ReconciliationRun(TenantModel):
    started_at = models.DateTimeField(default=dj_timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    sessions_checked = models.PositiveIntegerField(default=0)
    payments_posted = models.PositiveIntegerField(default=0)
    links_expired = models.PositiveIntegerField(default=0)
    exceptions_found = models.PositiveIntegerField(default=0)


class ReconciliationException(TenantModel):
    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="exceptions")
    kind = models.CharField(max_length=32)
    detail = models.CharField(max_length=300)
    provider_session_id = models.CharField(max_length=200, blank=True, default="")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
