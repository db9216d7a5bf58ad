"""Debtors: the people and businesses who owe, and their further emails and phones."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

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
        # The creditor's id for the person: it identifies them at the creditor, so it
        # goes with the identity (reconciliation uses each debt's own reference).
        "external_ref": PD(Category.IDENTITY, Basis.CONTRACT, COLLECTION_RECORDS, Erasure.DELETE),
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
    # Restriction of processing (GDPR Art. 18, a rights request): not contacted, and
    # nothing of theirs exported or changed except to fulfil the request.
    processing_restricted = models.BooleanField(default=False, db_default=False)
    processing_restricted_at = models.DateTimeField(null=True, blank=True)
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
