"""Reads for the consent app: the policy versions in force and what a user has
yet to accept."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from consent.models import PolicyAcceptance, PolicyKind, PolicyVersion


def policy_current(kind: str, *, at: datetime | None = None) -> PolicyVersion | None:
    """The version of a policy in force at ``at`` (default: now), or None if none is yet."""
    at = at or timezone.now()
    return PolicyVersion.objects.filter(kind=kind, effective_at__lte=at).order_by("-effective_at").first()


def pending_policies(user: Any) -> list[PolicyVersion]:
    """Current privacy/terms versions with a material change the user hasn't accepted."""
    out = []
    for kind in (PolicyKind.PRIVACY, PolicyKind.TERMS):
        current = policy_current(kind)
        if current is None or not current.material_change:
            continue
        if not PolicyAcceptance.objects.filter(user=user, policy=current).exists():
            out.append(current)
    return out
