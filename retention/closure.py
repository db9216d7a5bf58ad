"""Closing a workspace: an agency that leaves CollectPro.

The owner closes it by typing its slug. At once: the workspace stops working (every
page under ``/w/<slug>/`` answers 410 and every API call 410 ``workspace_closed``,
``accounts.middleware``; nightly jobs skip it, ``accounts.tasking.fan_out``), its API
keys and pending invitations are revoked, and a full export is built on a worker for
the owner to download (``closure_export``). Its data is purged when
``ACCOUNT_LIFETIME`` has passed (``purge_after``, 30 days by default): the closure
stores delete memberships, invitations, API keys and saved views, the people are
erased by ``privacy_requests`` (keeping the books and what holds cover), and when
nothing of it is due any more the final store emails the owner a receipt and sets
``purged_at`` (``retention.stores``, ``closure_receipt``). Until ``purge_after`` an
owner may cancel the closure; revoked keys and invitations stay revoked.

Members keep their sessions: a session belongs to a person, not to a workspace, and
ending it would sign them out of their other workspaces too. The 410 answer makes the
closed workspace unusable from the next request, which is what ending a session
would achieve.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import ApiKey, Invitation, Membership, User, Workspace
from accounts.roles import Role, can
from accounts.selectors import membership_for
from accounts.services import api_key_revoke, invitation_revoke
from audit import actions
from audit.services import audit_record, export_record, record_personal_data_access
from kernel.privacy.registry import ACCOUNT_LIFETIME
from kernel.retention import period_days
from kernel.tenancy import workspace_context
from retention.closure_export import (
    QUEUE_GUARD_SECONDS,
    ExportFile,
    export_latest,
    export_queued_key,
    export_stream,
    export_tables,
)
from retention.closure_tasks import closure_export_build

CLOSE_PERMISSION = "workspace.close"

# Why the agency leaves: a fixed list, so no free text lands in the append-only trail.
CLOSURE_REASONS: dict[str, str] = {
    "leaving": "We are moving to another system",
    "ceased": "The business has stopped collecting",
    "merged": "Merged into another workspace",
    "test": "It was a trial or test workspace",
    "other": "Another reason",
}


def _owner_membership(workspace: Workspace, actor: User) -> Membership:
    """The actor's membership if it may close the workspace; PermissionError otherwise."""
    membership = membership_for(workspace=workspace, user=actor)
    if not can(membership, CLOSE_PERMISSION):
        raise PermissionError("Only an owner of the workspace may close it, cancel its closure or download its export.")
    assert membership is not None
    return membership


def _day(workspace: Workspace, moment: datetime) -> str:
    """ "5 January 2027", in the workspace's time zone."""
    local = moment.astimezone(zoneinfo.ZoneInfo(workspace.timezone))
    return f"{local.day} {local:%B %Y}"


def _owner_emails(workspace: Workspace) -> list[str]:
    return list(
        Membership.objects.for_workspace(workspace)
        .filter(role=Role.OWNER, user__is_active=True)
        .order_by("user__email")
        .values_list("user__email", flat=True)
    )


def _closure_url(workspace: Workspace) -> str:
    return settings.SITE_URL.rstrip("/") + reverse("workspace_closure", kwargs={"workspace_slug": workspace.slug})


