"""The breach register: incidents, their phased updates, one clock per duty to notify,
the people affected (frozen once found) and the security alerts that propose them.

Every incident is recorded, notified or not (GDPR Art. 33(5)). Descriptions are
written by staff about an event, not about a person: the forms say not to put a
person's details in them, and the people affected are linked by id
(``AffectedPerson``), never named in text.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone as dj_timezone

from kernel.models import TenantModel


class IncidentStatus(models.TextChoices):
    SUSPECTED = "suspected", "Suspected"
    CONFIRMED = "confirmed", "Confirmed"
    CONTAINED = "contained", "Contained"
    CLOSED = "closed", "Closed"


# The only moves an incident may make (a closed incident can be reopened as confirmed).
INCIDENT_TRANSITIONS: dict[str, frozenset[str]] = {
    IncidentStatus.SUSPECTED: frozenset({IncidentStatus.CONFIRMED, IncidentStatus.CLOSED}),
    IncidentStatus.CONFIRMED: frozenset({IncidentStatus.CONTAINED, IncidentStatus.CLOSED}),
    IncidentStatus.CONTAINED: frozenset({IncidentStatus.CLOSED, IncidentStatus.CONFIRMED}),
    IncidentStatus.CLOSED: frozenset({IncidentStatus.CONFIRMED}),
}


class Incident(TenantModel):
    reference = models.CharField(max_length=20, help_text="INC-<year>-<number>, unique in the workspace")
    title = models.CharField(max_length=200)
    what_happened = models.TextField(help_text="What happened, without any person's details")
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.SUSPECTED)
    occurred_at = models.DateTimeField(null=True, blank=True, help_text="When it happened (or began), if known")
    occurred_until = models.DateTimeField(null=True, blank=True)
    aware_at = models.DateTimeField(help_text="When the workspace became aware: the clocks start here")
    # Registry categories (kernel.privacy.registry.Category values) and kinds of people.
    data_categories = models.JSONField(default=list, blank=True)
    subject_kinds = models.JSONField(default=list, blank=True)  # debtors, staff, clients' contacts…
    approx_subjects = models.PositiveIntegerField(null=True, blank=True)
    approx_records = models.PositiveIntegerField(null=True, blank=True)
    likely_consequences = models.TextField(blank=True, default="")
    measures_taken = models.TextField(blank=True, default="")
    measures_proposed = models.TextField(blank=True, default="")
    # High risk to people: they must be told without undue delay (GDPR Art. 34).
    high_risk = models.BooleanField(default=False)
    # One of the cyber incidents CERT-In lists (directions of 28 Apr 2022): 6-hour report.
    cert_in_listed = models.BooleanField(default=False)
    # The data was encrypted and the key not exposed (GDPR Art. 34(3)(a)).
    data_unintelligible = models.BooleanField(default=False)
    created_by = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    updated_at = models.DateTimeField(default=dj_timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    contained_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # The affected-people finder's question and what it found (counts by category), frozen.
    finder = models.JSONField(default=dict, blank=True)
    affected_frozen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "reference"], name="incident_reference_unique"),
        ]
        indexes = [models.Index(fields=["workspace", "status", "-aware_at"])]
        ordering = ["-aware_at"]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"


class IncidentUpdate(TenantModel):
    """One entry of the incident's history: a phase of information (GDPR Art. 33(4)),
    a status change, a decision, a filing."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    at = models.DateTimeField(default=dj_timezone.now)
    author = models.ForeignKey("accounts.User", null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=32)  # created, status, phase, decision, filed, notified, finder…
    text = models.TextField(blank=True, default="")
    status_from = models.CharField(max_length=16, blank=True, default="")
    status_to = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["workspace", "incident", "at"])]
        ordering = ["at"]


class Party(models.TextChoices):
    AUTHORITY = "authority", "Supervisory authority"
    CERT_IN = "cert_in", "CERT-In"
    PEOPLE = "people", "People affected"
    CLIENT = "client", "Client (controller)"


class Decision(models.TextChoices):
    PENDING = "pending", "Not decided"
    NOTIFY = "notify", "Notify"
    NOT_REQUIRED = "not_required", "Not required"


