"""What the requester is told: an email when their request is closed, when its
deadline is extended, and when their copy is ready (docs/privacy-requests.md,
"What the requester is told").

- ``requester_notify(*, request, kind, **context) -> bool``: queue one notice
  (``CLOSED``, ``EXTENDED``, ``COPY_READY``); True when an email was queued.

Where it goes (``requester_address``): to the email the workspace holds for the
person once the request is matched (``Debtor.email``, or the user's email for a
signed-in user's request) — never to what the requester typed, which may be
someone else's; an unmatched request is answered at the email the requester
gave, if they gave one. No SMS.

The email is sent once the transaction commits (nothing is said about a change
that was rolled back) and a failed send never undoes what was done: it is logged.
Each notice is then a timeline note — ``notified``, or ``notice_failed`` so the
desk can tell the person another way; ``notice_unsent`` at once when there is no
address — and a ``privacy_request.notified`` audit event with its kind, whom it
went to (``on_file``, ``given``, ``none``) and whether it was sent; neither holds
the address. The emails hold the
reference, the workspace's name and privacy contact, and what the request's
answer says (staff-written, no personal data); nothing else of the person's.
"""

from __future__ import annotations

import logging
import zoneinfo
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse

from accounts.models import User, Workspace
from audit import actions
from audit.services import audit_record
from debtors.models import Debtor
from kernel.crypto.fields import DecryptionError
from kernel.crypto.keyring import SubjectKeyShredded
from kernel.tenancy import workspace_context
from privacy_requests import export_archive, services
from privacy_requests.models import PrivacyRequest, RequestStatus, RequestType, SubjectType

logger = logging.getLogger("collectpro.privacy_requests")

CLOSED = "closed"
EXTENDED = "extended"
COPY_READY = "copy_ready"
KINDS = frozenset({CLOSED, EXTENDED, COPY_READY})

# A refusal or a partial answer must say where the person may complain (GDPR Art. 12(4)).
COMPLAINT_STATUSES = frozenset({RequestStatus.REFUSED, RequestStatus.PARTLY_FULFILLED})
# How a closed request reads in the email ("Your request … was refused.").
_CLOSED_AS = {
    RequestStatus.FULFILLED: "fulfilled",
    RequestStatus.PARTLY_FULFILLED: "partly fulfilled",
    RequestStatus.REFUSED: "refused",
    RequestStatus.WITHDRAWN: "withdrawn",
}
# On the timeline: what the person was told.
_TOLD = {
    CLOSED: "the answer to the request",
    EXTENDED: "the extension and its reason",
    COPY_READY: "that the copy is ready",
}


@dataclass(frozen=True)
class Recipient:
    address: str
    source: str  # "on_file" (held for the matched person) | "given" (typed by an unmatched requester)

    @property
    def label(self) -> str:
        return "the email on file" if self.source == "on_file" else "the email the requester gave"


def _email_or_empty(value: str | None) -> str:
    value = (value or "").strip()
    try:
        validate_email(value)
    except ValidationError:
        return ""
    # An erased account's placeholder (erased-<pk>@erased.invalid) reaches no one (RFC 2606).
    return "" if value.lower().endswith(".invalid") else value


def requester_address(request: PrivacyRequest) -> Recipient | None:
    """Where the person is told: the email held for the matched person, else (no one
    matched) the email the requester gave; None when there is neither."""
    if request.subject_type == SubjectType.USER:
        user = User.objects.filter(pk=request.user_id).first() if request.user_id is not None else None
        address = _email_or_empty(user.email if user is not None else "")
        return Recipient(address, "on_file") if address else None
    if request.debtor_id is not None:
        try:
            debtor = Debtor.objects.for_workspace(request.workspace_id).filter(pk=request.debtor_id).first()
            address = _email_or_empty(debtor.email if debtor is not None else "")
        except (SubjectKeyShredded, DecryptionError):  # an erased person: nothing on file any more
            address = ""
        return Recipient(address, "on_file") if address else None
    address = _email_or_empty(request.requester_contact)
    return Recipient(address, "given") if address else None


def _local_day(workspace: Workspace, moment: datetime) -> str:
    local = moment.astimezone(zoneinfo.ZoneInfo(workspace.timezone))
    return f"{local.day} {local:%B %Y}"


def _absolute(name: str, **kwargs: Any) -> str:
    try:
        return settings.SITE_URL.rstrip("/") + reverse(name, kwargs=kwargs or None)
    except NoReverseMatch:  # the public pages are not installed
        return ""


