from __future__ import annotations

import hashlib
from typing import ClassVar

from django.db import models
from django.utils import timezone as dj_timezone

from kernel.models import TenantModel, uuid7
from kernel.privacy.registry import PD, Basis, Category, Erasure, Retention, personal_data

CONSENT_PROOF = Retention(
    6 * 365,
    "the consent is withdrawn",
    "GDPR Art. 7(1) demonstrate consent; limitation periods",
    name="CONSENT_PROOF",
)


class Purpose(models.TextChoices):
    CONTACT_EMAIL = "contact_email", "Collection contact by email"
    CONTACT_SMS = "contact_sms", "Collection contact by SMS"
    CONTACT_PHONE = "contact_phone", "Collection contact by phone"
    CONTACT_WHATSAPP = "contact_whatsapp", "Collection contact by WhatsApp"
    CONTACT_LETTER = "contact_letter", "Collection contact by letter"
    ALL_CONTACT = "all_contact", "Any collection contact (cease communication)"
    MARKETING = "marketing", "Marketing"
    ANALYTICS_COOKIES = "analytics_cookies", "Analytics cookies"
    SHARE_FIELD_AGENT = "share_field_agent", "Sharing with field agents"
    SHARE_LEGAL = "share_legal", "Sharing with legal firms"
    SHARE_CREDIT_BUREAU = "share_credit_bureau", "Sharing with credit bureaus"
    # Withdrawn: processing restricted by a rights request (GDPR Art. 18); granted: lifted.
    PROCESSING = "processing", "Processing beyond storage (restriction of processing)"


CHANNEL_PURPOSE = {
    "email": Purpose.CONTACT_EMAIL,
    "sms": Purpose.CONTACT_SMS,
    "call": Purpose.CONTACT_PHONE,
    "whatsapp": Purpose.CONTACT_WHATSAPP,
    "letter": Purpose.CONTACT_LETTER,
}


class ConsentAction(models.TextChoices):
    GRANT = "grant", "Grant"
    WITHDRAW = "withdraw", "Withdraw"


class ConsentSource(models.TextChoices):
    DEBTOR_PAGE = "debtor_page", "Debtor page"
    AGENT_CALL = "agent_call", "Agent on a call"
    API = "api", "API"
    IMPORT = "import", "Import"
    COOKIE_BANNER = "cookie_banner", "Cookie banner"
    OPT_OUT_LINK = "opt_out_link", "One-click opt-out link"
    RIGHTS_REQUEST = "rights_request", "Rights request (restriction, objection, withdrawal)"


class PolicyKind(models.TextChoices):
    PRIVACY = "privacy", "Privacy policy"
    TERMS = "terms", "Terms of use"
    COLLECTION_NOTICE = "collection_notice", "Contact preferences notice"
    COOKIES = "cookies", "Cookie notice"


