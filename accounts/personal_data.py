"""Registry declarations for accounts and for third-party apps that hold personal data."""

from __future__ import annotations

from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import LogEntry
from django.contrib.sessions.models import Session

from accounts.models import ApiKey, Invitation, User, Workspace
from kernel.privacy.registry import (
    ACCOUNT_LIFETIME,
    PD,
    SECURITY_LOGS,
    Basis,
    Category,
    Erasure,
    declare,
    declare_not_personal,
)

STAFF = "Staff accounts and access control"

declare(
    User,
    subject_type="user",
    subject="self",
    purpose=STAFF,
    recipients=("hosting provider",),
    fields={
        "email": PD(Category.CONTACT, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.PSEUDONYMISE),
        "full_name": PD(Category.IDENTITY, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.PSEUDONYMISE),
        "password": PD(Category.AUTHENTICATION, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.DELETE),
    },
)
declare(
    Invitation,
    subject_type="invitee",
    subject="email",
    purpose=STAFF,
    recipients=("email provider",),
    fields={"email": PD(Category.CONTACT, Basis.LEGITIMATE_INTERESTS, ACCOUNT_LIFETIME, Erasure.DELETE)},
)
declare(
    EmailAddress,
    subject_type="user",
    subject="user_id",
    purpose=STAFF,
    fields={"email": PD(Category.CONTACT, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.DELETE)},
)
declare(
    UserSession,
    subject_type="user",
    subject="user_id",
    purpose="Security: active sessions",
    fields={
        "ip": PD(Category.TECHNICAL, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
        "user_agent": PD(Category.TECHNICAL, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
    },
)
for axes_model in (AccessAttempt, AccessLog, AccessFailureLog):
    declare(
        axes_model,
        subject_type="login",
        subject="username",
        purpose="Security: brute-force lockout",
        fields={
            "ip_address": PD(Category.TECHNICAL, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
            "username": PD(Category.CONTACT, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
            "user_agent": PD(Category.TECHNICAL, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
        },
    )

declare(
    Authenticator,
    subject_type="user",
    subject="user_id",
    purpose="Two-factor authentication",
    fields={"data": PD(Category.AUTHENTICATION, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.DELETE)},
)
declare(
    EmailConfirmation,
    subject_type="user",
    subject="email_address__user_id",
    purpose=STAFF,
    fields={"key": PD(Category.AUTHENTICATION, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.DELETE)},
)
declare(
    Session,
    subject_type="user",
    subject="session_key",
    purpose="Keeping people signed in",
    fields={"session_data": PD(Category.TECHNICAL, Basis.CONTRACT, ACCOUNT_LIFETIME, Erasure.DELETE)},
)
declare(
    LogEntry,
    subject_type="user",
    subject="user_id",
    purpose="Operator admin change history",
    fields={
        "object_repr": PD(Category.IDENTITY, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
        "change_message": PD(Category.COMMUNICATION, Basis.LEGITIMATE_INTERESTS, SECURITY_LOGS, Erasure.DELETE),
    },
)

declare_not_personal(Workspace, name="the agency's or creditor's business name")
declare_not_personal(ApiKey, name="a label for an integration")
