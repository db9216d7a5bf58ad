"""Security events → audit trail.

A person-level event (login, logout, MFA change…) is written to every workspace
the user belongs to, so each owner sees their members' sign-ins, and to the
global chain when they belong to none. A failed login for an unknown address goes
to the global chain only; the attempted address itself is never stored.
"""

from __future__ import annotations

from typing import Any

from allauth.account import signals as account_signals
from allauth.mfa import signals as mfa_signals
from axes.signals import user_locked_out
from django.contrib.auth import signals as auth_signals

from accounts.lockout import axes_username
from accounts.models import User
from accounts.selectors import memberships_for_user
from audit import actions
from audit.services import audit_record
from kernel.context import request_info
from kernel.tenancy.context import db_scope, no_workspace, workspace_context


def record_user_event(user: Any, action: str, metadata: dict[str, Any] | None = None) -> None:
    if user is None or getattr(user, "pk", None) is None:
        with no_workspace(), db_scope(user_id=None):
            audit_record(action=action, workspace=None, metadata=metadata)
        return
    with request_info(actor_user_id=user.pk), no_workspace(), db_scope(user_id=user.pk):
        memberships = list(memberships_for_user(user=user))
        if not memberships:
            audit_record(
                action=action, workspace=None, object_type="accounts.user", object_id=str(user.pk), metadata=metadata
            )
        for m in memberships:
            with workspace_context(m.workspace, user_id=user.pk):
                audit_record(
                    action=action,
                    workspace=m.workspace,
                    object_type="accounts.user",
                    object_id=str(user.pk),
                    metadata=metadata,
                )


def _login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_user_event(user, actions.LOGIN)


def _logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        record_user_event(user, actions.LOGOUT)


def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = axes_username(request, credentials)
    user = User.objects.filter(email=username).first() if username else None
    record_user_event(user, actions.LOGIN_FAILED, {"known_account": user is not None})


def _locked_out(sender: Any, request: Any, username: str, ip_address: str, **kwargs: Any) -> None:
    user = User.objects.filter(email=(username or "").lower()).first() if username else None
    record_user_event(user, actions.LOCKOUT, {"known_account": user is not None})


def _mfa(action: str) -> Any:
    def handler(sender: Any, request: Any = None, user: Any = None, authenticator: Any = None, **kwargs: Any) -> None:
        record_user_event(user, action, {"type": getattr(authenticator, "type", "")})

    return handler


def _password_changed(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_user_event(user, actions.PASSWORD_CHANGED)


def _password_reset(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    record_user_event(user, actions.PASSWORD_RESET)


_mfa_added = _mfa(actions.MFA_ADDED)
_mfa_removed = _mfa(actions.MFA_REMOVED)
_mfa_reset = _mfa(actions.MFA_RECOVERY_CODES_RESET)


def connect() -> None:
    auth_signals.user_logged_in.connect(_login, dispatch_uid="audit_login")
    auth_signals.user_logged_out.connect(_logout, dispatch_uid="audit_logout")
    auth_signals.user_login_failed.connect(_login_failed, dispatch_uid="audit_login_failed")
    user_locked_out.connect(_locked_out, dispatch_uid="audit_lockout")
    mfa_signals.authenticator_added.connect(_mfa_added, dispatch_uid="audit_mfa_added")
    mfa_signals.authenticator_removed.connect(_mfa_removed, dispatch_uid="audit_mfa_removed")
    mfa_signals.authenticator_reset.connect(_mfa_reset, dispatch_uid="audit_mfa_reset")
    account_signals.password_changed.connect(_password_changed, dispatch_uid="audit_pw_changed")
    account_signals.password_reset.connect(_password_reset, dispatch_uid="audit_pw_reset")
