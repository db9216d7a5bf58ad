"""Access and portability: the person's copy, built from the registry (owned by the
export work; interface fixed).

- ``export_queue(request=…)``: queue the build (Celery task in export_tasks.py;
  in-process where there is no broker), idempotent per request.
- ``export_build(request=…) -> RequestFile``: the ZIP (JSON per record type with
  registry categories as keys, CSV, an HTML summary with what GDPR Art. 15
  requires), stored encrypted (kernel.crypto.blobs), expiring after 7 days
  (export_archive.py).
- ``latest_export(request=…) -> RequestFile | None``: the current, undeleted copy.

A representative's request is answered only once their authorisation is approved
(``authorisation_cleared``): until then no copy is queued and none is downloaded.

Downloading: the requester re-verifies (``verification.session_recently_verified``),
then gets a single-use link valid for ``DOWNLOAD_LINK_TTL``
(``export_download_link_issue``); the link streams the decrypted ZIP once
(``export_download_redeem``), which is audited and fulfils the request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from accounts.models import Workspace
from audit import actions
from audit.services import audit_record
from kernel.crypto.blobs import blob_decrypt
from privacy_requests import services
from privacy_requests.export_archive import EXPORT_TYPES, export_build, file_purpose, latest_export
from privacy_requests.export_tasks import privacy_request_export_build
from privacy_requests.models import CLOSED_STATUSES, FileKind, PrivacyRequest, RequestFile, RequestStatus

__all__ = [
    "AUTHORISATION_CLEARED",
    "DOWNLOAD_LINK_TTL",
    "DownloadState",
    "Redeemed",
    "authorisation_cleared",
    "download_state",
    "export_build",
    "export_download_link_issue",
    "export_download_redeem",
    "export_queue",
    "export_request_get",
    "latest_export",
]

DOWNLOAD_LINK_TTL = timedelta(minutes=10)
# A page that polls while the copy is prepared must not queue a build per poll.
QUEUE_GUARD_SECONDS = 10 * 60


# "": no representative (the person asks for themselves); "approved": a manager
# accepted the representative's authorisation. Pending or rejected: nothing is sent.
AUTHORISATION_CLEARED = frozenset({"", "approved"})


def authorisation_cleared(request: PrivacyRequest) -> bool:
    """Whether the person's data may go to whoever asked: no representative, or a
    representative whose authorisation was approved."""
    return (request.authorisation_status or "") in AUTHORISATION_CLEARED


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def export_request_get(*, workspace: Workspace, reference: str) -> PrivacyRequest:
    """An access or portability request of this workspace by its reference, or 404
    (whether it is missing, of another workspace, or of another type)."""
    request = (
        PrivacyRequest.objects.for_workspace(workspace)
        .filter(reference=reference.strip().upper(), type__in=EXPORT_TYPES)
        .first()
    )
    if request is None:
        raise Http404("No such request")
    return request


def export_queue(*, request: PrivacyRequest) -> None:
    """Build the copy on a worker once the transaction commits (in-process where
    tasks run eagerly). Does nothing when a copy exists or a build was queued in
    the last ``QUEUE_GUARD_SECONDS``; the task itself is idempotent too. Nothing is
    built for a representative whose authorisation is pending or rejected."""
    if request.type not in EXPORT_TYPES or request.status in CLOSED_STATUSES:
        return
    if not authorisation_cleared(request):
        return
    if latest_export(request=request) is not None:
        return
    if not cache.add(f"privacy-export-queued:{request.pk}", True, timeout=QUEUE_GUARD_SECONDS):
        return
    workspace_id, request_id = request.workspace_id, str(request.pk)
    # robust: where tasks run in-process, a failed build must not fail the page that
    # queued it (a verification that already committed); the download page asks again.
    transaction.on_commit(lambda: privacy_request_export_build.delay(workspace_id, request_id), robust=True)


class DownloadState(StrEnum):
    READY = "ready"  # a copy waits to be downloaded
    PREPARING = "preparing"  # being built
    DOWNLOADED = "downloaded"  # taken (the link was single-use)
    GONE = "gone"  # expired and deleted, or the request is closed without a copy


def download_state(*, request: PrivacyRequest) -> tuple[DownloadState, RequestFile | None]:
    """Where the requester stands with their copy."""
    file = latest_export(request=request)
    if file is not None:
        return (DownloadState.DOWNLOADED if file.downloaded_at else DownloadState.READY), file
    last = (
        RequestFile.objects.for_workspace(request.workspace_id)
        .filter(request_id=request.pk, kind=FileKind.EXPORT)
        .order_by("-created_at")
        .first()
    )
    if last is not None and last.downloaded_at:
        return DownloadState.DOWNLOADED, last
    if request.status in CLOSED_STATUSES:
        return DownloadState.GONE, last
    # Not built yet, or built and expired untouched while the request is open: (re)build.
    return DownloadState.PREPARING, None


def export_download_link_issue(*, request: PrivacyRequest) -> str | None:
    """A single-use download token for the request's copy, valid for
    ``DOWNLOAD_LINK_TTL``; only its hash is stored, and a new one replaces the last.
    None when there is no copy waiting to be downloaded, or the request is a
    representative's whose authorisation is not approved. Call only for a session
    that has just (re-)verified."""
    if not authorisation_cleared(request):
        return None
    with transaction.atomic():
        file = latest_export(request=request)
        if file is None or file.downloaded_at is not None:
            return None
        token = secrets.token_urlsafe(32)
        claimed = (
            RequestFile.objects.for_workspace(request.workspace_id)
            .filter(pk=file.pk, downloaded_at__isnull=True, deleted_at__isnull=True)
            .update(
                download_token_hash=_token_hash(token), download_token_expires_at=timezone.now() + DOWNLOAD_LINK_TTL
            )
        )
        return token if claimed else None


@dataclass(frozen=True)
class Redeemed:
    file: RequestFile
    request: PrivacyRequest
    content: bytes

    @property
    def filename(self) -> str:
        return f"{self.request.reference}-my-data.zip"


def export_download_file(*, workspace: Workspace, token: str) -> RequestFile | None:
    """The copy a download token opens, if the token is known, unused and unexpired
    and the copy still exists; None otherwise (the page answers 404 either way)."""
    if not token or len(token) > 100:
        return None
    now = timezone.now()
    return (
        RequestFile.objects.for_workspace(workspace)
        .select_related("request")
        .filter(
            kind=FileKind.EXPORT,
            download_token_hash=_token_hash(token),
            download_token_expires_at__gt=now,
            downloaded_at__isnull=True,
            deleted_at__isnull=True,
            expires_at__gt=now,
        )
        .first()
    )


def export_download_redeem(*, workspace: Workspace, file: RequestFile) -> Redeemed | None:
    """Use a download token's copy, once: decrypt it, mark it downloaded (the token
    dies with it), audit the download and fulfil the request ("copy downloaded").
    None when someone else used it first."""
    with transaction.atomic():
        claimed = (
            RequestFile.objects.for_workspace(workspace)
            .filter(pk=file.pk, downloaded_at__isnull=True, deleted_at__isnull=True)
            .update(downloaded_at=timezone.now(), download_token_hash="", download_token_expires_at=None)
        )
        if not claimed:
            return None
        with default_storage.open(file.storage_name, "rb") as fh:
            content = blob_decrypt(fh.read(), workspace_id=workspace.pk, purpose=file_purpose(file))
        if hashlib.sha256(content).hexdigest() != file.sha256:
            raise RuntimeError(f"request file {file.pk}: content does not match its checksum")
        audit_record(
            action=actions.PRIVACY_REQUEST_EXPORT_DOWNLOADED,
            workspace=workspace,
            obj=file,
            metadata={"request": str(file.request_id), "bytes": file.size_bytes},
        )
        request = file.request
        if request.status in (RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS):
            request = services.privacy_request_transition(
                request=request, to=RequestStatus.FULFILLED, actor_label="requester", reason="copy downloaded"
            )
        file.refresh_from_db()
    return Redeemed(file=file, request=request, content=content)
