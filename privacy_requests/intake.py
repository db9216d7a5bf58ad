"""Intake from the public page and from account settings (writes; the pages are
public_views.py and account_views.py).

- ``public_request_submit``: a request typed on ``/privacy/<slug>/requests/new/``,
  matched to a person without telling the requester, asked for verification at
  once and a code queued — the same steps whether or not anyone matched.
- ``authorisation_store``: a representative's authorisation, sniffed by content,
  stored encrypted under the workspace's key, waiting for a manager's review.
- ``account_access_request`` / ``account_erasure_request``: a signed-in user's
  own requests, verified by the sign-in (and, to delete, the password again).
- ``account_data_without_workspace``: the copy for a user who belongs to no
  workspace (there is no privacy contact to route a request to), straight from
  the registry.
- ``account_erasure_keeps`` / ``account_erasure_removes``: what deleting an
  account keeps (and why) and what it removes, from the registry.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from io import BytesIO
from typing import IO, Any

import filetype
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import User, Workspace
from audit import actions
from audit.services import audit_record
from kernel.crypto.blobs import blob_encrypt
from kernel.privacy.registry import SECURITY_LOGS, Basis, Category, Erasure, declarations, rows_for_subject
from privacy_requests import exports
from privacy_requests.models import (
    CLOSED_STATUSES,
    FileKind,
    PrivacyRequest,
    RequestChannel,
    RequestFile,
    RequestStatus,
    RequestType,
    SubjectType,
)
from privacy_requests.services import privacy_request_create, privacy_request_note, privacy_request_transition
from privacy_requests.verification import found_by_reference_ids, found_by_reference_reason, subject_match
from privacy_requests.verification_tasks import code_queue

MAX_AUTHORISATION_BYTES = 10 * 1024 * 1024
# Decided by the file's bytes, never by its name or the browser's claim.
AUTHORISATION_TYPES = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


# --- The public page -----------------------------------------------------------------


@dataclass(frozen=True)
class Authorisation:
    """An uploaded authorisation, read and checked, not yet stored."""

    data: bytes
    content_type: str


def authorisation_read(upload: IO[bytes]) -> Authorisation:
    """Read and check an upload: PDF, PNG or JPEG by content, at most 10 MB.
    Raises a ValidationError on ``authorisation`` before anything is written."""
    head = upload.read(8192)
    kind = filetype.guess(head)
    if kind is None or kind.mime not in AUTHORISATION_TYPES:
        raise ValidationError({"authorisation": "Only PDF, PNG or JPEG files are accepted."})
    chunks, size = [head], len(head)
    while chunk := upload.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_AUTHORISATION_BYTES:
            raise ValidationError({"authorisation": "The file is larger than 10 MB."})
        chunks.append(chunk)
    return Authorisation(b"".join(chunks), str(kind.mime))


def authorisation_store(*, request: PrivacyRequest, authorisation: Authorisation) -> RequestFile:
    """Store the authorisation encrypted under the workspace's key (the person may be
    no one we know) as a file of the request; its review is pending. The blob is
    bound to its storage name (``kernel.crypto.blobs``: purpose = storage_name)."""
    storage_name = (
        f"privacy/{request.workspace_id}/authorisations/{secrets.token_hex(16)}."
        f"{AUTHORISATION_TYPES[authorisation.content_type]}"
    )
    sealed = blob_encrypt(
        authorisation.data,
        workspace_id=request.workspace_id,
        subject_type="workspace",
        subject_id=str(request.workspace_id),
        purpose=storage_name,
    )
    saved = default_storage.save(storage_name, File(BytesIO(sealed)))
    if saved != storage_name:  # the name is bound into the ciphertext: it must not change
        default_storage.delete(saved)
        raise RuntimeError("storage renamed a fresh random file name")
    try:
        with transaction.atomic():
            file = RequestFile(
                workspace_id=request.workspace_id,
                request=request,
                kind=FileKind.AUTHORISATION,
                storage_name=storage_name,
                size_bytes=len(authorisation.data),
                sha256=hashlib.sha256(authorisation.data).hexdigest(),
            )
            file.save(force_insert=True)
            PrivacyRequest.objects.for_workspace(request.workspace_id).filter(pk=request.pk).update(
                authorisation_status="pending"
            )
            request.authorisation_status = "pending"
            privacy_request_note(
                request=request,
                kind="authorisation",
                reason=f"Representative's authorisation uploaded ({authorisation.content_type}); waiting for review",
                actor_label="requester",
            )
            audit_record(
                action=actions.PRIVACY_REQUEST_AUTHORISATION_UPLOADED,
                workspace=request.workspace_id,
                obj=file,
                metadata={"content_type": authorisation.content_type, "size": len(authorisation.data)},
            )
    except Exception:
        default_storage.delete(storage_name)  # nothing half-written
        raise
    return file


def public_request_submit(
    *,
    workspace: Workspace,
    type: str,
    name: str,
    contact: str,
    identifier: str,
    details: str = "",
    representative_name: str = "",
    authorisation: Authorisation | None = None,
) -> PrivacyRequest:
    """Record a request from the public page and ask for verification at once.

    The person is matched from ``identifier`` (and ``contact``, unless a
    representative typed their own) without telling the requester; then the same
    steps follow whether or not anyone matched: verification asked (so the clock
    waits for it), a code queued. Only the worker knows whether it sends one."""
    representative_name = representative_name.strip()
    matched_on = [identifier] if representative_name else [identifier, contact]
    debtor = subject_match(workspace=workspace, identifier=identifier, contact="" if representative_name else contact)
    # A debt reference typed to be found cannot also be the knowledge check.
    found_by = found_by_reference_ids(workspace=workspace, debtor=debtor, typed=matched_on)
    stored: RequestFile | None = None
    try:
        with transaction.atomic():
            request = privacy_request_create(
                workspace=workspace,
                type=type,
                channel=RequestChannel.WEB,
                debtor=debtor,
                requester_name=name,
                requester_contact=contact,
                details=details,
                actor_label="requester",
            )
            if representative_name:
                request.representative_name = representative_name[:200]
                request.save(update_fields=["representative_name"])
                if authorisation is not None:
                    stored = authorisation_store(request=request, authorisation=authorisation)
            request = privacy_request_transition(
                request=request,
                to=RequestStatus.AWAITING_VERIFICATION,
                actor_label="system",
                reason="identity check asked at once (one-time code + knowledge check)"
                + found_by_reference_reason(found_by),
            )
            code_queue(request=request)
    except Exception:
        if stored is not None:
            default_storage.delete(stored.storage_name)  # no file without its request
        raise
    return request


# --- Account settings ------------------------------------------------------------------


def _open_own_request(workspace: Workspace, user: User, type: str) -> PrivacyRequest | None:
    return (
        PrivacyRequest.objects.for_workspace(workspace)
        .filter(user=user, subject_type=SubjectType.USER, type=type)
        .exclude(status__in=CLOSED_STATUSES)
        .order_by("-received_at")
        .first()
    )


def account_access_request(*, workspace: Workspace, user: User) -> PrivacyRequest:
    """A signed-in user's "download my data": one verified access request about
    them in ``workspace`` (an open one is reused), its copy queued."""
    with transaction.atomic():
        request = _open_own_request(workspace, user, RequestType.ACCESS) or privacy_request_create(
            workspace=workspace,
            type=RequestType.ACCESS,
            channel=RequestChannel.ACCOUNT,
            user=user,
            verified_by="signed-in user",
            actor=user,
            actor_label="the user",
        )
    # The copy is the export work's (privacy_requests.exports); it is idempotent per request.
    exports.export_queue(request=request)
    return request


def account_erasure_request(*, workspace: Workspace, user: User) -> PrivacyRequest:
    """A signed-in user's "delete my account" (password checked by the caller), as
    a verified erasure request in ``workspace`` (an open one is reused). The
    account page files one in every workspace the user belongs to: each holds
    records of them and answers for its own. The erasure itself is planned,
    approved and run from the workspace's privacy desk."""
    with transaction.atomic():
        return _open_own_request(workspace, user, RequestType.ERASURE) or privacy_request_create(
            workspace=workspace,
            type=RequestType.ERASURE,
            channel=RequestChannel.ACCOUNT,
            user=user,
            details="Delete my account (asked in account settings).",
            verified_by="signed-in user, password re-entered",
            actor=user,
            actor_label="the user",
        )


