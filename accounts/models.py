from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from accounts.jurisdictions import Jurisdiction
from accounts.roles import Role, can
from kernel.crypto.fields import EncryptedField
from kernel.models import TenantModel
from kernel.privacy.registry import FINANCIAL_RECORDS, PD, Basis, Category, Erasure, personal_data


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def _create(self, email: str, password: str | None, **extra: Any) -> User:
        if not email:
            raise ValueError("An email address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra["is_staff"] = True
        extra["is_superuser"] = True
        return self._create(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in: agency staff, client users, operators. Debtors never log in."""

    email = models.EmailField(_("email address"), unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Can log into the operator admin.")
    date_joined = models.DateTimeField(default=dj_timezone.now)

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]


slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    "Use 1–50 lowercase letters, digits or hyphens, not starting or ending with a hyphen.",
)

TIMEZONE_CHOICES = sorted((tz, tz) for tz in zoneinfo.available_timezones())


def validate_timezone(value: str) -> None:
    # A validator, not model choices: tzdata updates must not create migrations.
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Asia/Kolkata).")


class Workspace(models.Model):
    """A tenant: one collection agency or creditor. Every tenant row points here."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    jurisdiction = models.CharField(max_length=2, choices=Jurisdiction.choices, default="IN")
    currency = models.CharField(max_length=3, default="INR", help_text="ISO 4217 code")
    timezone = models.CharField(max_length=64, validators=[validate_timezone], default="Asia/Kolkata")
    data_region = models.CharField(max_length=16, default="in")
    require_mfa = models.BooleanField(default=False, help_text="Every member must set up two-factor authentication.")
    created_at = models.DateTimeField(default=dj_timezone.now)
    # Closed by its owner (docs/retention.md, "Closing a workspace"): it stops working at
    # once; its data is purged when ``purge_after`` passes (ACCOUNT_LIFETIME), except what
    # a hold or the books keep; ``purged_at`` when the final receipt was sent.
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    purge_after = models.DateTimeField(null=True, blank=True)
    purged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class Membership(TenantModel):
    """A user's role in one workspace. A client-scoped membership (``client`` set)
    is a creditor's login that sees only that client's portfolio."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)

    # A user may read their own memberships in any workspace (to list workspaces).
    rls_extra_read = "user_id = nullif(current_setting('app.user_id', true), '')::bigint"

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")]
        indexes = [models.Index(fields=["workspace", "role"])]

    def __str__(self) -> str:
        return f"{self.user_id} as {self.role} in {self.workspace_id}"

    def can(self, perm: str) -> bool:
        """Whether this role (and client scope) grants ``perm`` (accounts/roles.py)."""
        return can(self, perm)


class Invitation(TenantModel):
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # The holder of an invitation link may read that one invitation.
    rls_extra_read = "token_hash = current_setting('app.invitation_hash', true)"

    class Meta:
        indexes = [models.Index(fields=["workspace", "email"])]

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > dj_timezone.now()


class ApiKey(TenantModel):
    """A secret for the REST API. Only a SHA-256 of the key is stored (the key is
    192 random bits, so a slow hash adds nothing); ``prefix`` identifies it in lists."""

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    client = models.ForeignKey("accounts.Client", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=dj_timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    # The API authenticator reads the one row whose hash matches the presented key.
    rls_extra_read = "key_hash = current_setting('app.api_key_hash', true)"

    class Meta:
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


@personal_data(
    subject_type="workspace",
    subject="workspace_id",
    purpose="Remitting collections to creditors",
    recipients=("the workspace's bank",),
    fields={
        "remittance_details": PD(
            Category.FINANCIAL,
            Basis.CONTRACT,
            FINANCIAL_RECORDS,
            Erasure.KEEP_UNTIL,
            sensitive=True,
            keep_law="accounting and tax record keeping",
        ),
    },
    not_personal={"name": "the creditor's business name"},
)
class Client(TenantModel):
    """A creditor who places debts with the workspace."""

    name = models.CharField(max_length=200)
    reference = models.CharField(max_length=64, help_text="Unique within the workspace")
    commission_rate_bps = models.PositiveIntegerField(
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(10_000)],
        help_text="Commission in basis points (1500 = 15%)",
    )
    remittance_details = EncryptedField(
        subject="workspace", subject_type="workspace", help_text="Bank account for remittances (encrypted)"
    )
    # The contract's deadline for telling this client of a breach involving its data
    # (a processor tells its controller: GDPR Art. 33(2)); docs/incidents.md.
    breach_notice_hours = models.PositiveSmallIntegerField(
        default=24, db_default=24, validators=[MinValueValidator(1), MaxValueValidator(720)]
    )
    created_at = models.DateTimeField(default=dj_timezone.now)

    # Moved from the debtors app (ADR 0015): the table and the encryption binding
    # keep their first names, so no row is copied and every value still decrypts.
    stable_label = "debtors.client"

    class Meta:
        db_table = "debtors_client"
        constraints = [models.UniqueConstraint(fields=["workspace", "reference"], name="client_unique_reference")]
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} [{self.reference}]"
