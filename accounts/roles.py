"""Roles and the permission matrix — the one place that says who may do what.

Views, API permissions and templates ask ``can(membership, "perm")``; nothing
else compares role names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    ADMIN = "admin", _("Admin")
    MANAGER = "manager", _("Manager")
    AGENT = "agent", _("Agent")
    AUDITOR = "auditor", _("Auditor (read-only)")


# Permissions, grouped by what they guard.
PERMISSIONS: dict[str, str] = {
    "workspace.view": "See the workspace at all",
    "workspace.settings": "Change workspace settings (jurisdiction, MFA requirement…)",
    "members.view": "See members and their roles",
    "members.manage": "Invite members, change roles, remove members",
    "api_keys.manage": "Create and revoke API keys",
    "audit.view": "Read the audit trail and export it",
    "debts.view_all": "See every debt in the workspace (not only assigned ones)",
    "debts.work": "Record payments, notes, calls, promises on debts",
    "debts.assign": "Assign debts to agents",
    "debts.import": "Import placement files",
    "privacy.log": "Log a privacy request received by phone, email, letter or in person (debt page)",
    "privacy.view": "See the record of processing, the privacy desk and its requests (read-only)",
    "privacy.manage": (
        "Handle privacy requests: verify by hand, fulfil, extend, review authorisations, plan and approve"
        " erasure, edit the privacy contact"
    ),
    "clients.manage": "Create and edit clients (creditors)",
    "retention.view": "See the retention schedule, legal holds and purge receipts (read-only)",
    "retention.manage": "Change retention periods, start purges and dry runs",
    "holds.manage": "Place, review and lift legal holds",
    "workspace.close": "Close the workspace (its data is then purged after the notice period)",
    "incidents.view": "See the breach register, its incidents, clocks and security alerts (read-only)",
    "incidents.manage": (
        "Record and update incidents, decide and record notifications, handle security alerts, set the"
        " register's target"
    ),
}

# Only an owner closes the workspace.
_ALL = frozenset(PERMISSIONS)
_OWNER_ONLY = frozenset({"workspace.close"})

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL - _OWNER_ONLY,
    Role.MANAGER: frozenset(
        {
            "workspace.view",
            "members.view",
            "debts.view_all",
            "debts.work",
            "debts.assign",
            "debts.import",
            "privacy.log",
            "privacy.view",
            "privacy.manage",
            "clients.manage",
            "retention.view",
            "holds.manage",
        }
    ),
    Role.AGENT: frozenset({"workspace.view", "debts.work", "privacy.log"}),
    Role.AUDITOR: frozenset(
        {
            "workspace.view",
            "members.view",
            "audit.view",
            "debts.view_all",
            "privacy.view",
            "retention.view",
            "incidents.view",
        }
    ),
}

# Roles an admin may grant; only an owner may create another owner.
GRANTABLE_BY: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(Role.values),
    Role.ADMIN: frozenset({Role.ADMIN, Role.MANAGER, Role.AGENT, Role.AUDITOR}),
}


def role_can(role: str, perm: str) -> bool:
    if perm not in PERMISSIONS:
        raise KeyError(f"Unknown permission {perm!r}")
    return perm in ROLE_PERMISSIONS.get(role, frozenset())


# A client-scoped membership (a creditor's login) only reads its own portfolio,
# whatever its role says: selectors narrow "every debt" to that client's debts.
CLIENT_SCOPED_PERMISSIONS = frozenset({"workspace.view", "debts.view_all"})


# Grants beyond the role, registered by higher apps in their AppConfig.ready(): the
# workspace's privacy contact (privacy_requests) runs the breach register (incidents)
# whatever their role. A grant answers, for one workspace, the ids of the users it
# gives its permissions to; accounts cannot import the app that knows.
GrantUsers = Callable[[Any], Iterable[int]]
_grants: dict[str, tuple[frozenset[str], GrantUsers]] = {}


def register_permission_grant(name: str, *, perms: Iterable[str], users: GrantUsers) -> None:
    """``users(workspace_id)`` -> ids of the users granted ``perms`` in that workspace
    (staff memberships only: a client's login never gains them). Registering a name
    again replaces it."""
    wanted = frozenset(perms)
    unknown = wanted - set(PERMISSIONS)
    if unknown:
        raise KeyError(f"Unknown permissions {sorted(unknown)!r}")
    _grants[name] = (wanted, users)


def granted_user_ids(workspace_id: Any, perm: str) -> set[int]:
    """The users the registered grants give ``perm`` to in a workspace, beyond their roles."""
    ids: set[int] = set()
    for perms, users in _grants.values():
        if perm in perms:
            ids.update(users(workspace_id))
    return ids


def _granted(membership: object, perm: str) -> bool:
    """Whether a grant gives this membership ``perm``. Each grant is asked once per
    membership object (one request): the shell asks for every permission on every page."""
    relevant = [name for name, (perms, _users) in _grants.items() if perm in perms]
    if not relevant:
        return False
    user_id = getattr(membership, "user_id", None)
    workspace_id = getattr(membership, "workspace_id", None)
    cache: dict[str, set[int]] = membership.__dict__.setdefault("_permission_grants", {})
    for name in relevant:
        if name not in cache:
            cache[name] = set(_grants[name][1](workspace_id))
        if user_id in cache[name]:
            return True
    return False


def can(membership: object | None, perm: str) -> bool:
    role = getattr(membership, "role", None)
    if role is None:
        return False
    if not role_can(role, perm):
        # A client's login never gains a permission beyond its role.
        return getattr(membership, "client_id", None) is None and _granted(membership, perm)
    if getattr(membership, "client_id", None) is not None:
        return perm in CLIENT_SCOPED_PERMISSIONS
    return True


def can_grant(granter_role: str, role: str) -> bool:
    return role in GRANTABLE_BY.get(granter_role, frozenset())
