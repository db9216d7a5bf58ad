"""The accounts app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

Staff accounts and what hangs on them (sessions, sign-in logs, admin history,
invitations, closed accounts), plus what holds personal data outside any table of the
installation (the shared cache, Celery results, logs on the host, backups): those are
*outside stores*, listed on the schedule with how they go.

Accounts sits below the legal holds (``debtors.LegalHold``): nothing here belongs to a
debtor or a debt, so no hold covers it.
"""

from __future__ import annotations

from typing import Any

from allauth.account.models import EmailConfirmation
from allauth.usersessions.models import UserSession
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.db import models
from django.db.models import CharField, OuterRef, Q, Subquery
from django.db.models.functions import Cast, Coalesce, Greatest

from accounts.models import Invitation, Membership, User
from accounts.services import ERASED_EMAIL_DOMAIN, user_account_delete
from kernel.privacy.registry import ACCOUNT_LIFETIME, SECURITY_LOGS, Retention
from kernel.retention import (
    Action,
    OutsideStore,
    PurgeContext,
    RetentionStore,
    Scope,
    register_outside_store,
    register_store,
)
from kernel.tenancy.context import db_scope

# Copies that expire by themselves within a day (cache entries, task results).
TEMPORARY = Retention(
    1,
    "the copy is written",
    "data minimisation (GDPR Art. 5(1)(e)): a time to live of at most one day",
    name="TEMPORARY",
)
# Database backups, kept by the operator (docs/production.md#backups).
BACKUPS = Retention(
    int(getattr(settings, "BACKUP_RETENTION_DAYS", 35)),
    "the backup is taken",
    "the operator's backup rotation (BACKUP_RETENTION_DAYS); erasures are replayed on restore (erasure_log)",
    name="BACKUPS",
)

RETENTION_REASON = "retention"  # user_account_delete's reason code for accounts closed long ago


def _deleted(model: type[models.Model], keys: list[Any]) -> int:
    """Delete the rows ``keys`` of a global table; how many of ``model``'s rows went
    (rows of other models that cascade are not counted)."""
    _, per_model = model._default_manager.filter(pk__in=keys).delete()
    return int(per_model.get(model._meta.label, 0))


def _dated(qs: Any, field: str, what: str) -> list[str]:
    return [f"{what} {pk}, {when:%Y-%m-%d}" for pk, when in qs.order_by("pk").values_list("pk", field)]


# --- Sign-in, sessions, admin history (global) --------------------------------------------


def _sessions_due(ctx: PurgeContext) -> Any:
    return Session.objects.filter(expire_date__lt=ctx.cutoff)


def _sessions_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    # Never the session key: it was a credential.
    dates = Session.objects.filter(pk__in=keys).order_by("pk").values_list("expire_date", flat=True)
    return [f"a session that expired {when:%Y-%m-%d}" for when in dates]


def _usersessions_due(ctx: PurgeContext) -> Any:
    return UserSession.objects.filter(last_seen_at__lt=ctx.cutoff)


def _logentries_due(ctx: PurgeContext) -> Any:
    return LogEntry.objects.filter(action_time__lt=ctx.cutoff)


def _confirmations_due(ctx: PurgeContext) -> Any:
    return EmailConfirmation.objects.filter(created__lt=ctx.cutoff)


def _register_global_delete(
    *,
    model: type[models.Model],
    date_field: str,
    rule: Retention,
    label: str,
    covers: str,
    trigger: str,
    due: Any = None,
    describe: Any = None,
) -> None:
    """A global store that deletes rows older than the period, by one date column."""
    label_lower = model._meta.label_lower
    register_store(
        RetentionStore(
            name=label_lower,
            rule=rule,
            label=label,
            covers=covers,
            action=Action.DELETE,
            scope=Scope.GLOBAL,
            models=(label_lower,),
            trigger=trigger,
            due=due or (lambda ctx: model._default_manager.filter(**{f"{date_field}__lt": ctx.cutoff})),
            apply=lambda ctx, keys: _deleted(model, keys),
            describe=describe
            or (
                lambda ctx, keys: _dated(
                    model._default_manager.filter(pk__in=keys), date_field, str(model._meta.verbose_name)
                )
            ),
        )
    )


