"""What is kept on a debt besides money: disputes, notes, documents, the timeline,
and the queue filters users save."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from debtors.models.debtors import COLLECTION_PURPOSE, Debtor
from debtors.models.debts import Debt
from kernel.crypto.fields import EncryptedField
from kernel.models import TenantModel, workspace_key_unindexed
from kernel.privacy.registry import (
    COLLECTION_RECORDS,
    PD,
    Basis,
    Category,
    Erasure,
    personal_data,
)


class DisputeStatus(models.TextChoices):
    OPEN = "open", "Open"
    UPHELD = "upheld", "Upheld (debt corrected or closed)"
    REJECTED = "rejected", "Rejected (debt verified)"


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=("the creditor who placed the debt",),
    fields={
        "details": PD(
            Category.COMMUNICATION,
            Basis.LEGAL_OBLIGATION,
            COLLECTION_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="12 CFR 1006.38 dispute handling; 1006.100 records",
        ),
        # Free text staff type when closing a dispute: it may name the person. The
        # outcome stays (status, dates, this text); the person's own details in it are
        # cut out (pseudonymised) unless an open dispute or a legal hold keeps it whole.
        "resolution": PD(
            Category.COMMUNICATION,
            Basis.LEGAL_OBLIGATION,
            COLLECTION_RECORDS,
            Erasure.PSEUDONYMISE,
        ),
    },
)
class Dispute(TenantModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="disputes")
    debtor = models.ForeignKey(Debtor, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(
        max_length=32,
        choices=[
            ("not_mine", "Not my debt"),
            ("wrong_amount", "Wrong amount"),
            ("paid", "Already paid"),
            ("identity_theft", "Identity theft"),
            ("other", "Other"),
        ],
    )
    details = EncryptedField(subject="debtor_id", subject_type="debtor")
    status = models.CharField(max_length=10, choices=DisputeStatus.choices, default=DisputeStatus.OPEN)
    source = models.CharField(max_length=16, default="agent")
    opened_at = models.DateTimeField(default=dj_timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=200, blank=True, default="")


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=(),
    fields={
        "body": PD(
            Category.COMMUNICATION, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True
        )
    },
)
class Note(TenantModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="notes")
    debtor = models.ForeignKey(Debtor, on_delete=models.CASCADE, related_name="+")
    body = EncryptedField(subject="debtor_id", subject_type="debtor")
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=("the creditor who placed the debt",),
    fields={
        "original_name": PD(
            Category.COMMUNICATION, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True
        )
    },
)
class Document(TenantModel):
    """An uploaded file, stored outside the web root (PRIVATE_STORAGE_ROOT) under a
    random name and served only through an authorised view."""

    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="documents")
    debtor = models.ForeignKey(Debtor, on_delete=models.CASCADE, related_name="+")
    original_name = EncryptedField(subject="debtor_id", subject_type="debtor")
    storage_name = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size_bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_at = models.DateTimeField(default=dj_timezone.now)
    uploaded_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


class DebtEvent(TenantModel):
    """The debt's timeline: one row per thing that happened, written by the service
    that did it. Holds kinds, amounts and ids — never personal data."""

    workspace = workspace_key_unindexed()
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32)
    summary = models.CharField(max_length=200)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    object_type = models.CharField(max_length=32, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "debt", "-created_at"])]
        ordering = ["-created_at"]


class SavedView(TenantModel):
    """A user's saved queue filters (the query string of the queue page)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=60)
    query = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user", "name"], name="saved_view_unique_name")]