def workspace_close(
    *, workspace: Workspace, actor: User, confirm_slug: str, reason: str, now: datetime | None = None
) -> Workspace:
    """Close ``workspace`` now. Only an owner (``workspace.close``; PermissionError
    otherwise), who types the workspace's slug exactly (ValidationError otherwise),
    with one of ``CLOSURE_REASONS``. Refused if it is closed already. Sets
    ``closed_at``, ``closed_by`` and ``purge_after`` = closed_at + the workspace's
    ``ACCOUNT_LIFETIME``; revokes every API key and pending invitation (each
    audited); audits ``workspace.closed``; once committed, queues the export and
    tells the owners."""
    with workspace_context(workspace):
        membership = _owner_membership(workspace, actor)
        if (confirm_slug or "").strip() != workspace.slug:
            raise ValidationError({"confirm_slug": f"Type the workspace's address name, {workspace.slug}, to confirm."})
        if reason not in CLOSURE_REASONS:
            raise ValidationError({"reason": "Choose why you are closing the workspace."})
        now = now or timezone.now()
        with transaction.atomic():
            current = Workspace.objects.select_for_update().get(pk=workspace.pk)
            if current.is_closed:
                raise ValidationError("This workspace is already closed.")
            current.closed_at = now
            current.closed_by = actor
            current.purge_after = now + timedelta(days=period_days(current, ACCOUNT_LIFETIME))
            current.purged_at = None
            current.save(update_fields=["closed_at", "closed_by", "purge_after", "purged_at"])
            keys = list(ApiKey.objects.for_workspace(current).filter(revoked_at__isnull=True))
            for key in keys:
                api_key_revoke(api_key=key, actor=actor)
            pending = list(
                Invitation.objects.for_workspace(current).filter(accepted_at__isnull=True, revoked_at__isnull=True)
            )
            for invitation in pending:
                invitation_revoke(acting=membership, invitation=invitation)
            audit_record(
                action=actions.WORKSPACE_CLOSED,
                workspace=current,
                obj=current,
                actor_user_id=actor.pk,
                metadata={
                    "reason": reason,
                    "purge_after": current.purge_after.isoformat(),
                    "api_keys_revoked": len(keys),
                    "invitations_revoked": len(pending),
                },
            )
            workspace_export_queue(workspace=current)
            _tell_owners_closed(current)
    for field in ("closed_at", "closed_by", "purge_after", "purged_at"):
        setattr(workspace, field, getattr(current, field))
    return workspace


def _tell_owners_closed(workspace: Workspace) -> None:
    recipients = _owner_emails(workspace)
    assert workspace.closed_at is not None and workspace.purge_after is not None
    closed, purge = _day(workspace, workspace.closed_at), _day(workspace, workspace.purge_after)
    message = (
        f"{workspace.name} ({workspace.slug}) was closed on {closed}.\n\n"
        "It has stopped working: its pages and its API answer that it is closed, and its API keys "
        "and pending invitations were revoked.\n\n"
        f"A full export of its data is being prepared. Download it from {_closure_url(workspace)} "
        f"before {purge}.\n\n"
        f"On {purge} its data will be purged, except what the law or a legal hold requires "
        "us to keep (the accounting records are kept for their legal period). You will get a final "
        "receipt then.\n\n"
        f"Changed your mind? An owner can cancel the closure on the same page until {purge}.\n"
    )
    transaction.on_commit(
        lambda: send_mail(
            subject=f"{workspace.name} is closed",
            message=message,
            from_email=None,
            recipient_list=recipients,
        )
    )


def workspace_closure_cancel(*, workspace: Workspace, actor: User, now: datetime | None = None) -> Workspace:
    """Reopen a closed workspace during its grace period: an owner only
    (PermissionError), while closed and before ``purge_after`` (ValidationError
    afterwards: the purge may have begun). Audited. Revoked API keys and
    invitations stay revoked (new ones must be made): a closure may have been a
    response to a leak. Exports already built expire on their own."""
    with workspace_context(workspace):
        _owner_membership(workspace, actor)
        now = now or timezone.now()
        with transaction.atomic():
            current = Workspace.objects.select_for_update().get(pk=workspace.pk)
            if not current.is_closed:
                raise ValidationError("This workspace is not closed.")
            if current.purged_at is not None or (current.purge_after is not None and now >= current.purge_after):
                raise ValidationError("The grace period has ended: the workspace's data is being purged.")
            was = {"closed_at": current.closed_at, "purge_after": current.purge_after}
            current.closed_at = current.closed_by = current.purge_after = None
            current.save(update_fields=["closed_at", "closed_by", "purge_after"])
            audit_record(
                action=actions.WORKSPACE_CLOSURE_CANCELLED,
                workspace=current,
                obj=current,
                actor_user_id=actor.pk,
                metadata={k: v.isoformat() if v else None for k, v in was.items()},
            )
    for field in ("closed_at", "closed_by", "purge_after"):
        setattr(workspace, field, getattr(current, field))
    return workspace


