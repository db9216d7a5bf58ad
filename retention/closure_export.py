"""The full export of a closing workspace: every row it holds, as CSV and JSON, with
the documents' files, in one ZIP, encrypted at rest and downloadable by an owner.

What goes in is found, not listed: every tenant table (``kernel.models.TenantModel``)
of every installed app, so a table added tomorrow is in tomorrow's exports (the data
keys themselves excepted), plus the workspace's audit trail. Each table gives
``data/<app_label.model>.json`` (a list of rows) and ``csv/<app_label.model>.csv``;
encrypted values are decrypted (a person erased earlier reads ``[erased]``); secrets
that would let someone act as the workspace or the person (hashes of API keys,
tokens and codes, blind indexes, payment-link tokens) are withheld. Members come with
their email address and name. ``documents/<id>/<name>`` holds each document's file,
``manifest.json`` the counts and ``README.txt`` says what is what.

The ZIP is written as a stream into a file of encrypted frames (no plaintext reaches
the disk): each frame is ``AES-GCM`` under the workspace's data key
(``kernel.crypto.blobs``), bound to the export, its position and whether it is the
last (a truncated or reordered file does not decrypt). The file's manifest (counts,
size, checksum, dates; nothing of anyone's) is stored beside it as JSON, so no table
is needed. An export lives ``WORKSPACE_EXPORTS`` (30 days) after it is built and
never past the workspace's own purge: the store ``retention.closure_exports`` deletes
it (retention/stores.py).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import logging
import re
import tempfile
import zipfile
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import IO, Any
from uuid import UUID

from django.apps import apps
from django.core.cache import cache
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import models
from django.http import Http404
from django.utils import timezone

from accounts.models import Membership, Workspace
from audit import actions
from audit.models import AuditEvent
from audit.services import record_personal_data_access
from debtors.models import Document
from debtors.services.records import document_content
from kernel.crypto import keyring
from kernel.crypto.blobs import blob_decrypt, blob_encrypt
from kernel.crypto.fields import DecryptionError
from kernel.models import TenantModel, uuid7
from kernel.privacy.registry import Retention, declaration_for
from kernel.retention import period_days
from kernel.tenancy import workspace_context

logger = logging.getLogger(__name__)

WORKSPACE_EXPORTS = Retention(
    30,
    "the export is built",
    "CollectPro's closure terms: the owner's copy is kept 30 days, and never past the workspace's own purge",
    name="WORKSPACE_EXPORTS",
)
EXPORT_DIR = "closure-exports"
MAGIC = b"CPX1"
FRAME_BYTES = 4 * 1024 * 1024  # plaintext per encrypted frame
ROW_CHUNK = 2000

# The data keys are not data: a copy of them would decrypt nothing outside CollectPro.
SKIPPED_TABLES = frozenset({"collectpro.workspacekey", "collectpro.subjectkey"})
# Tables first in the archive (what an agency looks for), then the rest by name.
FIRST = (
    "accounts.client",
    "accounts.membership",
    "debtors.debtor",
    "debtors.debtorcontact",
    "debtors.debt",
    "debtors.debtparty",
    "debtors.ledgerentry",
    "debtors.paymentplan",
    "debtors.installment",
    "debtors.promisetopay",
    "debtors.settlementoffer",
    "debtors.dispute",
    "debtors.note",
    "debtors.document",
    "debtors.legalhold",
)
AUDIT_LABEL = "audit.auditevent"
WITHHELD_NAMES = frozenset({"token", "wrapped_key"})
WITHHELD_SUFFIXES = ("_hash", "_bidx")
UNREADABLE = "[unreadable]"
# A build queued in the last half hour is not queued again (a page that polls, a double click).
QUEUE_GUARD_SECONDS = 30 * 60


def _withheld(field: models.Field[Any, Any]) -> bool:
    return field.name in WITHHELD_NAMES or field.name.endswith(WITHHELD_SUFFIXES)


@dataclass(frozen=True)
class Table:
    """One table as it goes into the archive."""

    label: str
    model: type[models.Model]
    columns: tuple[str, ...]  # attnames, without ``workspace``
    withheld: tuple[str, ...]

    def rows(self, workspace: Workspace) -> models.QuerySet[Any]:
        if self.label == AUDIT_LABEL:
            return AuditEvent.unscoped.filter(workspace_id=workspace.pk).order_by("seq")
        qs = self.model.objects.for_workspace(workspace)  # type: ignore[attr-defined]
        if self.model is Membership:
            qs = qs.select_related("user")
        return qs.order_by("pk")  # type: ignore[no-any-return]


def _table(model: type[models.Model]) -> Table:
    columns: list[str] = []
    withheld: list[str] = []
    for field in model._meta.concrete_fields:
        if field.name == "workspace":
            continue
        (withheld if _withheld(field) else columns).append(field.attname)
    if model is Membership:
        columns += ["user_email", "user_name"]
    return Table(model._meta.label_lower, model, tuple(columns), tuple(withheld))


def export_tables() -> list[Table]:
    """Every tenant table (but the data keys), the important ones first, then the
    audit trail."""
    found = {
        m._meta.label_lower: m
        for m in apps.get_models()
        if issubclass(m, TenantModel) and not m._meta.proxy and m._meta.label_lower not in SKIPPED_TABLES
    }
    order = [label for label in FIRST if label in found] + sorted(set(found) - set(FIRST))
    return [_table(found[label]) for label in order] + [_table(AuditEvent)]


def _plain(value: Any) -> Any:
    """A JSON-safe form of a value: ISO dates, strings for ids and decimals."""
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return str(value)


def _row(table: Table, instance: models.Model) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for name in table.columns:
        if name == "user_email":
            row[name] = instance.user.email  # type: ignore[attr-defined]
        elif name == "user_name":
            row[name] = instance.user.full_name  # type: ignore[attr-defined]
        else:
            try:
                row[name] = _plain(getattr(instance, name))
            except (DecryptionError, keyring.SubjectKeyShredded):
                row[name] = UNREADABLE
    return row


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet would run it as a formula (CSV injection)
    return value


# --- The encrypted file -------------------------------------------------------------


def _frame_purpose(export_id: str, index: int, last: bool) -> str:
    return f"retention.closure_export|{export_id}|{index}|{'last' if last else 'more'}"


class SealedWriter:
    """A write-only file that encrypts what is written in frames of ``FRAME_BYTES``
    into ``out`` (``zipfile`` writes a ZIP to it as a stream) and hashes the plaintext."""

    def __init__(self, out: IO[bytes], *, workspace_id: int, export_id: str):
        self.out, self.workspace_id, self.export_id = out, workspace_id, export_id
        self.buffer = bytearray()
        self.index = 0
        self.size = 0
        self.digest = hashlib.sha256()
        self.out.write(MAGIC)

    def write(self, data: bytes) -> int:
        self.buffer += data
        self.size += len(data)
        self.digest.update(data)
        while len(self.buffer) > FRAME_BYTES:
            self._emit(bytes(self.buffer[:FRAME_BYTES]), last=False)
            del self.buffer[:FRAME_BYTES]
        return len(data)

    def flush(self) -> None:
        """Frames are written when full; ``finish`` writes the last."""

    def close(self) -> None:
        """``zipfile`` does not close a file it was given; ``finish`` ends the stream."""

    def finish(self) -> None:
        self._emit(bytes(self.buffer), last=True)
        self.buffer.clear()

    def _emit(self, chunk: bytes, *, last: bool) -> None:
        sealed = blob_encrypt(
            chunk,
            workspace_id=self.workspace_id,
            subject_type="workspace",
            subject_id=str(self.workspace_id),
            purpose=_frame_purpose(self.export_id, self.index, last),
        )
        self.out.write(len(sealed).to_bytes(8, "big") + sealed)
        self.index += 1


def _frames(fh: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """The sealed frames of a stored export, each with whether it is the last."""
    if fh.read(len(MAGIC)) != MAGIC:
        raise ValueError("not a closure export")
    pending: bytes | None = None
    while head := fh.read(8):
        size = int.from_bytes(head, "big")
        blob = fh.read(size)
        if len(blob) != size:
            raise ValueError("the export file is truncated")
        if pending is not None:
            yield pending, False
        pending = blob
    if pending is None:
        raise ValueError("the export file is empty")
    yield pending, True


# --- Writing the archive -------------------------------------------------------------


def _safe_name(name: str) -> str:
    name = re.sub(r"[\x00-\x1f/\\:*?\"<>|]+", "_", name).strip(" .") or "file"
    return name[-100:]


class _Archive:
    def __init__(self, archive: zipfile.ZipFile, stamp: tuple[int, int, int, int, int, int]):
        self.archive, self.stamp = archive, stamp

    def open(self, name: str) -> IO[bytes]:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        return self.archive.open(info, "w", force_zip64=True)

    def text(self, name: str, write: Callable[[IO[str]], int]) -> int:
        with self.open(name) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as out:
            return write(out)


def _write_json(table: Table, workspace: Workspace) -> Callable[[IO[str]], int]:
    def write(out: IO[str]) -> int:
        count = 0
        out.write("[")
        for instance in table.rows(workspace).iterator(chunk_size=ROW_CHUNK):
            out.write(",\n" if count else "\n")
            out.write(json.dumps(_row(table, instance), ensure_ascii=False, sort_keys=False))
            count += 1
        out.write("\n]\n" if count else "]\n")
        return count

    return write


def _write_csv(table: Table, workspace: Workspace) -> Callable[[IO[str]], int]:
    def write(out: IO[str]) -> int:
        writer = csv.writer(out)
        writer.writerow(table.columns)
        count = 0
        for instance in table.rows(workspace).iterator(chunk_size=ROW_CHUNK):
            row = _row(table, instance)
            writer.writerow([_csv_cell(row[c]) for c in table.columns])
            count += 1
        return count

    return write


def _write_documents(zipped: _Archive, workspace: Workspace) -> tuple[int, list[str]]:
    """Each document's file, decrypted; those whose person was erased (or whose file
    is gone) are listed as missing."""
    written, missing = 0, []
    for doc in Document.objects.for_workspace(workspace).order_by("pk").iterator(chunk_size=200):
        try:
            content = document_content(doc)
        except (Http404, FileNotFoundError, keyring.SubjectKeyShredded):
            missing.append(str(doc.pk))
            continue
        name = str(doc.original_name) if doc.original_name else "file"
        with zipped.open(f"documents/{doc.pk}/{_safe_name(name)}") as out:
            out.write(content)
        written += 1
    return written, missing


README = """Full export of the workspace {name} ({slug}) from CollectPro
Built {built} (UTC).

