"""Data-subject rights requests: the request, its timeline, identity checks, files,
erasure plans, and the workspace's privacy contact (docs/privacy-requests.md)."""

from __future__ import annotations

from datetime import datetime

from django.db import models
from django.utils import timezone as dj_timezone

from kernel.crypto.fields import EncryptedField
from kernel.models import TenantModel
from kernel.privacy.registry import PD, Basis, Category, Erasure, Retention, personal_data

# Proof that a right was honoured (or why not) is kept as long as a regulator or a
# court may ask for it; the contents people sent are in the request's own fields.
REQUEST_RECORDS = Retention(
    3 * 365, "the request is closed", "GDPR Art. 5(2) accountability; limitation periods", name="REQUEST_RECORDS"
)
PRIVACY_PURPOSE = "Answering data-subject rights requests"


class RequestType(models.TextChoices):
    ACCESS = "access", "Access (a copy of my data)"
    PORTABILITY = "portability", "Portability (machine-readable copy)"
    RECTIFICATION = "rectification", "Rectification (correct my data)"
    ERASURE = "erasure", "Erasure (delete my data)"
    RESTRICTION = "restriction", "Restriction of processing"
    OBJECTION = "objection", "Objection (including to being contacted)"
    WITHDRAWAL = "withdrawal", "Withdrawal of consent"
    NOMINATION = "nomination", "Nomination (India DPDP s.14)"
    GRIEVANCE = "grievance", "Grievance or complaint"


class RequestStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    AWAITING_VERIFICATION = "awaiting_verification", "Awaiting verification"
    VERIFIED = "verified", "Verified"
    IN_PROGRESS = "in_progress", "In progress"
    FULFILLED = "fulfilled", "Fulfilled"
    PARTLY_FULFILLED = "partly_fulfilled", "Partly fulfilled"
    REFUSED = "refused", "Refused"
    WITHDRAWN = "withdrawn", "Withdrawn"


CLOSED_STATUSES = frozenset(
    {RequestStatus.FULFILLED, RequestStatus.PARTLY_FULFILLED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN}
)
OPEN_STATUSES = frozenset(RequestStatus.values) - CLOSED_STATUSES

# The status machine: every other move is refused with the allowed ones named.
TRANSITIONS: dict[str, frozenset[str]] = {
    RequestStatus.RECEIVED: frozenset(
        {RequestStatus.AWAITING_VERIFICATION, RequestStatus.VERIFIED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN}
    ),
    RequestStatus.AWAITING_VERIFICATION: frozenset(
        {RequestStatus.VERIFIED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN}
    ),
    RequestStatus.VERIFIED: frozenset(
        {
            RequestStatus.IN_PROGRESS,
            RequestStatus.FULFILLED,
            RequestStatus.PARTLY_FULFILLED,
            RequestStatus.REFUSED,
            RequestStatus.WITHDRAWN,
        }
    ),
    RequestStatus.IN_PROGRESS: frozenset(
        {RequestStatus.FULFILLED, RequestStatus.PARTLY_FULFILLED, RequestStatus.REFUSED, RequestStatus.WITHDRAWN}
    ),
    **{closed: frozenset[str]() for closed in CLOSED_STATUSES},
}


class RequestChannel(models.TextChoices):
    WEB = "web", "Public page"
    PHONE = "phone", "Phone"
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"
    IN_PERSON = "in_person", "In person"
    API = "api", "Relayed by a client (API)"
    ACCOUNT = "account", "Account settings"


class SubjectType(models.TextChoices):
    DEBTOR = "debtor", "Debtor"
    USER = "user", "User"
    INVITEE = "invitee", "Invitee"


