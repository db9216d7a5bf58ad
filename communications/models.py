"""Messages to debtors and the machinery that sends them: the communication log,
templates, sequences. The tables keep the names they had in the debtors and
consent apps (ADR 0015)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from debtors.models import COLLECTION_PURPOSE
from kernel.crypto.fields import EncryptedField
from kernel.models import TenantModel
from kernel.privacy.registry import COLLECTION_RECORDS, PD, Basis, Category, Erasure, personal_data


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    CALL = "call", "Call"
    WHATSAPP = "whatsapp", "WhatsApp"
    LETTER = "letter", "Letter"


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=COLLECTION_PURPOSE,
    recipients=("email/SMS providers",),
    fields={
        "refusal_reasons": PD(
            Category.CONTACT,
            Basis.LEGAL_OBLIGATION,
            COLLECTION_RECORDS,
            Erasure.KEEP_UNTIL,
            keep_law="12 CFR 1006.100 record keeping",
        ),
        "content": PD(
            Category.COMMUNICATION, Basis.LEGITIMATE_INTERESTS, COLLECTION_RECORDS, Erasure.DELETE, sensitive=True
        ),
    },
)
class Communication(TenantModel):
    """One contact with a debtor: a logged call, a message sent or refused."""

    # Moved from the debtors app (ADR 0015): same table, same encryption binding.
    stable_label = "debtors.communication"
    # Delivery webhooks find the message by the provider's id before the workspace is known.
    rls_extra_read = "provider_message_id <> '' AND provider_message_id = current_setting('app.provider_ref', true)"

    debt = models.ForeignKey("debtors.Debt", on_delete=models.CASCADE, related_name="communications")
    debtor = models.ForeignKey("debtors.Debtor", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    direction = models.CharField(
        max_length=8, choices=[("outbound", "Outbound"), ("inbound", "Inbound")], default="outbound"
    )
    status = models.CharField(
        max_length=12,
        default="logged",
        choices=[
            ("logged", "Logged"),
            ("queued", "Queued"),
            ("sending", "Sending"),
            ("sent", "Sent"),
            ("delivered", "Delivered"),
            ("bounced", "Bounced"),
            ("failed", "Failed"),
            ("refused", "Refused by rules"),
        ],
    )
    outcome = models.CharField(max_length=32, blank=True, default="")
    content = EncryptedField(subject="debtor_id", subject_type="debtor")
    refusal_reasons = models.JSONField(default=list, blank=True)
    template = models.CharField(max_length=100, blank=True, default="")
    provider_message_id = models.CharField(max_length=200, blank=True, default="")
    occurred_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "debtors_communication"
        indexes = [
            models.Index(fields=["workspace", "debt", "occurred_at"]),
            models.Index(fields=["workspace", "provider_message_id"]),
        ]


class MessageTemplate(TenantModel):
    stable_label = "consent.messagetemplate"  # moved from consent (ADR 0015)
    """A message by channel and language. Editing makes a new version; messages
    record the version they were rendered from."""

    name = models.SlugField(max_length=60)
    channel = models.CharField(
        max_length=10, choices=[("email", "Email"), ("sms", "SMS"), ("whatsapp", "WhatsApp"), ("letter", "Letter")]
    )
    language = models.CharField(max_length=8, default="en")
    version = models.PositiveIntegerField(default=1)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "consent_messagetemplate"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "name", "channel", "language", "version"], name="message_template_version_unique"
            )
        ]
        indexes = [models.Index(fields=["workspace", "name", "channel", "language", "is_active"])]


class Sequence(TenantModel):
    stable_label = "consent.sequence"  # moved from consent (ADR 0015)
    """A cadence: e.g. day 0 email with a payment link, day 3 SMS, day 7 call task,
    day 14 letter. ``steps`` = [{"day": 0, "channel": "email", "template": "first-reminder"}, …]."""

    name = models.CharField(max_length=100)
    steps = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        db_table = "consent_sequence"


class DebtSequence(TenantModel):
    stable_label = "consent.debtsequence"  # moved from consent (ADR 0015)
    debt = models.ForeignKey("debtors.Debt", on_delete=models.CASCADE, related_name="+")
    sequence = models.ForeignKey(Sequence, on_delete=models.CASCADE, related_name="enrolments")
    started_at = models.DateTimeField(default=dj_timezone.now)
    next_step = models.PositiveSmallIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_result = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "consent_debtsequence"
        constraints = [models.UniqueConstraint(fields=["workspace", "debt", "sequence"], name="debt_sequence_unique")]
        indexes = [models.Index(fields=["workspace", "paused", "finished_at", "next_due_at"])]