data/<table>.json   every row of each table, as a list of objects (dates in ISO 8601, UTC)
csv/<table>.csv     the same rows as CSV (cells starting with = + - @ are prefixed with ')
documents/<id>/     the file of each document (debtors.document), decrypted
manifest.json       how many rows each file holds, and what was left out

Values of people whose data was erased earlier read "[erased]". Left out on purpose:
hashes of API keys, tokens and codes, blind indexes and payment-link tokens (they would
let someone act as the workspace or the person and are of no use outside CollectPro),
and the data keys. The audit trail (data/audit.auditevent.json) holds every hashed field,
so its chain can be checked outside CollectPro.

This file holds personal data: keep it encrypted and delete it when you no longer need it.
"""


@dataclass(frozen=True)
class ExportFile:
    """A stored export, as its manifest describes it."""

    id: str
    created_at: datetime
    expires_at: datetime
    size_bytes: int
    sha256: str
    storage_name: str
    counts: dict[str, int]
    documents: int

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    @property
    def manifest_name(self) -> str:
        return manifest_name(self.storage_name)

    def expired(self, now: datetime) -> bool:
        return self.expires_at <= now


def manifest_name(storage_name: str) -> str:
    return storage_name.rsplit(".", 1)[0] + ".json"


def _directory(workspace_id: int) -> str:
    return f"{EXPORT_DIR}/{workspace_id}"


def export_expires_at(*, workspace: Workspace, created_at: datetime) -> datetime:
    """``WORKSPACE_EXPORTS`` after it is built, and never past the workspace's purge."""
    until = created_at + timedelta(days=period_days(workspace, WORKSPACE_EXPORTS))
    if workspace.purge_after is not None:
        until = min(until, workspace.purge_after)
    return until


def workspace_export_build(*, workspace: Workspace, now: datetime | None = None) -> ExportFile:
    """Build, encrypt and store a full export of ``workspace`` (see the module
    docstring), audited as a personal-data export. Only a closed workspace is
    exported: the export is what its owner takes away."""
    from_db = Workspace.objects.get(pk=workspace.pk)  # the closure may have changed since it was queued
    if not from_db.is_closed or from_db.purged_at is not None:
        raise ValueError(f"workspace {workspace.pk} is not closed (or already purged): nothing to export")
    workspace = from_db
    now = now or timezone.now()
    export_id = uuid7().hex
    counts: dict[str, int] = {}
    tables = export_tables()
    with tempfile.TemporaryFile() as sealed, workspace_context(workspace):
        writer = SealedWriter(sealed, workspace_id=workspace.pk, export_id=export_id)
        stamp = now.astimezone(zoneinfo.ZoneInfo(workspace.timezone)).timetuple()[:6]
        with zipfile.ZipFile(writer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            zipped = _Archive(archive, stamp)
            for table in tables:
                counts[table.label] = zipped.text(f"data/{table.label}.json", _write_json(table, workspace))
                zipped.text(f"csv/{table.label}.csv", _write_csv(table, workspace))
            documents, missing = _write_documents(zipped, workspace)
            manifest = {
                "workspace": workspace.slug,
                "built_at": now.isoformat(),
                "files": {f"data/{label}.json": n for label, n in counts.items()},
                "documents": documents,
                "documents_missing": missing,
                "withheld": {t.label: list(t.withheld) for t in tables if t.withheld},
            }
            zipped.text("manifest.json", lambda out: out.write(json.dumps(manifest, indent=2) + "\n"))
            zipped.text(
                "README.txt", lambda out: out.write(README.format(name=workspace.name, slug=workspace.slug, built=now))
            )
        writer.finish()
        sealed.seek(0)
        storage_name = default_storage.save(f"{_directory(workspace.pk)}/{export_id}.bin", File(sealed))
        export = ExportFile(
            id=export_id,
            created_at=now,
            expires_at=export_expires_at(workspace=workspace, created_at=now),
            size_bytes=writer.size,
            sha256=writer.digest.hexdigest(),
            storage_name=storage_name,
            counts=counts,
            documents=documents,
        )
        try:
            _audit_built(workspace, export, tables)
            default_storage.save(manifest_name(storage_name), io.BytesIO(_manifest_bytes(export)))
        except BaseException:
            default_storage.delete(storage_name)
            raise
    return export


def export_queued_key(workspace_id: int) -> str:
    return f"closure-export-queued:{workspace_id}"


def workspace_export_run(*, workspace: Workspace) -> str:
    """What the worker does: build the export unless the closure was cancelled (or
    the workspace purged) meanwhile, then let a new build be queued. The export's
    id, or "" when there was nothing to build."""
    try:
        current = Workspace.objects.get(pk=workspace.pk)
        if not current.is_closed or current.purged_at is not None:
            return ""
        return workspace_export_build(workspace=current).id
    finally:
        cache.delete(export_queued_key(workspace.pk))


def _audit_built(workspace: Workspace, export: ExportFile, tables: list[Table]) -> None:
    fields = sorted(
        f"{t.label}.{name}"
        for t in tables
        if (decl := declaration_for(t.model)) is not None
        for name in decl.fields
        if name not in t.withheld
    )
    record_personal_data_access(
        subject=workspace,
        fields=fields,
        purpose=f"full export of the closed workspace (export {export.id}, {export.records} records)",
        kind=actions.PERSONAL_DATA_EXPORT,
        workspace=workspace,
    )


def _manifest_bytes(export: ExportFile) -> bytes:
    return json.dumps(
        {
            "id": export.id,
            "created_at": export.created_at.isoformat(),
            "expires_at": export.expires_at.isoformat(),
            "size_bytes": export.size_bytes,
            "sha256": export.sha256,
            "storage_name": export.storage_name,
            "counts": export.counts,
            "documents": export.documents,
        },
        indent=2,
    ).encode()


# --- Finding, reading, deleting ------------------------------------------------------------


def _read_manifest(name: str) -> ExportFile | None:
    try:
        with default_storage.open(name, "rb") as fh:
            data = json.loads(fh.read())
        return ExportFile(
            id=str(data["id"]),
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            size_bytes=int(data["size_bytes"]),
            sha256=str(data["sha256"]),
            storage_name=str(data["storage_name"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            documents=int(data["documents"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        logger.exception("closure export manifest %s is unreadable", name)
        return None


def exports_list(*, workspace_id: int) -> list[ExportFile]:
    """The workspace's stored exports, newest first (expired ones too, until the
    store deletes them)."""
    try:
        _dirs, files = default_storage.listdir(_directory(workspace_id))
    except FileNotFoundError:
        return []
    found = [_read_manifest(f"{_directory(workspace_id)}/{name}") for name in files if name.endswith(".json")]
    return sorted((e for e in found if e is not None), key=lambda e: e.id, reverse=True)


def export_latest(*, workspace: Workspace, now: datetime | None = None) -> ExportFile | None:
    """The newest export that has not expired."""
    now = now or timezone.now()
    return next((e for e in exports_list(workspace_id=workspace.pk) if not e.expired(now)), None)


def export_delete(*, workspace_id: int, export: ExportFile) -> bool:
    """Delete an export's file and then its manifest; False if it was already gone."""
    existed = default_storage.exists(export.manifest_name)
    default_storage.delete(export.storage_name)
    default_storage.delete(export.manifest_name)
    return existed


def export_stream(*, workspace: Workspace, export: ExportFile) -> Iterator[bytes]:
    """The ZIP, decrypted a frame at a time (each frame in the workspace's context:
    the response is streamed after the request's transaction has ended)."""
    with default_storage.open(export.storage_name, "rb") as fh:
        for index, (blob, last) in enumerate(_frames(fh)):
            with workspace_context(workspace):
                yield blob_decrypt(blob, workspace_id=workspace.pk, purpose=_frame_purpose(export.id, index, last))