_register_global_delete(
    model=Session,
    date_field="expire_date",
    rule=ACCOUNT_LIFETIME,
    label="Expired sign-in sessions",
    covers="Django's session store: who is signed in, until the session expires",
    trigger="the session expired",
    due=_sessions_due,
    describe=_sessions_describe,
)
_register_global_delete(
    model=UserSession,
    date_field="last_seen_at",
    rule=SECURITY_LOGS,
    label="Session list (IP address and browser)",
    covers="each sign-in's IP address and browser, shown to the user under Sessions",
    trigger="the session was last seen",
    due=_usersessions_due,
)
for _axes_model, _what in (
    (AccessAttempt, "Failed sign-in counters (django-axes)"),
    (AccessLog, "Sign-in log (django-axes)"),
    (AccessFailureLog, "Failed sign-in log (django-axes)"),
):
    _register_global_delete(
        model=_axes_model,
        date_field="attempt_time",
        rule=SECURITY_LOGS,
        label=_what,
        covers="the address typed, IP address and browser of each sign-in attempt",
        trigger="the sign-in attempt",
    )
_register_global_delete(
    model=LogEntry,
    date_field="action_time",
    rule=SECURITY_LOGS,
    label="Operator admin history",
    covers="what an operator changed in the admin: the object's name and the change",
    trigger="the change",
    due=_logentries_due,
)
_register_global_delete(
    model=EmailConfirmation,
    date_field="created",
    rule=ACCOUNT_LIFETIME,
    label="Email confirmation keys",
    covers="a key sent to confirm an email address (it stops working after a few days)",
    trigger="the key was sent",
    due=_confirmations_due,
)


# --- Closed accounts (global) ---------------------------------------------------------------


def _closed_candidates(cutoff: Any) -> Any:
    """Inactive accounts not yet deleted whose last sign of life — joining, the last
    sign-in, the last change an operator made to them (deactivating them) — is before
    ``cutoff``. The account records no "closed at"; these dates bound it from below."""
    user_type = ContentType.objects.get_for_model(User)
    operator_change = (
        LogEntry.objects.filter(content_type_id=user_type.pk, object_id=Cast(OuterRef("pk"), CharField()))
        .order_by("-action_time")
        .values("action_time")[:1]
    )
    return (
        User.objects.filter(is_active=False, date_joined__lt=cutoff)
        .exclude(email__endswith=f"@{ERASED_EMAIL_DOMAIN}")
        .annotate(
            closed_since=Greatest(
                "date_joined",
                Coalesce("last_login", "date_joined"),
                Coalesce(Subquery(operator_change), "date_joined"),
            )
        )
        .filter(closed_since__lt=cutoff)
    )


def _has_memberships(user_id: int) -> bool:
    # Row-level security shows a user's memberships only with their id set.
    with db_scope(user_id=user_id):
        return Membership.unscoped.filter(user_id=user_id).exists()


def _closed_users_due(ctx: PurgeContext) -> list[Any]:
    """Closed accounts past ACCOUNT_LIFETIME: inactive, no longer a member of any
    workspace (a member's account is the workspace's to remove first). A list, not a
    QuerySet: memberships are checked per account, as the account itself."""
    ids = list(_closed_candidates(ctx.cutoff).order_by("pk").values_list("pk", flat=True))
    return [pk for pk in ids if not _has_memberships(pk)]


def _closed_users_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    """The same deletion as "Delete my account" (``user_account_delete``): the row stays
    pseudonymised for the audit trail's actor ids; the rest goes."""
    done = 0
    for pk in keys:
        user = _closed_candidates(ctx.cutoff).filter(pk=int(pk)).first()
        if user is None or _has_memberships(user.pk):
            continue  # reactivated, rejoined or deleted since it was found
        with db_scope(user_id=user.pk):
            user_account_delete(user=user, reason=RETENTION_REASON)
        done += 1
    return done


def _closed_users_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = _closed_candidates(ctx.cutoff).filter(pk__in=[int(k) for k in keys]).order_by("pk")
    return [f"account {pk}, inactive since {when:%Y-%m-%d}" for pk, when in rows.values_list("pk", "closed_since")]


register_store(
    RetentionStore(
        name="accounts.closed_users",
        rule=ACCOUNT_LIFETIME,
        label="Closed staff accounts",
        covers=(
            "an inactive account that belongs to no workspace: its email and name (pseudonymised), password, "
            "email addresses, two-factor devices, sessions and admin history (deleted)"
        ),
        action=Action.PSEUDONYMISE,
        scope=Scope.GLOBAL,
        models=(
            "accounts.user",
            "account.emailaddress",
            "account.emailconfirmation",
            "mfa.authenticator",
            "usersessions.usersession",
            "sessions.session",
            "admin.logentry",
        ),
        trigger="the account was closed (deactivated, its last membership gone)",
        due=_closed_users_due,
        apply=_closed_users_apply,
        describe=_closed_users_describe,
        batch_size=50,
    )
)


