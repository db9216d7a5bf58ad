"""The privacy_requests app's retention stores (kernel.retention): how its records are purged.

Imported from the app's AppConfig.ready().

- ``privacy_requests.erasure_notice`` (order 10): people about to be erased for
  inactivity are told first, where the profile requires it (``retention_notices``).
- ``privacy_requests.inactive_people`` (order 50): people whose collection records are
  past their period — or every person of a closed workspace whose time is up — are
  erased by the erasure engine, keeping what a hold or the books keep
  (``retention_people``).
- ``privacy_requests.request_records``: requests closed longer ago than
  ``REQUEST_RECORDS`` are deleted with their timeline, codes, files (on disk too) and
  erasure plans, unless a hold covers the person.
- ``privacy_requests.access_copies``: copies of people's data made for an access
  request are deleted when they expire (7 days; this replaces the separate daily job).
- ``privacy_requests.retention_notices`` and ``privacy_requests.erasure_plans``: the
  record of notices before erasure, and the plans of erasures no request asked for (a
  retention purge, an operator's), after ``REQUEST_RECORDS`` (a request's own plans go
  with the request).
- ``privacy_requests.privacy_contact``: the workspace's privacy contact (shown on its
  public pages) goes with a closed workspace, once its purge date has passed.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit import actions
from audit.services import audit_record
from debtors.models import Debtor
from debtors.services.holds import debtors_unheld, workspace_held
from kernel.privacy.registry import ACCOUNT_LIFETIME, COLLECTION_RECORDS, Retention
from kernel.retention import Action, PurgeContext, RetentionStore, register_store
from privacy_requests.export_archive import EXPORT_KEEP
from privacy_requests.models import (
    CLOSED_STATUSES,
    REQUEST_RECORDS,
    ErasurePlan,
    FileKind,
    PlanStatus,
    PrivacyContact,
    PrivacyRequest,
    RequestFile,
    RetentionNotice,
)
from privacy_requests.retention_notices import notices_describe, notices_send, people_to_notify
from privacy_requests.retention_people import closed_and_expired, people_describe, people_due, people_erase
from privacy_requests.services import privacy_request_note

# A copy of someone's data is for them to download, not for us to keep.
ACCESS_COPIES = Retention(
    EXPORT_KEEP.days,
    "the copy is made",
    "GDPR Art. 5(1)(c) and (e): data minimisation and storage limitation (a copy is for the person to download)",
    name="ACCESS_COPIES",
)

# What erasing a person changes: every record of theirs the erasure handles.
PERSON_MODELS = (
    "debtors.debtor",
    "debtors.debtorcontact",
    "debtors.note",
    "debtors.document",
    "debtors.dispute",
    "communications.communication",
    "payments.paymentlink",
)


def _unheld_people(workspace: Any) -> QuerySet[Debtor]:
    return debtors_unheld(workspace=workspace, debtors=Debtor.objects.for_workspace(workspace))


# --- Request records -------------------------------------------------------------------------


def requests_due(ctx: PurgeContext) -> QuerySet[PrivacyRequest]:
    """Requests closed before the cutoff, except those about a person a hold covers
    (a hold on the workspace keeps them all)."""
    workspace = ctx.workspace
    requests = PrivacyRequest.objects.for_workspace(workspace)
    if workspace_held(workspace=workspace):
        return requests.none()
    return requests.filter(status__in=CLOSED_STATUSES, closed_at__lt=ctx.cutoff).filter(
        Q(debtor__isnull=True) | Q(debtor_id__in=_unheld_people(workspace).values("pk"))
    )


def requests_delete(ctx: PurgeContext, keys: list[Any]) -> int:
    """Delete the requests with everything of theirs: timeline, codes, files (the stored
    files first, so a rollback leaves rows whose files the next run finds gone) and
    erasure plans. The receipt of the purge is the record."""
    workspace = ctx.workspace
    files = RequestFile.objects.for_workspace(workspace).filter(request_id__in=keys).exclude(storage_name="")
    for name in files.values_list("storage_name", flat=True):
        default_storage.delete(name)
    ErasurePlan.objects.for_workspace(workspace).filter(request_id__in=keys).delete()
    _, per_model = PrivacyRequest.objects.for_workspace(workspace).filter(pk__in=keys).delete()
    return int(per_model.get(PrivacyRequest._meta.label, 0))


def requests_describe(ctx: PurgeContext, keys: list[Any]) -> list[str]:
    rows = PrivacyRequest.objects.for_workspace(ctx.workspace).filter(pk__in=keys)
    return [
        f"request {r.reference} ({r.type}, {r.status}), closed {r.closed_at:%Y-%m-%d}"
        for r in rows.order_by("pk").only("reference", "type", "status", "closed_at")
        if r.closed_at
    ]


# --- Access copies ---------------------------------------------------------------------------


def copies_due(ctx: PurgeContext) -> QuerySet[RequestFile]:
    """Copies past their own expiry (``expires_at``, set when built) or older than the period."""
    return RequestFile.objects.for_workspace(ctx.workspace).filter(
        Q(expires_at__lte=ctx.now) | Q(created_at__lt=ctx.cutoff), kind=FileKind.EXPORT, deleted_at__isnull=True
    )


def copies_delete(ctx: PurgeContext, keys: list[Any]) -> int:
    """The file from storage, then the row marked deleted (the request keeps that a copy
    was made), audited and noted on the request's timeline."""
    workspace, deleted = ctx.workspace, 0
    for file in (
        RequestFile.objects.for_workspace(workspace)
        .filter(pk__in=keys, deleted_at__isnull=True)
        .select_related("request")
    ):
        if file.storage_name:
            default_storage.delete(file.storage_name)
        RequestFile.objects.for_workspace(workspace).filter(pk=file.pk).update(
            deleted_at=timezone.now(), download_token_hash="", download_token_expires_at=None
        )
        audit_record(
            action=actions.PRIVACY_REQUEST_EXPORT_DELETED,
            workspace=workspace,
            obj=file,
            metadata={"request": str(file.request_id), "reason": "expired", "downloaded": bool(file.downloaded_at)},
        )
        privacy_request_note(
            request=file.request, kind="export_deleted", actor_label="system", reason="Copy deleted (expired)"
        )
        deleted += 1
    return deleted


