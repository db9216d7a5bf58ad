"""Writes for accounts: workspaces, memberships, invitations, API keys, and
deleting a user's account.

Each service runs in one transaction and writes its audit event in it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module
from typing import Any

from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.jurisdictions import PROFILES, profile_for
from accounts.models import ApiKey, Client, Invitation, Membership, User, Workspace
from accounts.roles import Role, can, can_grant
from audit import actions
from audit.models import AuditChain, AuditEvent, chain_key
from audit.services import audit_record
from kernel.privacy.registry import Basis, Declaration, Erasure, declarations
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope, no_workspace

API_KEY_PREFIX = "cp_"
INVITATION_TTL = timedelta(days=7)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


# --- Workspaces -------------------------------------------------------------


def workspace_create(
    *,
    slug: str,
    name: str,
    owner_email: str,
    owner_password: str | None,
    jurisdiction: str = "IN",
    currency: str | None = None,
    timezone_name: str | None = None,
) -> Workspace:
    """Create a workspace and its owner (an existing user keeps their password).

    Validates everything before writing, so a bad argument changes nothing."""
    if jurisdiction not in PROFILES:
        raise ValidationError(
            {"jurisdiction": f"Unknown jurisdiction {jurisdiction!r}; use one of {', '.join(PROFILES)}."}
        )
    profile = profile_for(jurisdiction)
    workspace = Workspace(
        slug=slug,
        name=name,
        jurisdiction=jurisdiction,
        currency=(currency or profile.default_currency).upper(),
        timezone=timezone_name or profile.default_timezone,
        data_region=profile.data_region,
    )
    workspace.full_clean()
    email = User.objects.normalize_email(owner_email).lower()
    owner = User.objects.filter(email=email).first()
    if owner is None:
        if not owner_password:
            raise ValidationError({"password": "A password is required for a new owner."})
        User(email=email).clean_fields(exclude=["password"])
        validate_password(owner_password, user=User(email=email))
    with transaction.atomic():
        workspace.save()
        if owner is None:
            owner = User.objects.create_user(email=email, password=owner_password)
        with workspace_context(workspace):
            AuditChain.objects.create(key=chain_key(workspace.pk), workspace=workspace)
            Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
            audit_record(
                action=actions.WORKSPACE_CREATED,
                workspace=workspace,
                obj=workspace,
                metadata={"jurisdiction": jurisdiction, "owner_user_id": owner.pk},
            )
    return workspace


WORKSPACE_SETTINGS_FIELDS = ("name", "jurisdiction", "currency", "timezone", "require_mfa")


def workspace_update_settings(*, workspace: Workspace, actor: User, **changes: Any) -> Workspace:
    unknown = set(changes) - set(WORKSPACE_SETTINGS_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown settings: {', '.join(sorted(unknown))}")
    changed = [k for k, v in changes.items() if getattr(workspace, k) != v]
    for key in changed:
        setattr(workspace, key, changes[key])
    workspace.full_clean()
    if not changed:
        return workspace
    with transaction.atomic():
        workspace.save(update_fields=changed)
        audit_record(
            action=actions.WORKSPACE_SETTINGS_CHANGED,
            workspace=workspace,
            obj=workspace,
            actor_user_id=actor.pk,
            metadata={"fields": sorted(changed)},
        )
    return workspace


# --- Memberships ------------------------------------------------------------


def _require(membership: Membership | None, perm: str) -> None:
    if not can(membership, perm):
        raise PermissionError(f"Your role may not do this ({perm}).")


def _owners_left(workspace: Workspace, excluding: Membership) -> int:
    return Membership.objects.for_workspace(workspace).filter(role=Role.OWNER).exclude(pk=excluding.pk).count()


def membership_add(
    *, workspace: Workspace, user: User, role: str, actor: User | None = None, client: Any = None
) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    with transaction.atomic():
        membership, created = Membership.objects.for_workspace(workspace).get_or_create(
            workspace=workspace, user=user, defaults={"role": role, "client": client}
        )
        if not created:
            raise ValidationError({"email": "This person is already a member."})
        audit_record(
            action=actions.MEMBER_ADDED,
            workspace=workspace,
            obj=membership,
            actor_user_id=actor.pk if actor else None,
            metadata={"user_id": user.pk, "role": role},
        )
    return membership


def membership_change_role(*, acting: Membership, membership: Membership, role: str) -> Membership:
    """Only owners and admins change roles; only an owner grants or removes
    ownership; the last owner cannot be demoted."""
    _require(acting, "members.manage")
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}."})
    if not can_grant(acting.role, role) or (membership.role == Role.OWNER and acting.role != Role.OWNER):
        raise PermissionError("Only an owner can grant or change the owner role.")
    if membership.role == Role.OWNER and role != Role.OWNER and _owners_left(membership.workspace, membership) == 0:
        raise ValidationError({"role": "A workspace must keep at least one owner."})
    if membership.role == role:
        return membership
    old = membership.role
    with transaction.atomic():
        membership.role = role
        membership.save(update_fields=["role"])
        audit_record(
            action=actions.MEMBER_ROLE_CHANGED,
            workspace=membership.workspace,
            obj=membership,
            actor_user_id=acting.user_id,
            metadata={"user_id": membership.user_id, "from": old, "to": role},
        )
    return membership


def membership_remove(*, acting: Membership, membership: Membership) -> None:
    _require(acting, "members.manage")
    if membership.role == Role.OWNER and acting.role != Role.OWNER:
        raise PermissionError("Only an owner can remove an owner.")
    if membership.role == Role.OWNER and _owners_left(membership.workspace, membership) == 0:
        raise ValidationError("A workspace must keep at least one owner.")
    with transaction.atomic():
        audit_record(
            action=actions.MEMBER_REMOVED,
            workspace=membership.workspace,
            obj=membership,
            actor_user_id=acting.user_id,
            metadata={"user_id": membership.user_id, "role": membership.role},
        )
        membership.delete()


# --- Invitations ------------------------------------------------------------


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str
    url: str


def invitation_create(*, acting: Membership, email: str, role: str) -> IssuedInvitation:
    """Invite someone by email. The link carries a random token; only its hash is stored."""
    _require(acting, "members.manage")
    if not can_grant(acting.role, role):
        raise PermissionError("You may not grant that role.")
    email = User.objects.normalize_email(email).lower()
    workspace = acting.workspace
    if Membership.objects.for_workspace(workspace).filter(user__email=email).exists():
        raise ValidationError({"email": "This person is already a member."})
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        workspace=workspace,
        email=email,
        role=role,
        token_hash=sha256_hex(token),
        invited_by=acting.user,
        expires_at=timezone.now() + INVITATION_TTL,
    )
    invitation.full_clean(exclude=["workspace", "invited_by"])
    url = settings.SITE_URL.rstrip("/") + reverse("invitation_accept", args=[token])
    with transaction.atomic():
        Invitation.objects.for_workspace(workspace).filter(email=email, accepted_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        invitation.save()
        audit_record(
            action=actions.INVITATION_CREATED,
            workspace=workspace,
            obj=invitation,
            actor_user_id=acting.user_id,
            metadata={"role": role},
        )
        transaction.on_commit(
            lambda: send_mail(
                subject=f"You're invited to {workspace.name} on CollectPro",
                message=(
                    f"{acting.user.get_full_name()} invited you to join {workspace.name} "
                    f"as {Role(role).label}.\n\nAccept within 7 days: {url}\n"
                ),
                from_email=None,
                recipient_list=[email],
            )
        )
    return IssuedInvitation(invitation, token, url)


def invitation_revoke(*, acting: Membership, invitation: Invitation) -> None:
    _require(acting, "members.manage")
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit_record(
            action=actions.INVITATION_REVOKED,
            workspace=invitation.workspace,
            obj=invitation,
            actor_user_id=acting.user_id,
        )


def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """Join the workspace. The invitation must be pending and addressed to this user's email."""
    if not invitation.is_pending:
        raise ValidationError("This invitation has expired or was already used.")
    if invitation.email != user.email.lower():
        raise ValidationError("This invitation was sent to a different email address.")
    with transaction.atomic():
        membership = membership_add(workspace=invitation.workspace, user=user, role=invitation.role, actor=user)
        invitation.accepted_at = timezone.now()
        invitation.save(update_fields=["accepted_at"])
        audit_record(
            action=actions.INVITATION_ACCEPTED,
            workspace=invitation.workspace,
            obj=invitation,
            actor_user_id=user.pk,
        )
    return membership