def _message(workspace: Workspace, request: PrivacyRequest, kind: str, context: dict[str, Any]) -> tuple[str, str]:
    """The subject and plain-text body of one notice."""
    contact = services.privacy_contact_for(workspace)
    values: dict[str, Any] = {
        "workspace_name": workspace.name,
        "reference": request.reference,
        "type_label": RequestType(request.type).label,
        "contact": contact
        if contact and (contact.contact_name or contact.contact_email or contact.contact_phone)
        else None,
        **context,
    }
    if kind == CLOSED:
        closed_as = _CLOSED_AS.get(RequestStatus(request.status), str(request.status))
        values.update(
            closed_as=closed_as,
            outcome=request.outcome,
            complaint=request.status in COMPLAINT_STATUSES,
            authority=export_archive.AUTHORITIES.get(workspace.jurisdiction, ""),
        )
        subject = f"{workspace.name}: your privacy request {request.reference} was {closed_as}"
    elif kind == EXTENDED:
        assert request.extended_due_at is not None
        values.update(
            reason=request.extension_reason,
            new_deadline=_local_day(workspace, request.extended_due_at),
            timezone=workspace.timezone,
        )
        subject = f"{workspace.name}: more time is needed for your privacy request {request.reference}"
    else:
        signed_in = request.subject_type == SubjectType.USER
        expires_at = context.get("expires_at")
        values.update(
            signed_in=signed_in,
            url=_absolute("account_privacy")
            if signed_in
            else _absolute("privacy_request_status", workspace_slug=workspace.slug, reference=request.reference),
            keep_days=export_archive.EXPORT_KEEP.days,
            expires_on=_local_day(workspace, expires_at) if isinstance(expires_at, datetime) else "",
        )
        subject = f"{workspace.name}: the copy of your data is ready (request {request.reference})"
    return subject, render_to_string(f"privacy_requests/email_{kind}.txt", values).strip() + "\n"


def _record(workspace: Workspace, request: PrivacyRequest, kind: str, to: str, *, sent: bool, note: str) -> None:
    """The timeline note and the audit event of one notice (no address in either)."""
    step = "notified" if sent else ("notice_unsent" if to == "none" else "notice_failed")
    services.privacy_request_note(request=request, kind=step, actor_label="system", reason=note)
    audit_record(
        action=actions.PRIVACY_REQUEST_NOTIFIED,
        workspace=workspace,
        obj=request,
        metadata={"kind": kind, "status": str(request.status), "to": to, "sent": sent},
    )


def _send(workspace: Workspace, request_id: object, kind: str, recipient: Recipient, subject: str, body: str) -> None:
    """After the commit: send, then note and audit what happened. Nothing here
    raises: the change the notice is about is already committed."""
    try:
        send_mail(subject=subject, message=body, from_email=None, recipient_list=[recipient.address])
        sent = True
    except Exception:
        logger.exception("privacy request %s: the %s notice could not be sent", request_id, kind)
        sent = False
    what = _TOLD[kind]
    try:
        with workspace_context(workspace):
            request = PrivacyRequest.objects.for_workspace(workspace).get(pk=request_id)
            _record(
                workspace,
                request,
                kind,
                recipient.source,
                sent=sent,
                note=f"Requester told {what}, by email to {recipient.label}"
                if sent
                else f"The email telling the requester {what} could not be sent; tell them another way",
            )
    except Exception:
        logger.exception("privacy request %s: could not record the %s notice", request_id, kind)


def requester_notify(*, request: PrivacyRequest, kind: str, **context: Any) -> bool:
    """Tell the requester (module docstring). The email is written now, from the
    request as it is, and sent once the transaction commits; the timeline note and
    the audit event record whether it went. True when an email was queued; False
    when there is no address to write to (noted and audited at once)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notice {kind!r}; use one of {', '.join(sorted(KINDS))}")
    workspace = Workspace.objects.get(pk=request.workspace_id)
    recipient = requester_address(request)
    if recipient is None:
        with transaction.atomic():
            _record(
                workspace,
                request,
                kind,
                "none",
                sent=False,
                note=f"Requester not told {_TOLD[kind]} by email: no email address to write to; tell them another way",
            )
        return False
    subject, body = _message(workspace, request, kind, context)
    transaction.on_commit(partial(_send, workspace, request.pk, kind, recipient, subject, body))
    return True