# --- Notice records --------------------------------------------------------------------------


def notice_records_due(ctx: PurgeContext) -> QuerySet[RetentionNotice]:
    workspace = ctx.workspace
    notices = RetentionNotice.objects.for_workspace(workspace)
    if workspace_held(workspace=workspace):
        return notices.none()
    return notices.filter(notified_at__lt=ctx.cutoff, debtor_id__in=_unheld_people(workspace).values("pk"))


def notice_records_delete(ctx: PurgeContext, keys: list[Any]) -> int:
    return int(RetentionNotice.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()[0])


# --- Erasure plans no request asked for -----------------------------------------------------


def plans_due(ctx: PurgeContext) -> QuerySet[ErasurePlan]:
    workspace = ctx.workspace
    plans = ErasurePlan.objects.for_workspace(workspace)
    if workspace_held(workspace=workspace):
        return plans.none()
    return plans.filter(
        request__isnull=True,
        status=PlanStatus.DONE,
        executed_at__lt=ctx.cutoff,
        debtor_id__in=_unheld_people(workspace).values("pk"),
    )


def plans_delete(ctx: PurgeContext, keys: list[Any]) -> int:
    return int(ErasurePlan.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()[0])


# --- The privacy contact ---------------------------------------------------------------------


def contact_due(ctx: PurgeContext) -> QuerySet[PrivacyContact]:
    contacts = PrivacyContact.objects.for_workspace(ctx.workspace)
    return contacts if closed_and_expired(ctx) else contacts.none()


def contact_delete(ctx: PurgeContext, keys: list[Any]) -> int:
    return int(PrivacyContact.objects.for_workspace(ctx.workspace).filter(pk__in=keys).delete()[0])


register_store(
    RetentionStore(
        name="privacy_requests.erasure_notice",
        rule=COLLECTION_RECORDS,
        label="Notice before erasure for inactivity",
        covers="people whose collection records reach the end of their period within the notice days the "
        "jurisdiction requires (India: 2 days): told by email or SMS at their contact on file",
        action=Action.NOTICE,
        due=people_to_notify,
        apply=notices_send,
        describe=notices_describe,
        trigger="the period less the notice days",
        batch_size=200,
        order=10,
    )
)
register_store(
    RetentionStore(
        name="privacy_requests.inactive_people",
        rule=COLLECTION_RECORDS,
        label="People with no collection activity (erasure)",
        covers="a person whose debts are all closed: identity, contacts, notes, documents, disputes' text, "
        "message contents, payment links; the books, what a legal hold covers and the consent ledger are kept",
        action=Action.ERASE_PERSON,
        due=people_due,
        apply=people_erase,
        describe=people_describe,
        models=PERSON_MODELS,
        trigger="the last collection activity (and the notice, where required); in a closed workspace, "
        "the end of its account lifetime",
        atomic=False,
        batch_size=20,
        order=50,
    )
)
register_store(
    RetentionStore(
        name="privacy_requests.request_records",
        rule=REQUEST_RECORDS,
        label="Privacy requests",
        covers="closed rights requests: what the requester wrote, the timeline, one-time codes, "
        "authorisations, statements and erasure plans",
        action=Action.DELETE,
        due=requests_due,
        apply=requests_delete,
        describe=requests_describe,
        models=("privacy_requests.privacyrequest",),
        batch_size=200,
        order=60,
    )
)
register_store(
    RetentionStore(
        name="privacy_requests.access_copies",
        rule=ACCESS_COPIES,
        label="Copies of people's data (access requests)",
        covers="the encrypted ZIP built for an access or portability request, and its download link",
        action=Action.DELETE,
        due=copies_due,
        apply=copies_delete,
        batch_size=200,
        order=60,
    )
)
register_store(
    RetentionStore(
        name="privacy_requests.retention_notices",
        rule=REQUEST_RECORDS,
        label="Records of notices before erasure",
        covers="that a person was told before erasure for inactivity: when, how, the message's id (no content)",
        action=Action.DELETE,
        due=notice_records_due,
        apply=notice_records_delete,
        trigger="the notice",
        batch_size=500,
        order=60,
    )
)
register_store(
    RetentionStore(
        name="privacy_requests.erasure_plans",
        rule=REQUEST_RECORDS,
        label="Records of erasures without a request",
        covers="what a retention purge's or an operator's erasure did, field by field, and its statement "
        "(no value of the person's)",
        action=Action.DELETE,
        due=plans_due,
        apply=plans_delete,
        trigger="the erasure",
        batch_size=500,
        order=60,
    )
)
register_store(
    RetentionStore(
        name="privacy_requests.privacy_contact",
        rule=ACCOUNT_LIFETIME,
        label="Privacy contact of a closed workspace",
        covers="the name, email and phone of the workspace's grievance / information officer",
        action=Action.DELETE,
        due=contact_due,
        apply=contact_delete,
        models=("privacy_requests.privacycontact",),
        trigger="the workspace is closed (its purge date, purge_after)",
        order=900,
    )
)