class Duty(TenantModel):
    """One duty to notify one party, with its clock. ``due_at`` None: "as soon as
    reasonably possible" with no fixed hours (South Africa), then ``target_at`` is the
    workspace's own target."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="duties")
    party = models.CharField(max_length=16, choices=Party.choices)
    code = models.CharField(max_length=40)  # EU-SA, UK-ICO, IN-DPB, IN-DPB-REPORT, CERT-IN, ZA-IR, PEOPLE, CLIENT
    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=200)
    source = models.CharField(max_length=300)
    starts_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True, blank=True)
    target_at = models.DateTimeField(null=True, blank=True)
    decision = models.CharField(max_length=16, choices=Decision.choices, default=Decision.PENDING)
    decision_reason = models.TextField(blank=True, default="")
    decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True, help_text="Filed with the authority / notices sent")
    done_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    filing_reference = models.CharField(max_length=200, blank=True, default="")
    late_reason = models.TextField(blank=True, default="")
    # Reminders already sent, by name ("24h", "6h", "1h", "overdue"): each goes once.
    reminders_sent = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["incident", "code", "client"], name="duty_one_per_party"),
            models.UniqueConstraint(
                fields=["incident", "code"], condition=models.Q(client__isnull=True), name="duty_one_per_code"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "done_at", "due_at"])]
        ordering = ["due_at", "code"]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_decision_display()})"


class NoticeStatus(models.TextChoices):
    PENDING = "pending", "Not yet notified"
    SENT = "sent", "Notified"
    NO_CONTACT = "no_contact", "No contact on file"
    FAILED = "failed", "Could not be sent"


class AffectedPerson(TenantModel):
    """One debtor whose data the incident touched (found by the finder, frozen on the
    incident) and whether and how they were told — exactly once."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="affected")
    debtor = models.ForeignKey("debtors.Debtor", on_delete=models.CASCADE, related_name="+")
    categories = models.JSONField(default=list, blank=True)  # registry categories touched
    found_via = models.CharField(max_length=64, blank=True, default="")  # reveal, export, api, portfolio…
    notice_status = models.CharField(max_length=16, choices=NoticeStatus.choices, default=NoticeStatus.PENDING)
    notice_claimed_at = models.DateTimeField(null=True, blank=True)
    notified_at = models.DateTimeField(null=True, blank=True)
    communication_id = models.UUIDField(null=True, blank=True)
    channel = models.CharField(max_length=16, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["incident", "debtor"], name="affected_person_once")]
        indexes = [models.Index(fields=["workspace", "incident", "notice_status"])]


class AlertKind(models.TextChoices):
    BULK_REVEAL = "bulk_reveal", "Unusual bulk reveal of personal data"
    BULK_EXPORT = "bulk_export", "Unusual bulk export of personal data"
    FAILED_LOGINS = "failed_logins", "Burst of failed sign-ins"
    NEW_NETWORK = "new_network", "API key used from a new network"
    CROSS_TENANT = "cross_tenant_404", "Many not-found answers to one API key"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    INCIDENT = "incident", "Turned into an incident"


class SecurityAlert(TenantModel):
    kind = models.CharField(max_length=24, choices=AlertKind.choices)
    # Who or what it is about: a user id, an API key id, a sign-in name's hash.
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_api_key_id = models.CharField(max_length=36, blank=True, default="")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    count = models.PositiveIntegerField()
    threshold = models.PositiveIntegerField()
    # Ids, counts and networks (a /24 or /48), never a person's values.
    evidence = models.JSONField(default=dict, blank=True)
    # The same burst is one alert: kind + who + window bucket.
    fingerprint = models.CharField(max_length=128)
    status = models.CharField(max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    dismissed_reason = models.TextField(blank=True, default="")
    handled_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    handled_at = models.DateTimeField(null=True, blank=True)
    incident = models.ForeignKey(Incident, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "fingerprint"], name="security_alert_once")]
        indexes = [models.Index(fields=["workspace", "status", "-created_at"])]
        ordering = ["-created_at"]


class AlertThresholds(TenantModel):
    """A workspace's thresholds (defaults in ``incidents.alerts.DEFAULTS``)."""

    reveals_per_hour = models.PositiveIntegerField(default=50)
    exports_per_day = models.PositiveIntegerField(default=5)
    export_rows_per_day = models.PositiveIntegerField(default=5000)
    failed_logins_per_15_minutes = models.PositiveIntegerField(default=20)
    not_found_per_hour = models.PositiveIntegerField(default=100)
    new_network_alerts = models.BooleanField(default=True)
    # South Africa: "as soon as reasonably possible" — the workspace's own target.
    authority_target_hours = models.PositiveSmallIntegerField(default=72)
    updated_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace"], name="alert_thresholds_one_per_workspace")]


class ApiKeyNetwork(TenantModel):
    """A network (IPv4 /24, IPv6 /48) an API key has been used from. The first network a
    key is used from is its baseline; each later new one raises a ``new_network`` alert
    (``incidents.alert_hooks``). A key is an integration's credential, not a person, and
    only the network prefix is kept, never the full address."""

    api_key = models.ForeignKey("accounts.ApiKey", on_delete=models.CASCADE, related_name="+")
    network = models.CharField(max_length=64)
    first_seen = models.DateTimeField(default=dj_timezone.now)
    last_seen = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "network"], name="api_key_network_once")]
