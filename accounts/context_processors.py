from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from accounts.roles import PERMISSIONS, can
from accounts.selectors import memberships_for_user

_SECTIONS = {
    "dashboard": "dashboard",
    "members": "members",
    "api_keys": "api-keys",
    "audit_log": "audit",
    "record_of_processing": "privacy",
    "workspace_settings": "settings",
    "debt_queue": "queue",
    "debt_detail": "queue",
    "placements": "placements",
    "placement_detail": "placements",
    "remittance": "payments",
    "reconciliation": "reconciliation",
    "client_portal": "portal",
    "contact_rules": "settings",
}


def shell(request: HttpRequest) -> dict[str, Any]:
    """What the layout needs: current workspace, role, permissions, workspace switcher."""
    workspace = getattr(request, "workspace", None)
    membership = getattr(request, "membership", None)
    user = getattr(request, "user", None)
    memberships: list[Any] = []
    if user is not None and user.is_authenticated and not request.path.startswith("/api/"):
        memberships = list(memberships_for_user(user=user))
    match = getattr(request, "resolver_match", None)
    return {
        "shell": {
            "workspace": workspace if membership is not None else None,
            "membership": membership,
            "memberships": memberships,
            "perms": {p.replace(".", "_"): can(membership, p) for p in PERMISSIONS},
            "section": _SECTIONS.get(match.url_name if match else "", ""),
        }
    }