# --- Invitations (per workspace) ------------------------------------------------------------


def _invitations_due(ctx: PurgeContext) -> Any:
    """Invitations accepted, revoked or expired before the cutoff (a pending one stays)."""
    cutoff = ctx.cutoff
    return Invitation.objects.for_workspace(ctx.workspace).filter(
        Q(accepted_at__lt=cutoff)
        | Q(revoked_at__lt=cutoff)
        | Q(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__lt=cutoff)
    )


def _invitations_apply(ctx: PurgeContext, keys: list[Any]) -> int:
    _, per_model = Invitation.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()
    return int(per_model.get(Invitation._meta.label, 0))


def _invitations_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = Invitation.objects.for_workspace(ctx.workspace).filter(pk__in=keys).order_by("pk")
    return [
        f"invitation {pk}, sent {created:%Y-%m-%d}"
        for pk, created in rows.values_list("pk", "created_at")  # never the address
    ]


register_store(
    RetentionStore(
        name="accounts.invitations",
        rule=ACCOUNT_LIFETIME,
        label="Invitations to join the workspace",
        covers="the invitee's email address and role, once the invitation was accepted, revoked or expired",
        action=Action.DELETE,
        scope=Scope.WORKSPACE,
        models=("accounts.invitation",),
        trigger="the invitation was accepted, revoked or expired",
        due=_invitations_due,
        apply=_invitations_apply,
        describe=_invitations_describe,
    )
)


# --- Outside the tables: what no purge touches ----------------------------------------------

register_outside_store(
    OutsideStore(
        name="installation.cache",
        rule=TEMPORARY,
        label="Shared cache (Redis; in-process without it)",
        covers=(
            "rate-limit counters keyed by the client's IP address (payment page verification, rights-request "
            "pages), per-user flags for policy re-acceptance, dashboard and portal figures (aggregates), "
            "the access-copy queue guard, the data keys' shred generation"
        ),
        how=(
            "every entry is written with a time to live — 60 seconds for IP counters and user flags, "
            "15 minutes for rights-request limits, at most an hour for figures — and expires by itself; "
            "the cache is not backed up"
        ),
    )
)
register_outside_store(
    OutsideStore(
        name="installation.celery_results",
        rule=TEMPORARY,
        label="Background task results (Celery, Redis)",
        covers="what a task returned (ids and counts) or the error it raised; tasks are given ids, never data",
        how="expire one day after the task ran (Celery's result_expires default); queued messages go when consumed",
    )
)
register_outside_store(
    OutsideStore(
        name="installation.host_logs",
        rule=SECURITY_LOGS,
        label="Web server and application logs (on the host)",
        covers=(
            "gunicorn's access log (client IP address, request line — including paths with a payment-link or "
            "invitation token — referrer, browser) and the application log (errors; the demo SMS provider "
            "writes messages to it)"
        ),
        how=(
            "written to standard output, never to a table: the container runtime or log collector of the host "
            "keeps them. Rotate them to delete after the SECURITY_LOGS period (365 days, which DPDP Rules "
            "r.8(3) also requires as a minimum); docker's json-file driver keeps them until the container is "
            "removed unless max-size/max-file are set"
        ),
    )
)
register_outside_store(
    OutsideStore(
        name="installation.api_requests",
        rule=SECURITY_LOGS,
        label="API request log",
        covers="REST API calls: there is no request table; each key keeps only when it was last used",
        how=(
            "API requests are logged only by the web server's access log on standard output (see the host "
            "logs); what an API call changes is in the audit trail, under its own rule"
        ),
    )
)
register_outside_store(
    OutsideStore(
        name="installation.backups",
        rule=BACKUPS,
        label="Database and file backups",
        covers="everything in the database and the private files volume, as it was when the backup was taken",
        how=(
            f"kept by the operator for BACKUP_RETENTION_DAYS ({BACKUPS.days} days), then deleted. An erased "
            "person's data leaves them when the last backup taken before the erasure expires; until then it is "
            "kept beyond use: their key is in the erasure log (kept outside the backups), and after a restore "
            "`manage.py erasure_log replay` shreds again every key shredded since the backup, before the "
            "restored database serves anyone"
        ),
    )
)
