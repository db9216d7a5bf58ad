"""How long each category is kept in a workspace, and who said so.

Three layers, each with its source: the personal-data registry's rule (the default,
``Retention``), the workspace's jurisdiction profile (``JurisdictionProfile.retention``:
a legal minimum, or a different default), and the workspace's own setting
(``RetentionSetting``), which may lengthen a period but never shorten it below a legal
minimum: that is refused with the law named.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from kernel.privacy.registry import Retention, declarations
from kernel.retention import outside_stores, stores
from retention.models import RetentionSetting

MAX_DAYS = 100 * 365


@dataclass(frozen=True)
class Period:
    category: str
    days: int  # what applies in this workspace
    source: str  # why: the law or the workspace's reason
    default_days: int  # the registry's
    default_source: str
    profile_days: int | None
    profile_source: str
    minimum_days: int | None  # a legal minimum, if one applies
    minimum_source: str
    workspace_days: int | None
    workspace_reason: str

    @property
    def set_by(self) -> str:
        if self.workspace_days is not None:
            return "workspace"
        return "profile" if self.profile_days is not None else "registry"


def rules() -> dict[str, Retention]:
    """Every named retention rule: declared on a field or used by a store."""
    found: dict[str, Retention] = {}
    for decl in declarations():
        for pd in decl.fields.values():
            if pd.retention.name:
                found.setdefault(pd.retention.name, pd.retention)
    for store in stores():
        found.setdefault(store.category, store.rule)
    for outside in outside_stores():
        found.setdefault(outside.rule.name, outside.rule)
    return dict(sorted(found.items()))


def rule_named(name: str) -> Retention:
    rule = rules().get(name.upper())
    if rule is None:
        raise ValidationError({"category": f"No retention category called {name!r}."})
    return rule


def _period(workspace: Workspace, rule: Retention, setting: RetentionSetting | None) -> Period:
    profile = profile_for(workspace.jurisdiction).retention.get(rule.name)
    minimum = profile.days if profile is not None and profile.minimum else None
    days, source = rule.days, rule.source
    if profile is not None:
        days, source = profile.days, profile.source
    # A workspace may lengthen a period, never shorten it: below the legal minimum, or
    # below the default in force where the law names none. Also on reading, so a setting
    # made under another jurisdiction cannot undercut this one's minimum.
    floor = days
    if setting is not None:
        if setting.days >= floor:
            days, source = setting.days, f"set by the workspace: {setting.reason}"
        else:
            source = f"{source} (the workspace's {setting.days} days are below this jurisdiction's period)"
    return Period(
        category=rule.name,
        days=days,
        source=source,
        default_days=rule.days,
        default_source=rule.source,
        profile_days=profile.days if profile is not None else None,
        profile_source=profile.source if profile is not None else "",
        minimum_days=minimum,
        minimum_source=profile.source if minimum is not None and profile is not None else "",
        workspace_days=setting.days if setting is not None else None,
        workspace_reason=setting.reason if setting is not None else "",
    )


def periods(*, workspace: Workspace) -> dict[str, Period]:
    """Every category's period in ``workspace`` (one query for the settings)."""
    settings = {s.category: s for s in RetentionSetting.objects.for_workspace(workspace)}
    return {name: _period(workspace, rule, settings.get(name)) for name, rule in rules().items()}


def period_for(*, workspace: Workspace, rule: Retention) -> Period:
    setting = RetentionSetting.objects.for_workspace(workspace).filter(category=rule.name).first()
    return _period(workspace, rule, setting)


def period_days_for(workspace: Any, rule: Retention) -> int:
    """The provider ``kernel.retention.period_days`` asks (registered in ``ready()``)."""
    if not rule.name or not isinstance(workspace, Workspace):
        return rule.days
    return period_for(workspace=workspace, rule=rule).days


def retention_setting_set(
    *, workspace: Workspace, category: str, days: int, reason: str, actor: Actor = None
) -> RetentionSetting:
    """The workspace's own period for ``category``: at least the legal minimum (refused
    with the law named), with a reason (shown on the schedule as its source)."""
    rule = rule_named(category)
    reason = " ".join((reason or "").split())[:300]
    if not reason:
        raise ValidationError({"reason": "Say why this workspace keeps this category for this long."})
    if not isinstance(days, int) or days < 1 or days > MAX_DAYS:
        raise ValidationError({"days": f"A number of days from 1 to {MAX_DAYS}."})
    current = period_for(workspace=workspace, rule=rule)
    if current.minimum_days is not None and days < current.minimum_days:
        raise ValidationError(
            {"days": f"At least {current.minimum_days} days: {current.minimum_source} requires keeping it that long."}
        )
    default = current.profile_days if current.profile_days is not None else current.default_days
    if days < default:
        source = current.profile_source or current.default_source
        raise ValidationError(
            {
                "days": f"At least {default} days: a workspace may lengthen this period, not shorten it "
                f"(the period in force: {source})."
            }
        )
    with transaction.atomic():
        setting, _ = RetentionSetting.objects.for_workspace(workspace).update_or_create(
            workspace=workspace,
            category=rule.name,
            defaults={"days": days, "reason": reason, "set_by": actor_user(actor), "set_at": timezone.now()},
        )
        audit_record(
            action=actions.RETENTION_PERIOD_CHANGED,
            workspace=workspace,
            obj=setting,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"category": rule.name, "days": days, "was": current.days},
        )
    return setting


def retention_setting_clear(*, workspace: Workspace, category: str, actor: Actor = None) -> None:
    """Back to the profile's (or the registry's) period."""
    rule = rule_named(category)
    with transaction.atomic():
        setting = RetentionSetting.objects.for_workspace(workspace).filter(category=rule.name).first()
        if setting is None:
            return
        was = setting.days
        setting.delete()
        audit_record(
            action=actions.RETENTION_PERIOD_CHANGED,
            workspace=workspace,
            object_type="retention.retentionsetting",
            object_id=rule.name,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"category": rule.name, "days": period_for(workspace=workspace, rule=rule).days, "was": was},
        )