def _shown(pd_category: str, value: Any) -> Any:
    if pd_category == Category.AUTHENTICATION:
        return "(held, not shown: a secret)" if value else None
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def account_data_without_workspace(*, user: User) -> bytes:
    """Everything the registry declares about ``user`` outside any workspace (the
    account, its email addresses, sessions, two-factor devices, policy
    acceptances, their entries in the audit trail), as JSON with the registry's
    categories as keys. Secrets (password hash, two-factor seeds) are named, not
    shown. Audited as an export."""
    records: dict[str, list[dict[str, Any]]] = {}
    for row in rows_for_subject(subject_type=SubjectType.USER, subject_id=user.pk):
        by_category: dict[str, dict[str, Any]] = {}
        for name, pd in row.fields.items():
            by_category.setdefault(pd.category, {})[name] = _shown(pd.category, getattr(row.instance, name, None))
        records.setdefault(row.model._meta.label_lower, []).append(by_category)
    body = {
        "subject": {"type": "user", "email": user.email},
        "generated_at": timezone.now().isoformat(),
        "records": records,
    }
    audit_record(
        action=actions.PERSONAL_DATA_EXPORT,
        obj=user,
        actor_user_id=user.pk,
        metadata={"scope": "account without workspace", "record_types": len(records)},
    )
    return json.dumps(body, indent=2, ensure_ascii=False, default=str).encode()


