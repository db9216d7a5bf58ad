from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from accounts.models import Client
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

COLLECTION_PURPOSE = "Collecting debts placed by creditors"
COLLECTION_RECIPIENTS = ("the creditor who placed the debt", "payment processor", "email/SMS providers")


class DebtorKind(models.TextChoices):
    PERSON = "person", "Person"
    BUSINESS = "business", "Business"


@personal_data(
    subject_type="debtor",
    subject="self",
    purpose=COLLECTION_PURPOSE,
    recipients=COLLECTION_RECIPIENTS,
    fields={
        "full_name": PD(
            Category.IDENTITY,
            Basis.LEGITIMATE_INTERESTS,
            COLLECTION_RECORDS,
            Erasure.PSEUDONYMISE,
            sensitive=True,
            searchable=True,
        ),
        "email": PD(
            Category.CONTACT,
            Basis.LEGITIMATE_INTERESTS,
            COLLECTION_RECORDS,
            Erasure.DELETE,
            sensitive=True,
            searchable=True,
        ),
        "phone": PD(
            Category.CONTACT,
            Basis.LEGITIMATE_INTERESTS,
            COLLECTION_RECORDS,
            Erasure.DELETE,
            sensitive=True,
            searchable=True,
        ),
        "address": PD(Category.CONTACT, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True),
        "date_of_birth": PD(
            Category.IDENTITY, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True
        ),
        "national_id": PD(
            Category.GOVERNMENT_ID,
            Basis.LEGAL_OBLIGATION,
            COLLECTION_RECORDS,
            Erasure.DELETE,
            sensitive=True,
            searchable=True,
        ),
        "external_ref": PD(
            Category.IDENTITY,
            Basis.CONTRACT,
            COLLECTION_RECORDS,
            Erasure.KEEP_UNTIL,
            keep_law="creditor reconciliation; 12 CFR 1006.100 record keeping",
        ),
        "preferred_language": PD(Category.DEMOGRAPHIC, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE),
        "timezone": PD(Category.CONTACT, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE),
    },
)
class Debtor(TenantModel):
    """A person or business who owes. Identity lives here, apart from the ledger, so
    erasure can pseudonymise it while the books are kept."""

    workspace = workspace_key_unindexed()
    kind = models.CharField(max_length=10, choices=DebtorKind.choices, default=DebtorKind.PERSON)
    full_name = EncryptedField(subject_type="debtor", blind_index="full_name_bidx", normaliser="text")
    full_name_bidx = models.CharField(max_length=32, blank=True, default="")
    email = EncryptedField(
        subject_type="debtor", blind_index="email_bidx", blind_index_scope="email", normaliser="email"
    )
    email_bidx = models.CharField(max_length=32, blank=True, default="")
    phone = EncryptedField(
        subject_type="debtor", blind_index="phone_bidx", blind_index_scope="phone", normaliser="phone"
    )
    phone_bidx = models.CharField(max_length=32, blank=True, default="")
    address = EncryptedField(subject_type="debtor")
    date_of_birth = EncryptedField(subject_type="debtor", help_text="ISO date (YYYY-MM-DD), encrypted")
    national_id = EncryptedField(
        subject_type="debtor", blind_index="national_id_bidx", blind_index_scope="national_id", normaliser="identifier"
    )
    national_id_bidx = models.CharField(max_length=32, blank=True, default="")
    external_ref = models.CharField(
        max_length=64, blank=True, default="", help_text="The creditor's id for this person"
    )
    preferred_language = models.CharField(max_length=8, blank=True, default="")
    timezone = models.CharField(max_length=64, blank=True, default="")
    is_minor = models.BooleanField(default=False, help_text="Under 18 at entry: held out of collection until reviewed")
    minor_reviewed_at = models.DateTimeField(null=True, blank=True)
    is_deceased = models.BooleanField(default=False)
    is_bankrupt = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "email_bidx"]),
            models.Index(fields=["workspace", "phone_bidx"]),
            models.Index(fields=["workspace", "national_id_bidx"]),
            models.Index(fields=["workspace", "full_name_bidx"]),
            models.Index(fields=["workspace", "external_ref"]),
        ]

    def __str__(self) -> str:
        return f"Debtor {self.pk}"


class ContactKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=COLLECTION_RECIPIENTS,
    fields={
        "value": PD(
            Category.CONTACT,
            Basis.LEGITIMATE_INTERESTS,
            COLLECTION_RECORDS,
            Erasure.DELETE,
            sensitive=True,
            searchable=True,
        ),
    },
)
class DebtorContact(TenantModel):
    """Further emails and phones of a debtor (the primary ones live on Debtor)."""

    debtor = models.ForeignKey(Debtor, on_delete=models.CASCADE, related_name="contacts")
    kind = models.CharField(max_length=8, choices=ContactKind.choices)
    value = EncryptedField(subject="debtor_id", subject_type="debtor", blind_index="value_bidx", normaliser="text")
    value_bidx = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "value_bidx"])]


class DebtStatus(models.TextChoices):
    NEW = "new", "New"
    ACTIVE = "active", "Active"
    PROMISE = "promise", "Promise to pay"
    PAYMENT_PLAN = "payment_plan", "Payment plan"
    DISPUTED = "disputed", "Disputed"
    ON_HOLD = "on_hold", "On hold"
    PAID = "paid", "Paid"
    SETTLED = "settled", "Settled"
    WRITTEN_OFF = "written_off", "Written off"
    RECALLED = "recalled", "Recalled"
    CLOSED = "closed", "Closed"


S = DebtStatus
# The only moves a debt may make. One place; services, API and UI all read it.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    S.NEW: frozenset({S.ACTIVE, S.DISPUTED, S.ON_HOLD, S.RECALLED, S.CLOSED, S.PAID}),
    S.ACTIVE: frozenset(
        {S.PROMISE, S.PAYMENT_PLAN, S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.WRITTEN_OFF, S.RECALLED, S.CLOSED}
    ),
    S.PROMISE: frozenset({S.ACTIVE, S.PAYMENT_PLAN, S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.RECALLED}),
    S.PAYMENT_PLAN: frozenset({S.ACTIVE, S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.RECALLED}),
    # A rejected dispute resumes where collection stood (a promise or plan included).
    S.DISPUTED: frozenset({S.ACTIVE, S.PROMISE, S.PAYMENT_PLAN, S.ON_HOLD, S.CLOSED, S.RECALLED, S.WRITTEN_OFF}),
    S.ON_HOLD: frozenset({S.ACTIVE, S.DISPUTED, S.RECALLED, S.CLOSED, S.WRITTEN_OFF}),
    S.PAID: frozenset({S.ACTIVE, S.CLOSED}),  # ACTIVE again after a refund or chargeback
    S.SETTLED: frozenset({S.ACTIVE, S.CLOSED}),
    S.WRITTEN_OFF: frozenset({S.ACTIVE, S.CLOSED}),
    S.RECALLED: frozenset({S.CLOSED}),
    S.CLOSED: frozenset(),
}
# Statuses in which nobody should be collecting.
NOT_COLLECTABLE = frozenset({S.DISPUTED, S.ON_HOLD, S.PAID, S.SETTLED, S.WRITTEN_OFF, S.RECALLED, S.CLOSED})


class Debt(TenantModel):
    # Indexes here are few on purpose: each one is written for every placed debt.
    # Workspace, client and agent lookups use the composite indexes in Meta.
    workspace = workspace_key_unindexed()
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="debts", db_index=False)
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="debts")
    reference = models.CharField(max_length=64, help_text="Unique per client")
    original_creditor = models.CharField(max_length=200, blank=True, default="")
    product = models.CharField(max_length=100, blank=True, default="")
    currency = models.CharField(max_length=3)
    original_amount_minor = models.BigIntegerField()
    # Cached sum of the ledger, written only in the same transaction as an entry
    # (debtors.services.ledger). tests/debtors/test_ledger.py checks it never drifts.
    balance_minor = models.BigIntegerField(default=0)
    opened_on = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    charge_off_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=DebtStatus.choices, default=DebtStatus.NEW)
    status_before_hold = models.CharField(max_length=16, blank=True, default="")
    assigned_agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    priority_score = models.IntegerField(default=0)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    last_payment_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                # reference before client: the same index serves search by reference.
                fields=["workspace", "reference", "client"],
                name="debt_unique_reference_per_client",
            )
        ]
        indexes = [
            # The work queue's default order (keyset pagination walks these).
            models.Index(fields=["workspace", "-priority_score", "-balance_minor", "-id"], name="debt_queue_priority"),
            models.Index(
                fields=["workspace", "status", "-priority_score", "-balance_minor", "-id"], name="debt_queue_status"
            ),
            models.Index(
                fields=["workspace", "assigned_agent", "-priority_score", "-balance_minor", "-id"],
                name="debt_queue_agent",
            ),
            models.Index(fields=["workspace", "-balance_minor", "-id"], name="debt_queue_balance"),
            models.Index(fields=["workspace", "client", "status"]),
            models.Index(fields=["workspace", "due_date"]),
        ]

    def __str__(self) -> str:
        return f"Debt {self.reference}"


