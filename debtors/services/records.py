"""Notes and documents on a debt (contacts are logged by communications.log)."""

from __future__ import annotations

import hashlib
import secrets
from typing import IO

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import Debt, Document, Note
from debtors.services.status import debt_event

MAX_DOCUMENT_BYTES = getattr(settings, "MAX_DOCUMENT_BYTES", 10 * 1024 * 1024)
# What we accept, decided by the file's bytes, never by its name or the browser's claim.
ALLOWED_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
}


def note_add(*, debt: Debt, body: str, actor: Actor = None) -> Note:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "The note is empty."})
    if len(body) > 10_000:
        raise ValidationError({"body": "At most 10,000 characters."})
    with transaction.atomic():
        note = Note(
            workspace_id=debt.workspace_id,
            debt=debt,
            debtor_id=debt.debtor_id,
            body=body,
            created_by=actor_user(actor),
        )
        note.save(force_insert=True)
        debt_event(debt, "note", "Note added", obj=note, actor=actor)
        audit_record(
            action=actions.NOTE_ADDED, workspace=debt.workspace_id, obj=note, actor_user_id=getattr(actor, "pk", None)
        )
    return note


def _sniff(head: bytes) -> str | None:
    kind = filetype.guess(head)
    if kind is not None and kind.mime in ALLOWED_TYPES:
        return str(kind.mime)
    return None


def document_upload(*, debt: Debt, upload: IO[bytes], file_name: str, actor: Actor = None) -> Document:
    """Store a document outside the web root under a random name. The type is
    sniffed from the content; anything but PDF/PNG/JPEG/TIFF is refused."""
    head = upload.read(8192)
    content_type = _sniff(head)
    if content_type is None:
        raise ValidationError({"file": "Only PDF, PNG, JPEG or TIFF files are accepted."})
    digest = hashlib.sha256(head)
    size = len(head)
    chunks = [head]
    while chunk := upload.read(1024 * 1024):
        size += len(chunk)
        if size > MAX_DOCUMENT_BYTES:
            raise ValidationError({"file": f"The file is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB."})
        digest.update(chunk)
        chunks.append(chunk)
    if size > MAX_DOCUMENT_BYTES:
        raise ValidationError({"file": f"The file is larger than {MAX_DOCUMENT_BYTES // (1024 * 1024)} MB."})
    storage_name = f"documents/{debt.workspace_id}/{secrets.token_hex(16)}.{ALLOWED_TYPES[content_type]}"
    from io import BytesIO

    saved_name = default_storage.save(storage_name, File(BytesIO(b"".join(chunks))))
    try:
        with transaction.atomic():
            doc = Document(
                workspace_id=debt.workspace_id,
                debt=debt,
                debtor_id=debt.debtor_id,
                original_name=(file_name or "document")[:200],
                storage_name=saved_name,
                content_type=content_type,
                size_bytes=size,
                sha256=digest.hexdigest(),
                uploaded_by=actor_user(actor),
            )
            doc.save(force_insert=True)
            debt_event(debt, "document", f"Document uploaded ({content_type})", obj=doc, actor=actor)
            audit_record(
                action=actions.DOCUMENT_UPLOADED,
                workspace=debt.workspace_id,
                obj=doc,
                actor_user_id=getattr(actor, "pk", None),
            )
    except Exception:
        default_storage.delete(saved_name)  # nothing half-written
        raise
    return doc
