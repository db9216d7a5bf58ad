"""What the finder's form offers: the workspace's users (members, and former members
the audit trail remembers), its API keys (revoked ones too: a leaked key is often
revoked before anyone asks what it read), its clients and its recent exports."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from typing import Any

from accounts.models import ApiKey, Client, Membership, User, Workspace
from audit import actions
from audit.models import AuditEvent
from incidents.finder import EXPORT_LABELS

RECENT_EXPORTS = 200  # exports offered, the newest first

Choice = tuple[str, str]


@dataclass(frozen=True)
class FinderOptions:
    users: list[Choice]
    api_keys: list[Choice]
    clients: list[Choice]
    exports: list[Choice]


def finder_options(*, workspace: Workspace) -> FinderOptions:
    """The choices, each as ``(value, label)``; every list names this workspace only."""
    members = Membership.objects.for_workspace(workspace).select_related("user", "client").order_by("user__email")
    users = [(str(m.user_id), _member_label(m)) for m in members]
    known = {m.user_id for m in members}
    removed_ids = {
        meta.get("user_id")
        for meta in AuditEvent.unscoped.filter(workspace_id=workspace.pk, action=actions.MEMBER_REMOVED).values_list(
            "metadata", flat=True
        )
        if isinstance(meta, dict)
    }
    removed = User.objects.filter(pk__in=[i for i in removed_ids if isinstance(i, int) and i not in known])
    users += [(str(u.pk), f"{u.email} (no longer a member)") for u in removed.order_by("email")]
    keys = ApiKey.objects.for_workspace(workspace).order_by("-created_at")
    api_keys = [(str(k.pk), f"{k.name} ({k.prefix}…)" + (" — revoked" if k.revoked_at else "")) for k in keys]
    clients = [
        (str(c.pk), f"{c.name} ({c.reference})") for c in Client.objects.for_workspace(workspace).order_by("name")
    ]
    return FinderOptions(users, api_keys, clients, _exports(workspace))


def _member_label(membership: Membership) -> str:
    role = membership.get_role_display().lower()
    client = f", {membership.client.name}" if membership.client_id and membership.client else ""
    return f"{membership.user.email} ({role}{client})"


def _exports(workspace: Workspace) -> list[Choice]:
    """The newest exports, labelled with when, what, who and how many rows. The parts
    a queue export writes (its people) are not exports of their own."""
    rows = list(
        AuditEvent.unscoped.filter(workspace_id=workspace.pk, action__in=list(EXPORT_LABELS))
        .order_by("-created_at", "-id")
        .values_list("id", "created_at", "action", "actor_user_id", "actor_api_key_id", "metadata")[
            : RECENT_EXPORTS * 2
        ]
    )
    rows = [r for r in rows if not (isinstance(r[5], dict) and "export" in r[5])][:RECENT_EXPORTS]
    emails = dict(User.objects.filter(pk__in={r[3] for r in rows if r[3]}).values_list("pk", "email"))
    zone = zoneinfo.ZoneInfo(workspace.timezone)
    return [
        (str(event_id), _export_label(at.astimezone(zone), action, emails.get(user_id or 0), key_id, meta))
        for event_id, at, action, user_id, key_id, meta in rows
    ]


def _export_label(at: Any, action: str, email: str | None, key_id: str, meta: Any) -> str:
    who = email or ("an API key" if key_id else "the system")
    meta = meta if isinstance(meta, dict) else {}
    size = meta.get("rows", meta.get("records"))
    extra = f", {size:,} rows" if isinstance(size, int) else ""
    if action == actions.STATEMENT_DOWNLOADED and meta.get("month"):
        extra = f", {meta['month']}"
    return f"{at:%Y-%m-%d %H:%M} · {EXPORT_LABELS[action]} · {who}{extra}"
