"""Writes for rights requests: intake, the status machine, verification, extension.

Every transition is a ``PrivacyRequestEvent`` (who, when, why) and an audit event
in the same transaction. Fulfilment (exports, erasure, rectification…) lives in
its own modules and moves the request through ``privacy_request_transition``.
Closing a request and extending its deadline tell the requester by email once the
transaction commits (``notices.requester_notify``).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Client, User, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import Debtor
from privacy_requests import deadlines, notices
from privacy_requests.models import (
    CLOSED_STATUSES,
    TRANSITIONS,
    ErasurePlan,
    PlanStatus,
    PrivacyContact,
    PrivacyRequest,
    PrivacyRequestEvent,
    RequestChannel,
    RequestStatus,
    RequestType,
    SubjectType,
)

_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read over the phone


def _reference() -> str:
    return "PR-" + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))


def privacy_contact_for(workspace: Workspace) -> PrivacyContact | None:
    return PrivacyContact.objects.for_workspace(workspace).first()


def _grievance_days(workspace: Workspace) -> int | None:
    contact = privacy_contact_for(workspace)
    return contact.grievance_period_days if contact else None


def _event(
    request: PrivacyRequest,
    kind: str,
    *,
    actor: Actor = None,
    actor_label: str = "",
    reason: str = "",
    from_status: str = "",
    to_status: str = "",
) -> PrivacyRequestEvent:
    event = PrivacyRequestEvent(
        workspace_id=request.workspace_id,
        request=request,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        actor=actor_user(actor),
        actor_label=actor_label[:100],
        reason=reason[:500],
    )
    event.save(force_insert=True)
    return event


def _start_clock(request: PrivacyRequest, workspace: Workspace) -> None:
    start = deadlines.clock_start(
        received_at=request.received_at,
        verification_asked_at=request.verification_asked_at,
        verified_at=request.verified_at,
    )
    request.clock_started_at = start
    request.due_at = (
        deadlines.due_at(workspace, start, grievance_period_days=_grievance_days(workspace)) if start else None
    )


def privacy_request_create(
    *,
    workspace: Workspace,
    type: str,
    channel: str,
    received_at: datetime | None = None,
    debtor: Debtor | None = None,
    user: User | None = None,
    client: Client | None = None,
    requester_name: str = "",
    requester_contact: str = "",
    details: str = "",
    verified_by: str = "",
    actor: Actor = None,
    actor_label: str = "",
) -> PrivacyRequest:
    """Record a rights request as received.

    ``verified_by`` says how identity is already established (a client relaying a
    request it received, an agent who checked the caller, a signed-in user): then
    the request is verified at once and its clock starts at receipt. Otherwise it
    waits for verification and its clock starts at receipt or, if verification is
    asked for promptly, at verification (privacy_requests.deadlines)."""
    if type not in RequestType.values:
        raise ValidationError({"type": f"Use one of: {', '.join(RequestType.values)}."})
    if channel not in RequestChannel.values:
        raise ValidationError({"channel": f"Use one of: {', '.join(RequestChannel.values)}."})
    now = timezone.now()
    received_at = received_at or now
    if received_at > now + timedelta(minutes=5):
        raise ValidationError({"received_at": "A request cannot be received in the future."})
    if len(details) > 10_000:
        raise ValidationError({"details": "At most 10,000 characters."})
    if debtor is not None and debtor.workspace_id != workspace.pk:
        raise ValidationError({"debtor": "No such debtor."})
    request = PrivacyRequest(
        workspace=workspace,
        reference=_reference(),
        type=type,
        channel=channel,
        subject_type=SubjectType.USER if user is not None else SubjectType.DEBTOR,
        debtor=debtor,
        user=user,
        client=client,
        received_at=received_at,
        requester_name=requester_name.strip() or None,
        requester_contact=requester_contact.strip() or None,
        details=details.strip() or None,
        created_by=actor_user(actor),
    )
    if verified_by:
        request.status = RequestStatus.VERIFIED
        request.verified_at = received_at
        request.verification_method = verified_by[:200]
    with transaction.atomic():
        while PrivacyRequest.objects.for_workspace(workspace).filter(reference=request.reference).exists():
            request.reference = _reference()
        _start_clock(request, workspace)
        request.save(force_insert=True)
        _event(
            request,
            "received",
            actor=actor,
            actor_label=actor_label,
            to_status=request.status,
            reason=f"{RequestType(type).label} via {RequestChannel(channel).label}"
            + (f"; identity: {verified_by}" if verified_by else ""),
        )
        audit_record(
            action=actions.PRIVACY_REQUEST_RECEIVED,
            workspace=workspace,
            obj=request,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"type": type, "channel": channel, "verified": bool(verified_by)},
        )
    return request


def _answered_by_erasure(request: PrivacyRequest) -> bool:
    """An erasure of the request is running: its statement is the answer the
    requester gets (erasure.py sends it), so closing sends no second notice."""
    return (
        ErasurePlan.objects.for_workspace(request.workspace_id)
        .filter(request_id=request.pk, status=PlanStatus.RUNNING)
        .exists()
    )


def privacy_request_transition(
    *,
    request: PrivacyRequest,
    to: str,
    actor: Actor = None,
    actor_label: str = "",
    reason: str = "",
    notify: bool = True,
) -> PrivacyRequest:
    """Move a request along the status machine (models.TRANSITIONS); anything else
    is refused naming the moves allowed from here. Closing needs a reason, which the
    requester is told by email (``notices``) unless ``notify`` is False — for a
    caller that sends its own answer, as the erasure sends its statement."""
    with transaction.atomic():
        request = PrivacyRequest.objects.for_workspace(request.workspace_id).select_for_update().get(pk=request.pk)
        old = request.status
        allowed = TRANSITIONS[old]
        if to not in allowed:
            raise ValidationError(
                {
                    "status": f"A request that is {RequestStatus(old).label.lower()} cannot become {to}; "
                    + ("allowed: " + ", ".join(sorted(allowed)) if allowed else "it is closed")
                    + "."
                }
            )
        if to in CLOSED_STATUSES and not reason.strip():
            raise ValidationError({"reason": "Say why the request is closed this way (the requester is told)."})
        request.status = to
        fields = ["status"]
        if to == RequestStatus.AWAITING_VERIFICATION and request.verification_asked_at is None:
            # Asked promptly, the clock waits for the answer (deadlines.clock_start).
            request.verification_asked_at = timezone.now()
            _start_clock(request, Workspace.objects.get(pk=request.workspace_id))
            fields += ["verification_asked_at", "clock_started_at", "due_at"]
        if to in CLOSED_STATUSES:
            request.closed_at = timezone.now()
            request.outcome = reason.strip()
            fields += ["closed_at", "outcome"]
        request.save(update_fields=fields)
        _event(request, "status", actor=actor, actor_label=actor_label, from_status=old, to_status=to, reason=reason)
        audit_record(
            action=actions.PRIVACY_REQUEST_STATUS_CHANGED,
            workspace=request.workspace_id,
            obj=request,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"from": old, "to": to},
        )
        if to in CLOSED_STATUSES and notify and not _answered_by_erasure(request):
            notices.requester_notify(request=request, kind=notices.CLOSED)
    return request


def privacy_request_verified(
    *, request: PrivacyRequest, method: str, actor: Actor = None, actor_label: str = "", at: datetime | None = None
) -> PrivacyRequest:
    """Identity confirmed (``method`` says how): the request is verified and, if its
    clock waited for this, the clock starts now."""
    workspace = Workspace.objects.get(pk=request.workspace_id)
    with transaction.atomic():
        request = privacy_request_transition(
            request=request, to=RequestStatus.VERIFIED, actor=actor, actor_label=actor_label, reason=method
        )
        request.verified_at = at or timezone.now()
        request.verification_method = method[:200]
        _start_clock(request, workspace)
        request.save(update_fields=["verified_at", "verification_method", "clock_started_at", "due_at"])
        audit_record(
            action=actions.PRIVACY_REQUEST_VERIFIED,
            workspace=workspace,
            obj=request,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"method": method[:200]},
        )
    return request


def privacy_request_extend(*, request: PrivacyRequest, reason: str, actor: Actor = None) -> PrivacyRequest:
    """Extend the deadline once, where the profile allows it, and only while the
    first period runs (the requester must be told inside it, with the reason)."""
    workspace = Workspace.objects.get(pk=request.workspace_id)
    if not reason.strip():
        raise ValidationError({"reason": "The requester is told why: give the reason."})
    if request.status in CLOSED_STATUSES:
        raise ValidationError({"reason": "The request is closed."})
    if request.extended_due_at is not None:
        raise ValidationError({"reason": "The request has already been extended once."})
    if request.clock_started_at is None or request.due_at is None:
        raise ValidationError({"reason": "The clock has not started: the requester's identity is not confirmed."})
    if timezone.now() > request.due_at:
        raise ValidationError({"reason": "Too late: an extension must be told inside the first period."})
    extended = deadlines.extended_due_at(
        workspace, request.clock_started_at, grievance_period_days=_grievance_days(workspace)
    )
    if extended is None:
        raise ValidationError({"reason": "This jurisdiction's profile allows no extension."})
    with transaction.atomic():
        request.extended_due_at = extended
        request.extension_reason = reason.strip()[:500]
        request.save(update_fields=["extended_due_at", "extension_reason"])
        _event(request, "extended", actor=actor, reason=reason)
        audit_record(
            action=actions.PRIVACY_REQUEST_EXTENDED,
            workspace=workspace,
            obj=request,
            actor_user_id=getattr(actor_user(actor), "pk", None),
            metadata={"extended_due_at": extended.isoformat()},
        )
        # The person must be told inside the first period, with the reason (GDPR Art. 12(3)).
        notices.requester_notify(request=request, kind=notices.EXTENDED)
    return request


def privacy_request_note(*, request: PrivacyRequest, kind: str, reason: str, actor: Actor = None, **extra: Any) -> None:
    """A step on the request's timeline that is not a transition (a code sent, a
    file built, a reminder); ``reason`` holds no personal data."""
    _event(request, kind, actor=actor, reason=reason, actor_label=str(extra.get("actor_label", "")))