def workspace_export_queue(*, workspace: Workspace) -> bool:
    """Build a new export on a worker once the transaction commits (in-process where
    tasks run eagerly). Only for a closed, unpurged workspace; not again while a build
    queued in the last ``QUEUE_GUARD_SECONDS`` has not finished. Whether it was queued."""
    if not workspace.is_closed or workspace.purged_at is not None:
        return False
    if not cache.add(export_queued_key(workspace.pk), True, timeout=QUEUE_GUARD_SECONDS):
        return False
    workspace_id = workspace.pk
    transaction.on_commit(lambda: closure_export_build.delay(workspace_id), robust=True)
    return True


def workspace_export_requested(*, workspace: Workspace, actor: User) -> bool:
    """An owner asks for a fresh export (the last one expired, or the data changed
    before the closure took effect)."""
    with workspace_context(workspace):
        _owner_membership(workspace, actor)
        return workspace_export_queue(workspace=workspace)


@dataclass(frozen=True)
class ExportDownload:
    export: ExportFile
    filename: str
    chunks: Any  # an iterator of bytes


def workspace_export_download(*, workspace: Workspace, actor: User, now: datetime | None = None) -> ExportDownload:
    """The newest unexpired export of a closed workspace, for an owner only
    (PermissionError; ``LookupError`` when there is none). Audited before the first
    byte leaves, as ``workspace.exported`` and as a download of personal data."""
    with workspace_context(workspace):
        _owner_membership(workspace, actor)
        export = export_latest(workspace=workspace, now=now) if workspace.is_closed else None
        if export is None:
            raise LookupError("There is no export to download.")
        export_record(
            action=actions.WORKSPACE_EXPORTED,
            workspace=workspace,
            obj=workspace,
            actor_user_id=actor.pk,
            metadata={"export": export.id, "records": export.records, "documents": export.documents},
        )
        record_personal_data_access(
            subject=workspace,
            fields=sorted(t.label for t in export_tables()),
            purpose=f"download of the closed workspace's export {export.id}",
            kind=actions.PERSONAL_DATA_DOWNLOAD,
            workspace=workspace,
        )
    stamp = export.created_at.strftime("%Y%m%d-%H%M")
    return ExportDownload(
        export=export,
        filename=f"{workspace.slug}-export-{stamp}.zip",
        chunks=export_stream(workspace=workspace, export=export),
    )


@dataclass(frozen=True)
class ClosureState:
    """What the closure page shows."""

    workspace: Workspace
    closed: bool
    closed_at: datetime | None
    purge_after: datetime | None
    days_left: int | None
    can_cancel: bool
    export: ExportFile | None
    export_pending: bool
    period_days: int


def closure_state(*, workspace: Workspace, now: datetime | None = None) -> ClosureState:
    now = now or timezone.now()
    closed = workspace.is_closed
    purge_after = workspace.purge_after if closed else None
    # Whole days, rounded up: just closed with a 30-day period is "30 days left".
    days_left = max(0, -(-(purge_after - now) // timedelta(days=1))) if purge_after is not None else None
    return ClosureState(
        workspace=workspace,
        closed=closed,
        closed_at=workspace.closed_at,
        purge_after=purge_after,
        days_left=days_left,
        can_cancel=closed and workspace.purged_at is None and purge_after is not None and now < purge_after,
        export=export_latest(workspace=workspace, now=now) if closed else None,
        export_pending=closed and bool(cache.get(export_queued_key(workspace.pk))),
        period_days=period_days(workspace, ACCOUNT_LIFETIME),
    )
