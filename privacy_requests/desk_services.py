"""Writes of the privacy desk that are not steps of the request's status machine
(those are in ``privacy_requests.services``): the workspace's privacy contact, a
representative's authorisation reviewed, an authorisation file read, the desk's
CSV export recorded, an unmatched request matched to a debtor by hand. Each runs
in one transaction with its audit event."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Membership, User, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.models import AuditEvent
from audit.services import audit_record, export_record, record_personal_data_access
from debtors.models import Debtor
from kernel.crypto.blobs import blob_decrypt
from privacy_requests.models import CLOSED_STATUSES, PrivacyContact, PrivacyRequest, RequestFile, SubjectType
from privacy_requests.services import privacy_request_note


def _actor_id(actor: Actor) -> int | None:
    user = actor_user(actor)
    return user.pk if user is not None else None


def privacy_contact_save(
    *,
    workspace: Workspace,
    contact_user: User | None,
    contact_name: str,
    contact_email: str,
    contact_phone: str,
    grievance_period_days: int | None,
    actor: Actor = None,
) -> PrivacyContact:
    """Set the workspace's privacy contact (the grievance / information officer shown
    on the public pages and reminded of deadlines). The user reminded must be a
    member of the agency (not a client's login). India publishes its own period to
    answer requests, never above the rules' cap; other profiles have none."""
    profile = profile_for(workspace.jurisdiction)
    if grievance_period_days is not None:
        cap = profile.rights_request_max_days
        if cap is None:
            raise ValidationError(
                {"grievance_period_days": "Only the India profile publishes its own period; leave it empty."}
            )
        if not 1 <= grievance_period_days <= cap:
            raise ValidationError(
                {"grievance_period_days": f"Between 1 and {cap} days ({profile.rights_request_period_source})."}
            )
    if (
        contact_user is not None
        and not Membership.objects.for_workspace(workspace).filter(user=contact_user, client__isnull=True).exists()
    ):
        raise ValidationError({"contact_user": "Choose a member of this workspace."})
    with transaction.atomic():
        contact = PrivacyContact.objects.for_workspace(workspace).select_for_update().first()
        if contact is None:
            contact = PrivacyContact(workspace=workspace)
        contact.contact_user = contact_user
        contact.contact_name = contact_name.strip()
        contact.contact_email = contact_email.strip()
        contact.contact_phone = contact_phone.strip()
        contact.grievance_period_days = grievance_period_days
        contact.updated_at = timezone.now()
        contact.save()
        audit_record(
            action=actions.PRIVACY_CONTACT_CHANGED,
            workspace=workspace,
            obj=contact,
            actor_user_id=_actor_id(actor),
            metadata={
                "contact_user": contact_user.pk if contact_user else None,
                "grievance_period_days": grievance_period_days,
            },
        )
    return contact


def privacy_request_authorisation_review(
    *, request: PrivacyRequest, approve: bool, reason: str = "", actor: Actor = None
) -> PrivacyRequest:
    """Approve or reject a representative's authorisation, once. A rejection needs
    a reason (the requester is told); the request itself is then closed (or the
    person asked again) through the status machine."""
    if not approve and not reason.strip():
        raise ValidationError({"reason": "Say why the authorisation is rejected (the requester is told)."})
    with transaction.atomic():
        request = PrivacyRequest.objects.for_workspace(request.workspace_id).select_for_update().get(pk=request.pk)
        if request.authorisation_status != "pending":
            raise ValidationError({"decision": "There is no authorisation waiting for review on this request."})
        if request.status in CLOSED_STATUSES:
            raise ValidationError({"decision": "The request is closed."})
        request.authorisation_status = "approved" if approve else "rejected"
        request.save(update_fields=["authorisation_status"])
        privacy_request_note(
            request=request,
            kind="authorisation",
            reason=("Representative's authorisation approved" if approve else "Authorisation rejected")
            + (f": {reason.strip()}" if reason.strip() else ""),
            actor=actor,
        )
        audit_record(
            action=actions.PRIVACY_REQUEST_AUTHORISATION_REVIEWED,
            workspace=request.workspace_id,
            obj=request,
            actor_user_id=_actor_id(actor),
            metadata={"decision": request.authorisation_status},
        )
    return request


def authorisation_file_read(*, request: PrivacyRequest, file: RequestFile) -> bytes:
    """The decrypted authorisation a reviewer downloads; the download is audited
    before a byte leaves. The blob is bound to its storage name
    (``kernel.crypto.blobs``)."""
    if file.request_id != request.pk or file.deleted_at is not None or not file.storage_name:
        raise ValidationError({"file": "This file is no longer stored."})
    with default_storage.open(file.storage_name, "rb") as handle:
        blob = handle.read()
    data = blob_decrypt(blob, workspace_id=request.workspace_id, purpose=file.storage_name)
    record_personal_data_access(
        subject=file,
        fields=["authorisation"],
        purpose="privacy desk: authorisation review",
        kind=actions.PERSONAL_DATA_DOWNLOAD,
        workspace=request.workspace_id,
    )
    return data


def privacy_requests_export_record(
    *, workspace: Workspace, rows: int, filters: Iterable[str], actor: Actor = None
) -> AuditEvent:
    """Record a desk CSV export: how many rows and the names of the filters (the
    export holds no personal data: references, types, statuses and dates)."""
    return export_record(
        action=actions.PRIVACY_REQUESTS_EXPORTED,
        workspace=workspace,
        metadata={"rows": rows, "filters": sorted(set(filters))},
        actor_user_id=_actor_id(actor),
    )


def privacy_request_match(*, request: PrivacyRequest, debtor_id: Any, actor: Actor = None) -> PrivacyRequest:
    """Link a request that matched no one to the debtor staff found for it (exact
    search on the desk). Its status does not change: the person still proves who
    they are (a code sent to the contact on file, or a check by hand). The timeline
    and the audit trail name the debtor by id only."""
    with transaction.atomic():
        request = PrivacyRequest.objects.for_workspace(request.workspace_id).select_for_update().get(pk=request.pk)
        if request.status in CLOSED_STATUSES:
            raise ValidationError({"debtor": "The request is closed."})
        if request.debtor_id is not None or request.user_id is not None:
            raise ValidationError({"debtor": "The request is already matched to someone."})
        debtor = Debtor.objects.for_workspace(request.workspace_id).filter(pk=debtor_id).first()
        if debtor is None:
            raise ValidationError({"debtor": "No such debtor."})
        request.debtor = debtor
        request.subject_type = SubjectType.DEBTOR
        request.save(update_fields=["debtor", "subject_type"])
        privacy_request_note(
            request=request,
            kind="matched",
            reason=f"Matched by hand to debtor {debtor.pk}; identity still to be confirmed (a code or a check by hand)",
            actor=actor,
        )
        audit_record(
            action=actions.PRIVACY_REQUEST_MATCHED,
            workspace=request.workspace_id,
            obj=request,
            actor_user_id=_actor_id(actor),
            metadata={"debtor": str(debtor.pk), "status": request.status},
        )
    return request