@dataclass(frozen=True)
class Kept:
    """One kind of record deleting an account keeps."""

    record: str
    fields: str
    basis: str
    retention: str
    law: str


@dataclass(frozen=True)
class Removed:
    """One kind of record deleting an account removes (or pseudonymises)."""

    record: str
    deleted: str
    pseudonymised: str


def account_erasure_keeps() -> list[Kept]:
    """What the registry says survives a user's erasure, and under which law."""
    kept = []
    for decl in declarations():
        if decl.subject_type != SubjectType.USER:
            continue
        keep = {name: pd for name, pd in decl.fields.items() if pd.erasure == Erasure.KEEP_UNTIL}
        if keep:
            first = next(iter(keep.values()))
            kept.append(
                Kept(
                    record=decl.purpose,
                    fields=", ".join(sorted(keep)),
                    basis=Basis(first.basis).label,
                    retention=f"{first.retention} after {first.retention.trigger}",
                    law=first.keep_law or first.retention.source,
                )
            )
    return kept


def account_erasure_removes() -> list[Removed]:
    """What the registry says a user's erasure deletes or pseudonymises."""
    removed = []
    for decl in declarations():
        if decl.subject_type != SubjectType.USER:
            continue
        deleted = sorted(name for name, pd in decl.fields.items() if pd.erasure == Erasure.DELETE)
        pseudonymised = sorted(name for name, pd in decl.fields.items() if pd.erasure == Erasure.PSEUDONYMISE)
        if deleted or pseudonymised:
            removed.append(Removed(decl.purpose, ", ".join(deleted), ", ".join(pseudonymised)))
    return removed


SECURITY_LOG_RETENTION = f"{SECURITY_LOGS} after {SECURITY_LOGS.trigger} ({SECURITY_LOGS.source})"