class PartyRole(models.TextChoices):
    PRIMARY = "primary", "Primary debtor"
    CO_DEBTOR = "co_debtor", "Co-debtor"
    GUARANTOR = "guarantor", "Guarantor"


class DebtParty(TenantModel):
    """Co-debtors and guarantors linked to a debt (the primary debtor is Debt.debtor)."""

    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="parties")
    debtor = models.ForeignKey(Debtor, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=16, choices=PartyRole.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["debt", "debtor"], name="debt_party_unique")]


class EntryKind(models.TextChoices):
    CHARGE = "charge", "Charge"
    INTEREST = "interest", "Interest"
    FEE = "fee", "Fee"
    PAYMENT = "payment", "Payment"
    ADJUSTMENT = "adjustment", "Adjustment"
    REFUND = "refund", "Refund"
    REVERSAL = "reversal", "Reversal"


class LedgerEntry(TenantModel):
    """Append-only. ``amount_minor`` is signed: positive raises what is owed (charge,
    interest, fee, refund of a payment), negative lowers it (payment). A correction
    is a reversal entry pointing at the entry it cancels; nothing is ever updated."""

    workspace = workspace_key_unindexed()
    debt = models.ForeignKey(Debt, on_delete=models.PROTECT, related_name="entries", db_index=False)
    kind = models.CharField(max_length=12, choices=EntryKind.choices)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    effective_on = models.DateField()
    posted_at = models.DateTimeField(default=dj_timezone.now)
    method = models.CharField(max_length=32, blank=True, default="")
    reference = models.CharField(max_length=100, blank=True, default="")
    # A provider's id (e.g. Stripe payment intent): unique, so a payment posts once.
    external_id = models.CharField(max_length=100, null=True, blank=True)
    # At most one reversal per entry (constraint below, on the few rows that reverse).
    reverses = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by", db_index=False
    )
    memo = models.CharField(max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    rls_append_only = True

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "external_id"],
                condition=models.Q(external_id__isnull=False),
                name="ledger_unique_external_id",
            ),
            models.UniqueConstraint(
                fields=["reverses"], condition=models.Q(reverses__isnull=False), name="ledger_one_reversal_per_entry"
            ),
            models.CheckConstraint(condition=~models.Q(amount_minor=0), name="ledger_amount_not_zero"),
        ]
        indexes = [
            models.Index(fields=["workspace", "debt", "posted_at"]),
            models.Index(fields=["workspace", "kind", "posted_at"]),
        ]
        verbose_name_plural = "ledger entries"


class PlanStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    COMPLETED = "completed", "Completed"
    BROKEN = "broken", "Broken"
    CANCELLED = "cancelled", "Cancelled"


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


class SettlementOffer(TenantModel):
    debt = models.ForeignKey(Debt, on_delete=models.CASCADE, related_name="offers")
    amount_minor = models.BigIntegerField()
    discount_bps = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=OfferStatus.choices, default=OfferStatus.OPEN)
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


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
        "resolution": PD(
            Category.COMMUNICATION,
            Basis.LEGAL_OBLIGATION,
            COLLECTION_RECORDS,
            Erasure.KEEP_UNTIL,
            keep_law="12 CFR 1006.38 dispute handling; 1006.100 records",
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