class PolicyVersion(models.Model):
    """A published version of a policy or notice. Consent records point at the exact
    version (and its text hash) the person was shown."""

    id = models.UUIDField(primary_key=True, default=uuid7, editable=False)
    kind = models.CharField(max_length=20, choices=PolicyKind.choices)
    version = models.CharField(max_length=20)
    effective_at = models.DateTimeField()
    material_change = models.BooleanField(
        default=False, help_text="Users must re-accept; debtors with an email are notified"
    )
    text = models.TextField()
    text_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "version"], name="policy_version_unique")]
        ordering = ["kind", "-effective_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version}"

    @staticmethod
    def hash_text(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()


@personal_data(
    subject_type="debtor",
    subject="subject_id",
    purpose="Proof of consent and contact preferences",
    recipients=("the creditor, on request (proof-of-consent export)",),
    fields={
        # The address and browser a consent or withdrawal came from: the proof of it.
        # The consent ledger is append-only (the database refuses UPDATE and DELETE), so
        # erasure keeps them until the proof's retention ends and the statement says so.
        "ip": PD(
            Category.TECHNICAL,
            Basis.LEGAL_OBLIGATION,
            CONSENT_PROOF,
            Erasure.KEEP_UNTIL,
            keep_law="GDPR Art. 7(1): demonstrate consent (the consent ledger is append-only)",
        ),
        "user_agent": PD(
            Category.TECHNICAL,
            Basis.LEGAL_OBLIGATION,
            CONSENT_PROOF,
            Erasure.KEEP_UNTIL,
            keep_law="GDPR Art. 7(1): demonstrate consent (the consent ledger is append-only)",
        ),
    },
)
class ConsentRecord(TenantModel):
    """Append-only. The current state of a purpose is the latest record for it."""

    subject_type = models.CharField(max_length=16, default="debtor")  # debtor | user | visitor
    subject_id = models.CharField(max_length=64)
    purpose = models.CharField(max_length=24, choices=Purpose.choices)
    action = models.CharField(max_length=8, choices=ConsentAction.choices)
    lawful_basis = models.CharField(max_length=24, choices=Basis.choices, default=Basis.CONSENT)
    source = models.CharField(max_length=16, choices=ConsentSource.choices)
    notice = models.ForeignKey(PolicyVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    notice_version = models.CharField(max_length=20, blank=True, default="")
    notice_hash = models.CharField(max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True, default="")
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now)

    rls_append_only: ClassVar[bool] = True
    # Pruned only through kernel.tenancy.rls.prune_append_only (consent/retention.py):
    # never within a year of the record, and never the standing choice of a person who
    # still exists — a record is deletable only once a later record of the same person
    # and purpose superseded it, or the person was erased (their data key shredded).
    # Deleting a standing withdrawal would make the person contactable again.
    rls_prune_column: ClassVar[str] = "created_at"
    rls_prune_min_days: ClassVar[int] = 365
    rls_prune_guard: ClassVar[str] = (
        "EXISTS (SELECT 1 FROM consent_consentrecord n WHERE n.workspace_id = t.workspace_id"
        " AND n.subject_type = t.subject_type AND n.subject_id = t.subject_id AND n.purpose = t.purpose"
        " AND (n.created_at, n.id) > (t.created_at, t.id))"
        " OR EXISTS (SELECT 1 FROM collectpro_subjectkey k WHERE k.workspace_id = t.workspace_id"
        " AND k.subject_type = t.subject_type AND k.subject_id = t.subject_id AND k.shredded_at IS NOT NULL)"
    )

    class Meta:
        indexes = [models.Index(fields=["workspace", "subject_type", "subject_id", "purpose", "-created_at"])]


@personal_data(
    subject_type="user",
    subject="user_id",
    purpose="Proof that a user accepted a policy version",
    fields={
        "ip": PD(
            Category.TECHNICAL, Basis.LEGAL_OBLIGATION, CONSENT_PROOF, Erasure.KEEP_UNTIL, keep_law="GDPR Art. 7(1)"
        )
    },
)
class PolicyAcceptance(models.Model):
    """A user's acceptance of a policy version (re-asked after a material change)."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    policy = models.ForeignKey(PolicyVersion, on_delete=models.PROTECT, related_name="+")
    accepted_at = models.DateTimeField(default=dj_timezone.now)
    ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "policy"], name="policy_acceptance_unique")]


class ContactPolicy(TenantModel):
    """A workspace's own contact rules, on top of its jurisdiction profile. The
    engine always takes the stricter of the two."""

    start_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Earliest local hour (0–23); blank = the jurisdiction's"
    )
    end_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Latest local hour (exclusive); blank = the jurisdiction's"
    )
    call_cap_7_days = models.PositiveSmallIntegerField(null=True, blank=True)
    email_cap_7_days = models.PositiveSmallIntegerField(null=True, blank=True)
    sms_cap_7_days = models.PositiveSmallIntegerField(null=True, blank=True)
    whatsapp_cap_7_days = models.PositiveSmallIntegerField(null=True, blank=True)
    allow_weekends = models.BooleanField(default=True)
    blackout_dates = models.JSONField(
        default=list, blank=True, help_text='["2026-12-25", …] in the debtor\'s local calendar'
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="contact_policy_one_per_workspace")]


class ContactAttempt(TenantModel):
    """Every decision of the contact rules engine that led to (or refused) an
    outbound contact: the proof that a refused contact was not made, and why."""

    debt = models.ForeignKey("debtors.Debt", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10)
    allowed = models.BooleanField()
    reasons = models.JSONField(default=list, blank=True)
    decided_at = models.DateTimeField(default=dj_timezone.now)
    actor_user_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "debt", "-decided_at"])]


class Disclosure(TenantModel):
    """A disclosure of a debtor's data to a third party: who, what, when, why."""

    debtor = models.ForeignKey("debtors.Debtor", on_delete=models.CASCADE, related_name="+")
    recipient_type = models.CharField(
        max_length=20,
        choices=[
            ("field_agent", "Field agent"),
            ("legal_firm", "Legal firm"),
            ("credit_bureau", "Credit bureau"),
            ("creditor", "Creditor"),
            ("other", "Other"),
        ],
    )
    recipient_name = models.CharField(max_length=200)
    categories = models.JSONField(default=list)
    purpose = models.CharField(max_length=200)
    legal_basis = models.CharField(max_length=24, choices=Basis.choices, default=Basis.LEGITIMATE_INTERESTS)
    disclosed_at = models.DateTimeField(default=dj_timezone.now)
    actor_user_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "debtor", "-disclosed_at"])]


class SubProcessor(models.Model):
    """The platform's sub-processors, shown on a public page."""

    name = models.CharField(max_length=100)
    purpose = models.CharField(max_length=200)
    region = models.CharField(max_length=100)
    transfer_safeguard = models.CharField(max_length=200)
    url = models.URLField(blank=True, default="")
    since = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["name"]


@personal_data(
    subject_type="visitor",
    subject="visitor_id",
    purpose="Proof of cookie choices",
    fields={
        "ip": PD(
            Category.TECHNICAL,
            Basis.LEGAL_OBLIGATION,
            CONSENT_PROOF,
            Erasure.KEEP_UNTIL,
            keep_law="GDPR Art. 7(1); ePrivacy",
        ),
        "user_agent": PD(
            Category.TECHNICAL,
            Basis.LEGAL_OBLIGATION,
            CONSENT_PROOF,
            Erasure.KEEP_UNTIL,
            keep_law="GDPR Art. 7(1); ePrivacy",
        ),
    },
)
class VisitorConsent(models.Model):
    """Cookie choices of a visitor to a page outside any workspace (append-only).
    On a debtor's page the choice is a ConsentRecord of that debtor instead."""

    visitor_id = models.CharField(max_length=64, db_index=True)
    analytics = models.BooleanField()
    notice_version = models.CharField(max_length=20, blank=True, default="")
    notice_hash = models.CharField(max_length=64, blank=True, default="")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now)