# --- API keys ---------------------------------------------------------------


@dataclass(frozen=True)
class IssuedApiKey:
    api_key: ApiKey
    secret: str


def api_key_create(
    *, workspace: Workspace, name: str, created_by: User | None = None, client: Any = None
) -> IssuedApiKey:
    """Create a key and return its secret once. Store only the hash and a prefix."""
    name = (name or "").strip() or "API key"
    prefix = secrets.token_hex(4)
    secret = f"{API_KEY_PREFIX}{prefix}_{secrets.token_urlsafe(24)}"
    if client is not None and client.workspace_id != workspace.pk:
        raise ValidationError({"client": "That client belongs to another workspace."})
    with transaction.atomic():
        api_key = ApiKey.objects.for_workspace(workspace).create(
            workspace=workspace,
            name=name[:100],
            prefix=f"{API_KEY_PREFIX}{prefix}",
            key_hash=sha256_hex(secret),
            client=client,
            created_by=created_by,
        )
        audit_record(
            action=actions.API_KEY_CREATED,
            workspace=workspace,
            obj=api_key,
            actor_user_id=created_by.pk if created_by else None,
            metadata={"client_id": str(client.pk) if client else None},
        )
    return IssuedApiKey(api_key, secret)


def api_key_revoke(*, api_key: ApiKey, actor: User | None = None) -> ApiKey:
    if api_key.revoked_at is not None:
        return api_key
    with transaction.atomic():
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit_record(
            action=actions.API_KEY_REVOKED,
            workspace=api_key.workspace_id,
            obj=api_key,
            actor_user_id=actor.pk if actor else None,
        )
    return api_key


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute per key (a conditional UPDATE, no lock)."""
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < timedelta(minutes=1):
        return
    ApiKey.unscoped.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


# --- Clients (the creditors whose portfolios keys and memberships may be scoped to)


def client_create(*, workspace: Workspace, name: str, reference: str, commission_rate_bps: int = 0) -> Client:
    """Create a creditor. The reference is unique within the workspace."""
    client = Client(
        workspace=workspace,
        name=name.strip(),
        reference=reference.strip(),
        commission_rate_bps=commission_rate_bps,
    )
    client.full_clean(exclude=["workspace"])
    if Client.objects.for_workspace(workspace).filter(reference=client.reference).exists():
        raise ValidationError({"reference": "A client with this reference already exists."})
    with transaction.atomic():
        client.save(force_insert=True)
        audit_record(action=actions.CLIENT_CREATED, workspace=workspace, obj=client)
    return client


DIRECT_REFERENCE = "DIRECT"


def client_default(*, workspace: Workspace) -> Client:
    """The workspace's own portfolio, used when a debt is placed without a client
    (a creditor collecting its own debts)."""
    client = Client.objects.for_workspace(workspace).filter(reference=DIRECT_REFERENCE).first()
    if client is None:
        client = client_create(workspace=workspace, name=f"{workspace.name} (direct)", reference=DIRECT_REFERENCE)
    return client


# --- Deleting a user's account ----------------------------------------------------

ERASED_EMAIL_DOMAIN = "erased.invalid"
_REASON_CODE = re.compile(r"^[a-z0-9_]{0,40}$")

# What this service does to each kind of record the registry declares about a user
# (subject_type "user"); tests check that every declaration with something to
# delete or pseudonymise is listed, so the statement never claims more than was done.
ACCOUNT_DELETION_HANDLES = frozenset(
    {
        "accounts.user",  # pseudonymised in place (the row stays for the audit trail's actor ids)
        "account.emailaddress",
        "account.emailconfirmation",
        "mfa.authenticator",
        "usersessions.usersession",
        "sessions.session",
        "admin.logentry",
    }
)

_KEPT_WHAT = {
    AuditEvent._meta.label_lower: (
        "The audit trail: who did what and when in each workspace, with the IP address and browser used. "
        "Its entries point at your erased account and hold no copy of your name or email"
    ),
}


def erased_email(user_id: int) -> str:
    return f"erased-{user_id}@{ERASED_EMAIL_DOMAIN}"


def user_is_erased(user: User) -> bool:
    return user.email == erased_email(user.pk)


def _sole_owned(memberships: list[Membership], user: User) -> list[Workspace]:
    sole = []
    for membership in memberships:
        if membership.role != Role.OWNER:
            continue
        with workspace_context(membership.workspace, user_id=user.pk):
            if _owners_left(membership.workspace, membership) == 0:
                sole.append(membership.workspace)
    return sole


def _end_sessions(user: User) -> int:
    """End every tracked session of ``user`` (allauth's list and Django's store).
    Untracked sessions die too: the unusable password no longer matches their hash."""
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store().delete(key)
    UserSession.objects.filter(user=user).delete()
    return len(keys)


def _how(fields: dict[str, Any]) -> str:
    parts = []
    for erasure, said in ((Erasure.PSEUDONYMISE, "replaced by a placeholder"), (Erasure.DELETE, "deleted")):
        names = sorted(name for name, pd in fields.items() if pd.erasure == erasure)
        if names:
            parts.append(f"{', '.join(names)} {said}")
    return "; ".join(parts)


def _kept(decl: Declaration, fields: dict[str, Any]) -> dict[str, str]:
    first = next(iter(fields.values()))
    label = decl.model._meta.label_lower
    what = _KEPT_WHAT.get(label, f"{decl.purpose}: {decl.model._meta.verbose_name} ({', '.join(sorted(fields))})")
    return {
        "what": what,
        "why": f"{Basis(first.basis).label}: {first.keep_law or first.retention.source}",
        "until": str(first.retention),
    }


def account_deletion_statement(done: dict[str, int] | None = None) -> dict[str, list[dict[str, Any]]]:
    """What deleting an account erases and keeps, from the registry's declarations
    about users (``done``: rows removed per model label, when it has happened).
    Kept: fields whose erasure is "keep until", and the security logs of sign-in
    attempts, which name the address typed (subject_type "login")."""
    done = done or {}
    erased: list[dict[str, Any]] = [
        {"what": "Your memberships of workspaces", "how": "removed", "count": done.get("accounts.membership", 0)},
    ]
    kept: list[dict[str, str]] = []
    for decl in declarations():
        if decl.subject_type != "user":
            continue
        label = decl.model._meta.label_lower
        gone = {n: pd for n, pd in decl.fields.items() if pd.erasure != Erasure.KEEP_UNTIL}
        keep = {n: pd for n, pd in decl.fields.items() if pd.erasure == Erasure.KEEP_UNTIL}
        if gone:
            erased.append(
                {
                    "what": f"{decl.purpose}: {decl.model._meta.verbose_name}",
                    "how": _how(gone),
                    "count": done.get(label, 0),
                }
            )
        if keep:
            kept.append(_kept(decl, keep))
    logins = [decl for decl in declarations() if decl.subject_type == "login"]
    if logins:
        fields = logins[0].fields
        first = next(iter(fields.values()))
        kept.append(
            {
                "what": f"{logins[0].purpose}: sign-in attempts with the address typed, IP address and browser",
                "why": f"{Basis(first.basis).label}: security ({first.retention.source})",
                "until": str(first.retention),
            }
        )
    return {"erased": erased, "kept": kept}


def user_account_delete(*, user: User, actor: User | None = None, reason: str = "") -> dict[str, Any]:
    """Delete ``user``'s account, keeping what the law requires, in one transaction.

    Refused (ValidationError) while they are the only owner of a workspace. Their
    memberships, invitations addressed to them (in those workspaces), two-factor
    authenticators, email addresses, sessions and admin log entries are deleted;
    the user row stays, pseudonymised (``erased-<pk>@erased.invalid``, no name, an
    unusable password, inactive), so the audit trail's actor ids and the
    ``created_by`` columns still point at "an erased user". Invitations they sent
    and API keys they created belong to the workspace and stay. The audit trail,
    policy acceptances and sign-in attempt logs are kept (see the statement).
    ``reason`` is a short code (``self_service``, ``operator``…), never free text.
    Returns the statement: ``{"erased": [...], "kept": [{what, why, until}]}``."""
    if not _REASON_CODE.match(reason):
        raise ValueError("reason is a short code (lowercase letters, digits, _), not free text")
    if user_is_erased(user):
        raise ValidationError("This account has already been deleted.")
    memberships = list(Membership.unscoped.filter(user=user).select_related("workspace").order_by("workspace__name"))
    sole = _sole_owned(memberships, user)
    if sole:
        names = ", ".join(ws.name for ws in sole)
        raise ValidationError(
            f"You are the only owner of {names}. Hand it over first: make another member an owner "
            "(Members page of the workspace), then delete your account. If no one else belongs to it, "
            "close the workspace first (Settings → Close this workspace)."
        )
    acting_id = (actor or user).pk
    old_email = user.email
    done: dict[str, int] = {}
    with transaction.atomic():
        for membership in memberships:
            workspace = membership.workspace
            with workspace_context(workspace, user_id=user.pk):
                done["accounts.invitation"] = (
                    done.get("accounts.invitation", 0)
                    + Invitation.objects.for_workspace(workspace).filter(email__iexact=old_email).delete()[0]
                )
                audit_record(
                    action=actions.MEMBER_REMOVED,
                    workspace=workspace,
                    obj=membership,
                    actor_user_id=acting_id,
                    metadata={"user_id": user.pk, "role": membership.role, "account_deleted": True},
                )
                Membership.objects.for_workspace(workspace).filter(pk=membership.pk).delete()
        done["accounts.membership"] = len(memberships)
        done["mfa.authenticator"] = Authenticator.objects.filter(user=user).delete()[0]
        done["account.emailconfirmation"] = EmailConfirmation.objects.filter(email_address__user=user).delete()[0]
        done["account.emailaddress"] = EmailAddress.objects.filter(user=user).delete()[0]
        done["sessions.session"] = done["usersessions.usersession"] = _end_sessions(user)
        done["admin.logentry"] = LogEntry.objects.filter(user_id=user.pk).delete()[0]

        user.email = erased_email(user.pk)
        user.full_name = ""
        user.set_unusable_password()
        user.is_active = False
        user.is_staff = False
        user.is_superuser = False
        user.last_login = None
        user.save()
        user.groups.clear()
        user.user_permissions.clear()
        done["accounts.user"] = 1

        with no_workspace(), db_scope(workspace_id=None, user_id=user.pk):
            audit_record(
                action=actions.USER_ACCOUNT_DELETED,
                workspace=None,
                obj=user,
                actor_user_id=acting_id,
                metadata={
                    "by_self": actor is None or actor.pk == user.pk,
                    "reason": reason,
                    "memberships": done["accounts.membership"],
                    "authenticators": done["mfa.authenticator"],
                    "email_addresses": done["account.emailaddress"],
                    "sessions": done["sessions.session"],
                },
            )
    return account_deletion_statement(done)
