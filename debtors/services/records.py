"""Notes, documents and disputes' records on a debt (contacts are logged by
communications.log), and their erasure.

Documents are stored encrypted under the person's data key (kernel.crypto.blobs),
so shredding the key makes every copy unreadable, backups included. A stored
document starts with ``DOCUMENT_MARKER``; a file without it is one uploaded before
documents were encrypted, and is served as it is."""

from __future__ import annotations

import hashlib
import io
import secrets
from collections.abc import Iterable, Mapping
from typing import IO, Any

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.http import Http404

from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record
from debtors.models import Debt, Dispute, Document, Note
from debtors.services.debtors import refuse_if_erased
from debtors.services.status import debt_event
from kernel.crypto import keyring
from kernel.crypto.blobs import blob_decrypt, blob_encrypt
from kernel.crypto.fields import FieldErasure, field_erase

# The first bytes of an encrypted document (no PDF, PNG, JPEG or TIFF starts so).
DOCUMENT_MARKER = b"CPDOC1\x00"

MAX_DOCUMENT_BYTES = getattr(settings, "MAX_DOCUMENT_BYTES", 10 * 1024 * 1024)
# What we accept, decided by the file's bytes, never by its name or the browser's claim.
ALLOWED_TYPES = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
}


def note_add(*, debt: Debt, body: str, actor: Actor = None) -> Note:
    """A note about the person (encrypted under their key); refused once they were erased."""
    refuse_if_erased(workspace_id=debt.workspace_id, debtor_id=debt.debtor_id)
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
    sniffed from the content; anything but PDF/PNG/JPEG/TIFF is refused, and so is
    any document about a person whose data was erased (``PersonErased``)."""
    refuse_if_erased(workspace_id=debt.workspace_id, debtor_id=debt.debtor_id)
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
    doc = Document(
        workspace_id=debt.workspace_id,
        debt=debt,
        debtor_id=debt.debtor_id,
        original_name=(file_name or "document")[:200],
        content_type=content_type,
        size_bytes=size,
        sha256=digest.hexdigest(),
        uploaded_by=actor_user(actor),
    )
    sealed = _document_seal(doc, b"".join(chunks), ("debtor", str(debt.debtor_id)))
    storage_name = f"documents/{debt.workspace_id}/{secrets.token_hex(16)}.{ALLOWED_TYPES[content_type]}"
    saved_name = default_storage.save(storage_name, ContentFile(sealed))
    try:
        with transaction.atomic():
            doc.storage_name = saved_name
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


def _document_purpose(doc: Document) -> str:
    # Binds the bytes to this document: another document's file does not decrypt here.
    return f"debtors.document|{doc.pk}"


def _document_seal(doc: Document, data: bytes, subject: tuple[str, str]) -> bytes:
    return DOCUMENT_MARKER + blob_encrypt(
        data,
        workspace_id=doc.workspace_id,
        subject_type=subject[0],
        subject_id=subject[1],
        purpose=_document_purpose(doc),
    )


def document_content(doc: Document) -> bytes:
    """The document's bytes, decrypted (a file stored before documents were encrypted
    is returned as it is). Once the person's data key is shredded the content is
    gone: 404, like a document that does not exist."""
    with default_storage.open(doc.storage_name, "rb") as fh:
        stored = fh.read()
    if not stored.startswith(DOCUMENT_MARKER):
        return bytes(stored)
    try:
        return blob_decrypt(
            stored[len(DOCUMENT_MARKER) :], workspace_id=doc.workspace_id, purpose=_document_purpose(doc)
        )
    except keyring.SubjectKeyShredded as exc:
        raise Http404("This document was erased.") from exc


def document_sealed_key_id(doc: Document) -> str | None:
    """The id of the data key the document's file is encrypted under (None: a file
    stored before documents were encrypted; "": no file)."""
    try:
        with default_storage.open(doc.storage_name, "rb") as fh:
            head = fh.read(len(DOCUMENT_MARKER) + 36)
    except FileNotFoundError:
        return ""
    if not head.startswith(DOCUMENT_MARKER):
        return None
    return head[len(DOCUMENT_MARKER) :].decode().strip()


def document_file(doc: Document) -> IO[bytes]:
    """The document as a file to stream in a response (decrypted)."""
    return io.BytesIO(document_content(doc))


# --- Erasure (the plan is decided by privacy_requests from the registry) ----------------------

ERASABLE_RECORDS: tuple[type[models.Model], ...] = (Note, Document, Dispute)


def _document_reseal_file(doc: Document, subject: tuple[str, str]) -> bool:
    """Re-encrypt a kept document's file under ``subject``'s key (a new file; the old
    one is removed once the row points at the new one). False if already there."""
    try:
        with default_storage.open(doc.storage_name, "rb") as fh:
            stored = fh.read()
    except FileNotFoundError:
        return False  # nothing left to keep
    target_key_id = keyring.subject_key_for(doc.workspace_id, subject[0], subject[1])[0]
    if stored.startswith(DOCUMENT_MARKER):
        key_id = stored[len(DOCUMENT_MARKER) : len(DOCUMENT_MARKER) + 36].decode().strip()
        if key_id == target_key_id:
            return False
        try:
            data = blob_decrypt(
                stored[len(DOCUMENT_MARKER) :], workspace_id=doc.workspace_id, purpose=_document_purpose(doc)
            )
        except keyring.SubjectKeyShredded:
            return False  # already gone: nothing left to keep
    else:
        data = stored  # stored before documents were encrypted
    old_name = doc.storage_name
    doc.storage_name = default_storage.save(
        f"documents/{doc.workspace_id}/{secrets.token_hex(16)}.{ALLOWED_TYPES.get(doc.content_type, 'bin')}",
        ContentFile(_document_seal(doc, data, subject)),
    )
    transaction.on_commit(lambda: default_storage.delete(old_name))
    return True


def records_erase(
    *,
    workspace_id: int,
    debtor_id: Any,
    model: type[models.Model],
    delete: Iterable[Any] = (),
    fields: Mapping[Any, Mapping[str, FieldErasure]] | None = None,
    reason: str = "",
    actor: Actor = None,
) -> dict[str, int]:
    """Erase notes, documents or disputes of one debtor as privacy_requests decided:
    ``delete`` the rows (a document's file is removed from storage first), and apply
    ``fields`` ({row id: {field: FieldErasure}}) to others. Re-sealing a document's
    name re-seals its file too. Safe to repeat: rows already gone or already as
    wanted are not written. One audit event with the counts (no values)."""
    if model not in ERASABLE_RECORDS:
        raise ValueError(f"records_erase does not erase {model._meta.label}")
    by_id = {str(k): v for k, v in (fields or {}).items()}
    counts = {"deleted": 0, "changed": 0}
    changed_fields: set[str] = set()
    manager = model.objects.for_workspace(workspace_id)  # type: ignore[attr-defined]
    with transaction.atomic():
        for row in manager.filter(pk__in=list(delete), debtor_id=debtor_id).order_by("pk"):
            if isinstance(row, Document) and row.storage_name:
                default_storage.delete(row.storage_name)  # no error if it is already gone
            row.delete()
            counts["deleted"] += 1
        for row in manager.filter(pk__in=list(by_id), debtor_id=debtor_id).order_by("pk"):
            changed: list[str] = []
            for name, erasure in by_id[str(row.pk)].items():
                changed += field_erase(row, name, erasure)
                if (
                    isinstance(row, Document)
                    and erasure.action == "reseal"
                    and erasure.subject
                    and _document_reseal_file(row, erasure.subject)
                ):
                    changed.append("storage_name")
            if changed:
                row.save(update_fields=sorted(set(changed)))
                counts["changed"] += 1
                changed_fields.update(changed)
        if counts["deleted"] or counts["changed"]:
            audit_record(
                action=actions.PERSONAL_DATA_ERASED,
                workspace=workspace_id,
                object_type="debtors.debtor",
                object_id=str(debtor_id),
                actor_user_id=getattr(actor, "pk", None),
                metadata={
                    "model": model._meta.label_lower,
                    "deleted": counts["deleted"],
                    "changed": counts["changed"],
                    "fields": sorted(changed_fields),
                    "reason": reason[:200],
                },
            )
    return counts