@personal_data(
    subject_type="workspace",
    subject="workspace_id",
    purpose=PRIVACY_PURPOSE,
    recipients=("people who make a rights request (shown on the public pages)",),
    fields={
        "contact_name": PD(Category.IDENTITY, Basis.LEGAL_OBLIGATION, REQUEST_RECORDS, Erasure.DELETE),
        "contact_email": PD(Category.CONTACT, Basis.LEGAL_OBLIGATION, REQUEST_RECORDS, Erasure.DELETE),
        "contact_phone": PD(Category.CONTACT, Basis.LEGAL_OBLIGATION, REQUEST_RECORDS, Erasure.DELETE),
    },
)
class PrivacyContact(TenantModel):
    """The workspace's named grievance / information officer: shown on the public
    pages and reminded of deadlines. India: the published grievance period."""

    contact_user = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    contact_name = models.CharField(max_length=200, blank=True, default="")
    contact_email = models.EmailField(blank=True, default="")
    contact_phone = models.CharField(max_length=40, blank=True, default="")
    grievance_period_days = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="India: the published period for answering requests (days)"
    )
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="privacy_contact_one_per_workspace")]


@personal_data(
    subject_type="debtor",
    subject="debtor_id",
    purpose=PRIVACY_PURPOSE,
    recipients=("the client that relayed the request",),
    fields={
        "requester_name": PD(
            Category.IDENTITY,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="proof that the right was honoured (GDPR Art. 5(2))",
        ),
        "requester_contact": PD(
            Category.CONTACT,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="proof that the right was honoured (GDPR Art. 5(2))",
        ),
        "details": PD(
            Category.COMMUNICATION,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="proof that the right was honoured (GDPR Art. 5(2))",
        ),
        "representative_name": PD(
            Category.IDENTITY,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="proof of the representative's authority",
        ),
        "nominee_name": PD(
            Category.IDENTITY,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="DPDP Act 2023 s.14 (nomination)",
        ),
        "nominee_contact": PD(
            Category.CONTACT,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="DPDP Act 2023 s.14 (nomination)",
        ),
        "rectification": PD(
            Category.IDENTITY,
            Basis.LEGAL_OBLIGATION,
            REQUEST_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="proof of the correction asked for (GDPR Art. 16, 19)",
        ),
    },
    not_personal={"outcome": "the staff's answer: which right was honoured and how, no personal data"},
)
class PrivacyRequest(TenantModel):
    """One rights request, from receipt to its answer. What the requester typed is
    encrypted under the workspace's key (it may match no one); the person it is
    about is ``debtor`` or ``user`` once identified."""

    reference = models.CharField(max_length=16, help_text="Shown to the requester, e.g. PR-7K2M9Q")
    type = models.CharField(max_length=16, choices=RequestType.choices)
    status = models.CharField(max_length=24, choices=RequestStatus.choices, default=RequestStatus.RECEIVED)
    channel = models.CharField(max_length=12, choices=RequestChannel.choices)
    subject_type = models.CharField(max_length=10, choices=SubjectType.choices, default=SubjectType.DEBTOR)
    debtor = models.ForeignKey("debtors.Debtor", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    user = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    client = models.ForeignKey(
        "accounts.Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The client that relayed it (API), or whose portfolio it is about",
    )
    requester_name = EncryptedField(subject="workspace", subject_type="workspace")
    requester_contact = EncryptedField(subject="workspace", subject_type="workspace")
    details = EncryptedField(subject="workspace", subject_type="workspace")
    # A representative (authorised agent, nominee) acting for the person.
    representative_name = EncryptedField(subject="workspace", subject_type="workspace")
    authorisation_status = models.CharField(
        max_length=10,
        blank=True,
        default="",
        choices=[("pending", "Pending review"), ("approved", "Approved"), ("rejected", "Rejected")],
    )
    nominee_name = EncryptedField(subject="workspace", subject_type="workspace")
    nominee_contact = EncryptedField(subject="workspace", subject_type="workspace")
    # Rectification: {"field": "new value", …} proposed by the requester (JSON, encrypted).
    rectification = EncryptedField(subject="workspace", subject_type="workspace")

    received_at = models.DateTimeField(default=dj_timezone.now)
    verification_asked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_method = models.CharField(max_length=200, blank=True, default="")
    clock_started_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    extended_due_at = models.DateTimeField(null=True, blank=True)
    extension_reason = models.CharField(max_length=500, blank=True, default="")
    reminded_7_at = models.DateTimeField(null=True, blank=True)
    reminded_2_at = models.DateTimeField(null=True, blank=True)
    overdue_flagged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, default="")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "reference"], name="privacy_request_reference")]
        indexes = [
            models.Index(fields=["workspace", "status", "due_at"]),
            models.Index(fields=["workspace", "debtor"]),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.type}, {self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def effective_due_at(self) -> datetime | None:
        """The deadline in force: the extended one once the request was extended."""
        return self.extended_due_at or self.due_at


class PrivacyRequestEvent(TenantModel):
    """The request's timeline: every transition and step, with who and why (no
    personal data in ``reason``)."""

    request = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32)
    from_status = models.CharField(max_length=24, blank=True, default="")
    to_status = models.CharField(max_length=24, blank=True, default="")
    actor = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_label = models.CharField(max_length=100, blank=True, default="", help_text="requester, client API, system…")
    reason = models.CharField(max_length=500, blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["workspace", "request", "created_at"])]


