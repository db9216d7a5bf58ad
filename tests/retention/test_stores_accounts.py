"""The accounts app's retention stores (accounts/retention.py), run by the purge engine:
sign-in logs, sessions, admin history, confirmation keys, closed accounts and
invitations go when their period is over, and only then."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest
from allauth.account.models import EmailAddress, EmailConfirmation
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.utils import timezone

from accounts.models import Invitation, Membership, User, Workspace
from accounts.roles import Role
from accounts.services import invitation_create
from audit import actions
from audit.models import AuditEvent
from kernel.retention import outside_stores
from kernel.tenancy import workspace_context
from retention.engine import purge_run
from retention.models import PurgeRun, RunStatus
from tests.conftest import PASSWORD, World, add_member


@pytest.fixture
def now() -> datetime:
    return timezone.now()


def purge(workspace: Workspace | None, store: str, now: datetime, *, dry_run: bool = False) -> PurgeRun:
    run = purge_run(workspace=workspace, category=store, now=now, dry_run=dry_run)
    assert run.status == RunStatus.DONE, run.errors
    return run


def _ago(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


# --- Sign-in logs and admin history (SECURITY_LOGS: 365 days) --------------------------------


def _attempt(model: Any, username: str, when: datetime, **extra: Any) -> Any:
    row = model.objects.create(
        username=username,
        ip_address="203.0.113.7",
        user_agent="pytest",
        http_accept="*/*",
        path_info="/login/",
        **extra,
    )
    model.objects.filter(pk=row.pk).update(attempt_time=when)
    return row


@pytest.mark.parametrize(
    ("model", "extra"),
    [
        (AccessLog, {}),
        (AccessFailureLog, {"locked_out": False}),
        (AccessAttempt, {"get_data": "", "post_data": "", "failures_since_start": 1}),
    ],
)
def test_sign_in_attempts_go_a_year_after_the_attempt(world: World, now: datetime, model: Any, extra: Any) -> None:
    old = [_attempt(model, f"old{i}@example.com", _ago(now, 400 + i), **extra) for i in range(3)]
    young = _attempt(model, "young@example.com", _ago(now, 300), **extra)
    store = model._meta.label_lower

    dry = purge(None, store, now, dry_run=True)
    assert dry.counts == {"SECURITY_LOGS": {"delete": 3}}
    assert model.objects.count() == 4  # a dry run changes nothing
    assert all("example.com" not in line for line in dry.progress[store]["listing"])  # ids and dates only

    run = purge(None, store, now)
    assert run.counts == {"SECURITY_LOGS": {"delete": 3}}
    assert list(model.objects.values_list("pk", flat=True)) == [young.pk]
    assert not model.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert purge(None, store, now).counts == {}  # nothing left to do


def test_session_list_and_admin_history_go_a_year_after_their_date(world: World, now: datetime) -> None:
    for user, days in ((world.alice, 400), (world.bob, 370), (world.charlie, 100)):
        row = UserSession.objects.create(
            user=user, ip="198.51.100.4", session_key=secrets.token_hex(16), user_agent="Firefox"
        )
        UserSession.objects.filter(pk=row.pk).update(last_seen_at=_ago(now, days))
    user_type = ContentType.objects.get_for_model(User)
    for days in (500, 366, 200):
        entry = LogEntry.objects.create(
            user=world.alice,
            content_type=user_type,
            object_id=str(world.charlie.pk),
            object_repr="charlie@example.com",
            action_flag=CHANGE,
            change_message="[]",
        )
        LogEntry.objects.filter(pk=entry.pk).update(action_time=_ago(now, days))

    sessions = purge(None, "usersessions.usersession", now)
    history = purge(None, "admin.logentry", now)

    assert sessions.counts == {"SECURITY_LOGS": {"delete": 2}}
    assert list(UserSession.objects.values_list("user_id", flat=True)) == [world.charlie.pk]
    assert history.counts == {"SECURITY_LOGS": {"delete": 2}}
    assert LogEntry.objects.count() == 1
    assert purge(None, "usersessions.usersession", now).counts == {}
    assert purge(None, "admin.logentry", now).counts == {}


# --- Sessions and confirmation keys (ACCOUNT_LIFETIME: 30 days) -----------------------------


def test_expired_sessions_go_a_month_after_they_expired(world: World, now: datetime) -> None:
    for key, days in (("a" * 32, 45), ("b" * 32, 31), ("c" * 32, 20), ("d" * 32, -1)):
        Session.objects.create(session_key=key, session_data="e30=", expire_date=_ago(now, days))

    dry = purge(None, "sessions.session", now, dry_run=True)
    assert dry.counts == {"ACCOUNT_LIFETIME": {"delete": 2}} and Session.objects.count() == 4
    assert all("aaaa" not in line and "bbbb" not in line for line in dry.progress["sessions.session"]["listing"])

    run = purge(None, "sessions.session", now)
    assert run.counts == {"ACCOUNT_LIFETIME": {"delete": 2}}
    assert sorted(Session.objects.values_list("session_key", flat=True)) == ["c" * 32, "d" * 32]
    assert purge(None, "sessions.session", now).counts == {}


def test_email_confirmation_keys_go_a_month_after_they_were_sent(world: World, now: datetime) -> None:
    address = EmailAddress.objects.create(user=world.charlie, email="charlie@example.com", verified=False)
    old = EmailConfirmation.objects.create(email_address=address, key="k" * 64, created=_ago(now, 40))
    young = EmailConfirmation.objects.create(email_address=address, key="y" * 64, created=_ago(now, 2))

    run = purge(None, "account.emailconfirmation", now)

    assert run.counts == {"ACCOUNT_LIFETIME": {"delete": 1}}
    assert list(EmailConfirmation.objects.values_list("pk", flat=True)) == [young.pk]
    assert not EmailConfirmation.objects.filter(pk=old.pk).exists()
    assert EmailAddress.objects.filter(pk=address.pk).exists()  # the address goes with the account
    assert purge(None, "account.emailconfirmation", now).counts == {}


# --- Closed accounts (ACCOUNT_LIFETIME after the account was closed) ------------------------


def _closed_user(email: str, *, last_login_days: int | None, now: datetime) -> User:
    user = User.objects.create_user(email=email, password=PASSWORD, full_name="Someone Closed")
    User.objects.filter(pk=user.pk).update(
        is_active=False,
        date_joined=_ago(now, 800),
        last_login=None if last_login_days is None else _ago(now, last_login_days),
    )
    EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
    Authenticator.objects.create(user=user, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"})
    user.refresh_from_db()
    return user


def test_closed_accounts_are_deleted_as_delete_my_account_does(world: World, now: datetime) -> None:
    gone = _closed_user("dave@example.com", last_login_days=60, now=now)
    never_signed_in = _closed_user("erin@example.com", last_login_days=None, now=now)
    recent = _closed_user("frank@example.com", last_login_days=10, now=now)
    member = _closed_user("gina@example.com", last_login_days=90, now=now)
    add_member(world.b, member.email)  # still a member of Globex: Globex removes her first
    deactivated = _closed_user("hari@example.com", last_login_days=90, now=now)
    LogEntry.objects.create(  # an operator deactivated him a week ago
        user=world.alice,
        content_type=ContentType.objects.get_for_model(User),
        object_id=str(deactivated.pk),
        object_repr="an account",
        action_flag=CHANGE,
        change_message="[]",
        action_time=_ago(now, 7),
    )
    User.objects.filter(pk=world.charlie.pk).update(date_joined=_ago(now, 800))  # active, a member nowhere: stays
    User.objects.filter(pk=world.charlie.pk).update(last_login=_ago(now, 800))

    dry = purge(None, "accounts.closed_users", now, dry_run=True)
    assert dry.counts == {"ACCOUNT_LIFETIME": {"pseudonymise": 2}}
    assert User.objects.get(pk=gone.pk).email == "dave@example.com"  # a dry run changes nothing
    listing = dry.progress["accounts.closed_users"]["listing"]
    assert listing == sorted(listing) and all("@" not in line for line in listing)

    run = purge(None, "accounts.closed_users", now)

    assert run.counts == {"ACCOUNT_LIFETIME": {"pseudonymise": 2}}
    for user in (gone, never_signed_in):
        user.refresh_from_db()
        assert user.email == f"erased-{user.pk}@erased.invalid" and user.full_name == ""
        assert not user.has_usable_password()
        assert not EmailAddress.objects.filter(user=user).exists()
        assert not Authenticator.objects.filter(user=user).exists()
    for user in (recent, member, deactivated, world.charlie):
        assert User.objects.get(pk=user.pk).email == user.email
        assert EmailAddress.objects.filter(user=user).exists() or user == world.charlie
    with workspace_context(world.b):
        assert Membership.objects.filter(user=member).exists()
    deleted = AuditEvent.unscoped.filter(action=actions.USER_ACCOUNT_DELETED, workspace__isnull=True)
    assert sorted(int(e.object_id) for e in deleted) == sorted([gone.pk, never_signed_in.pk])
    assert {e.metadata["reason"] for e in deleted} == {"retention"}

    assert purge(None, "accounts.closed_users", now).counts == {}
    # A month on, the recently closed account has crossed its period too.
    later = purge(None, "accounts.closed_users", now + timedelta(days=30))
    assert later.counts == {"ACCOUNT_LIFETIME": {"pseudonymise": 2}}  # frank, and hari a month after his change
    assert User.objects.get(pk=member.pk).email == member.email


# --- Invitations (ACCOUNT_LIFETIME after accepted, revoked or expired) ----------------------


def _invitations(workspace: Workspace, owner: User, now: datetime) -> dict[str, Invitation]:
    made = {}
    with workspace_context(workspace):
        acting = Membership.objects.get(user=owner)
        for name in ("accepted_old", "revoked_old", "expired_old", "accepted_young", "pending"):
            made[name] = invitation_create(acting=acting, email=f"{name}@example.com", role=Role.AGENT).invitation
        rows = Invitation.objects.for_workspace(workspace)
        rows.filter(pk=made["accepted_old"].pk).update(accepted_at=_ago(now, 40))
        rows.filter(pk=made["revoked_old"].pk).update(revoked_at=_ago(now, 31))
        rows.filter(pk=made["expired_old"].pk).update(created_at=_ago(now, 50), expires_at=_ago(now, 43))
        rows.filter(pk=made["accepted_young"].pk).update(accepted_at=_ago(now, 5), expires_at=_ago(now, 1))
    return made


def _left(workspace: Workspace) -> set[str]:
    with workspace_context(workspace):
        return {e.split("@")[0] for e in Invitation.objects.for_workspace(workspace).values_list("email", flat=True)}


def test_invitations_go_a_month_after_they_were_used_revoked_or_expired(world: World, now: datetime) -> None:
    _invitations(world.a, world.alice, now)
    _invitations(world.b, world.bob, now)
    everything = {"accepted_old", "revoked_old", "expired_old", "accepted_young", "pending"}

    dry = purge(world.a, "accounts.invitations", now, dry_run=True)
    assert dry.counts == {"ACCOUNT_LIFETIME": {"delete": 3}} and _left(world.a) == everything
    assert all("@" not in line for line in dry.progress["accounts.invitations"]["listing"])

    run = purge(world.a, "accounts.invitations", now)
    assert run.counts == {"ACCOUNT_LIFETIME": {"delete": 3}}
    assert _left(world.a) == {"accepted_young", "pending"}
    assert _left(world.b) == everything  # Globex's invitations are Globex's run's
    assert purge(world.a, "accounts.invitations", now).counts == {}

    assert purge(world.b, "accounts.invitations", now).counts == {"ACCOUNT_LIFETIME": {"delete": 3}}
    assert _left(world.b) == {"accepted_young", "pending"}


# --- Outside the tables ---------------------------------------------------------------------


def test_what_no_purge_touches_is_listed_with_how_it_goes() -> None:
    outside = {o.name: o for o in outside_stores()}
    for name in ("installation.cache", "installation.celery_results", "installation.host_logs"):
        assert name in outside and outside[name].how
    assert "installation.api_requests" in outside  # API requests are logged only on standard output
    backups = outside["installation.backups"]
    assert backups.rule.name == "BACKUPS" and str(backups.rule.days) in backups.how