class VerificationCode(TenantModel):
    """A one-time code sent to a contact the workspace already holds (never to one
    the requester typed). Only its keyed hash is stored."""

    request = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    channel = models.CharField(max_length=8)  # email | sms
    sent_to_masked = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "request", "-created_at"])]


class FileKind(models.TextChoices):
    EXPORT = "export", "Copy of the data (ZIP)"
    AUTHORISATION = "authorisation", "Representative's authorisation"
    STATEMENT = "statement", "Erasure statement"


class RequestFile(TenantModel):
    """A file of a request, stored encrypted; an export is downloaded once through
    a single-use, expiring link and deleted after its retention."""

    request = models.ForeignKey(PrivacyRequest, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=16, choices=FileKind.choices)
    storage_name = models.CharField(max_length=200, blank=True, default="")
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    download_token_hash = models.CharField(max_length=64, blank=True, default="")
    download_token_expires_at = models.DateTimeField(null=True, blank=True)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "kind", "expires_at"])]


class PlanStatus(models.TextChoices):
    DRAFT = "draft", "Draft (dry run)"
    APPROVED = "approved", "Approved"
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class ErasurePlan(TenantModel):
    """What erasing one person will do, field by field, before anything is done; then
    its approval and its execution (idempotent, resumable: ``progress`` records the
    steps done). ``statement`` is what the person is told."""

    request = models.ForeignKey(
        PrivacyRequest, null=True, blank=True, on_delete=models.PROTECT, related_name="erasure_plans"
    )
    debtor = models.ForeignKey("debtors.Debtor", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=PlanStatus.choices, default=PlanStatus.DRAFT)
    plan = models.JSONField(default=dict)
    progress = models.JSONField(default=dict, blank=True)
    statement = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=300, blank=True, default="", help_text="e.g. court order reference")
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    approved_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    # A retention purge's plan (no request): the run's id, so a run that died continues
    # this plan instead of starting a second one, and the run's clock, from which the
    # plan counts the periods (erasure at the end of the retention period).
    retention_run = models.CharField(max_length=40, blank=True, default="")
    as_of = models.DateTimeField(null=True, blank=True, help_text="Periods counted from this moment (None: now)")

    class Meta:
        indexes = [
            models.Index(fields=["workspace", "debtor", "-created_at"]),
            models.Index(fields=["workspace", "retention_run", "debtor"]),
        ]


class NoticeOutcome(models.TextChoices):
    QUEUED = "queued", "Sent through the communications pipeline"
    NO_CONTACT = "no_contact", "Not sent: no email or phone on file"


class RetentionNotice(TenantModel):
    """The person was told that their data will be erased for inactivity (a profile's
    ``retention_notice_days``, e.g. DPDP Rules r.8), or could not be told (no contact on
    file). Valid while no collection activity came after it: new activity restarts the
    clock and a later erasure needs a new notice. Ids and dates only."""

    debtor = models.ForeignKey("debtors.Debtor", on_delete=models.CASCADE, related_name="+")
    notified_at = models.DateTimeField(help_text="The purge run's clock when the notice went out")
    activity_at = models.DateTimeField(help_text="The last collection activity the notice counted from")
    erase_after = models.DateTimeField(help_text="Erased on or after this moment, unless activity resumes")
    channel = models.CharField(max_length=10, blank=True, default="")
    communication = models.ForeignKey(
        "communications.Communication", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(max_length=12, choices=NoticeOutcome.choices)
    run_id = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "debtor", "-notified_at"])]
