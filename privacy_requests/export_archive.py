"""Building, storing and expiring the person's copy of their data (GDPR Art. 15 and
20). The archive is made from the personal-data registry alone: every declared
field of every row whose subject is this person, and nothing else — so a field
declared tomorrow is in tomorrow's copies without a line changed here.

The ZIP holds:

- ``data/<app_label.model>.json``: one file per record type, a list of
  ``{"id": …, "<category>": {"<field>": value, …}}`` (decrypted values, ISO dates);
- ``csv/<app_label.model>.csv``: the same, one row per record (spreadsheet formulas
  neutralised);
- ``summary.html``: what Art. 15 requires, in words (purposes and legal bases,
  categories, recipients, retention, the source, transfers and safeguards, rights
  and how to complain).

It is encrypted under the *workspace's* data key (``kernel.crypto.blobs``): the
person's key may be shredded by an erasure while the file must still be deletable
and its deletion auditable. Once stored, the person is emailed that it is ready
and where to fetch it (``notices``). Queueing and downloading are in ``exports.py``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import logging
import secrets
import zipfile
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import models, transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.jurisdictions import Jurisdiction
from accounts.models import Workspace
from audit import actions
from audit.services import audit_record
from consent.models import Disclosure, SubProcessor
from debtors.models import Debt, DebtParty
from kernel.crypto import keyring
from kernel.crypto.blobs import blob_encrypt
from kernel.crypto.fields import DecryptionError
from kernel.models import uuid7
from kernel.privacy.registry import Basis, Category, Declaration, declaration_for, rows_for_subject
from kernel.tenancy import workspace_context
from privacy_requests import notices, services
from privacy_requests.models import (
    CLOSED_STATUSES,
    FileKind,
    PrivacyRequest,
    RequestFile,
    RequestStatus,
    RequestType,
)

logger = logging.getLogger(__name__)

EXPORT_KEEP = timedelta(days=7)
EXPORT_TYPES = frozenset({RequestType.ACCESS, RequestType.PORTABILITY})
# Security credentials (password hashes, two-factor secrets) are listed as held but
# not copied out: a copy of them would help whoever intercepts the archive, not the
# person (the right of access does not reach a credential's secret value).
WITHHELD = "[withheld: a security credential]"
ERASED = "[erased]"

# Where to complain, per jurisdiction profile (shown in the summary).
AUTHORITIES: dict[str, str] = {
    Jurisdiction.IN: (
        "the Data Protection Board of India (Digital Personal Data Protection Act 2023, s.27), "
        "after first raising your grievance with us (s.13)"
    ),
    Jurisdiction.ZA: "the Information Regulator (South Africa), inforegulator.org.za (POPIA s.74)",
    Jurisdiction.EU: (
        "the data protection supervisory authority of the EU country where you live, work or where the "
        "infringement took place (GDPR Art. 77); the list is at edpb.europa.eu"
    ),
    Jurisdiction.UK: "the Information Commissioner's Office (ICO), ico.org.uk (UK GDPR Art. 77)",
    Jurisdiction.US: (
        "the Consumer Financial Protection Bureau, consumerfinance.gov/complaint (debt collection), "
        "or your state's attorney general or privacy agency (e.g. the California Privacy Protection Agency)"
    ),
}
RIGHTS: tuple[str, ...] = (
    "to get a copy of your data and to know how it is used (access)",
    "to receive it in a machine-readable format and have it sent to someone else (portability)",
    "to have wrong or incomplete data corrected (rectification)",
    "to have your data erased where the law does not require us to keep it (erasure)",
    "to restrict or object to its use, including to being contacted (restriction, objection)",
    "to withdraw any consent you gave, at any time, without affecting what was done before",
    "to complain to us and to a supervisory authority",
)
RIGHTS_EXTRA: dict[str, tuple[str, ...]] = {
    Jurisdiction.IN: ("to nominate someone to exercise your rights if you die or cannot (DPDP Act s.14)",),
}


# --- Reading the person's rows from the registry ------------------------------------


@dataclass
class RecordType:
    """The rows of one model about the person, as they go into the archive."""

    label: str  # app_label.model, the file name
    declaration: Declaration
    records: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.declaration.model._meta.verbose_name).capitalize()


def _plain(value: Any) -> Any:
    """A JSON-safe form of a field value: ISO dates, strings for ids and decimals."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
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
    if isinstance(value, models.Model):
        return str(value.pk)
    return str(value)


def _field_value(instance: models.Model, name: str, category: str) -> Any:
    if category == Category.AUTHENTICATION:
        return WITHHELD
    try:
        return _plain(getattr(instance, name))
    except (DecryptionError, keyring.SubjectKeyShredded):
        return ERASED  # the person's key was shredded: nothing of it can be read


def _about(instance: models.Model, subject_type: str) -> bool:
    """A row that says itself whose it is (a ``subject_type`` column, as consent
    records do) must name this kind of person: an id is unique only within a kind."""
    own = instance.__dict__.get("subject_type")
    return own is None or own == subject_type


def person_records(*, subject_type: str, subject_id: object, workspace: Workspace | None) -> list[RecordType]:
    """Every row and declared field held about one person (``rows_for_subject``),
    grouped by record type, values decrypted, keyed by registry category."""
    by_label: dict[str, RecordType] = {}
    for row in rows_for_subject(subject_type=subject_type, subject_id=subject_id, workspace=workspace):
        if not _about(row.instance, subject_type):
            continue
        label = row.model._meta.label_lower
        record_type = by_label.get(label)
        if record_type is None:
            declaration = declaration_for(row.model)
            assert declaration is not None  # rows_for_subject yields declared models only
            record_type = by_label[label] = RecordType(label, declaration)
        record: dict[str, Any] = {"id": str(row.instance.pk)}
        for name, pd in row.fields.items():
            record.setdefault(str(pd.category), {})[name] = _field_value(row.instance, name, pd.category)
        record_type.records.append(record)
    return sorted(by_label.values(), key=lambda rt: rt.label)


# --- The files in the archive --------------------------------------------------------


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value  # a spreadsheet would run it as a formula (CSV injection)
    return value


def records_csv(record_type: RecordType) -> str:
    fields = [(str(pd.category), name) for name, pd in record_type.declaration.fields.items()]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", *(name for _, name in fields)])
    for record in record_type.records:
        writer.writerow([record["id"], *(_csv_cell(record.get(category, {}).get(name)) for category, name in fields)])
    return out.getvalue()


def _debt_sources(workspace: Workspace, debtor_id: object) -> list[dict[str, Any]]:
    """Which client placed each debt the person is a party to (the source, Art. 15(1)(g))."""
    rows = []
    debts = Debt.objects.for_workspace(workspace).filter(debtor_id=debtor_id).select_related("client")
    for debt in debts.order_by("created_at"):
        rows.append({"debt": debt, "role": "Debtor"})
    parties = DebtParty.objects.for_workspace(workspace).filter(debtor_id=debtor_id).select_related("debt__client")
    for party in parties.order_by("debt__created_at"):
        rows.append({"debt": party.debt, "role": party.get_role_display()})
    return [
        {
            "client": row["debt"].client.name,
            "reference": row["debt"].reference,
            "original_creditor": row["debt"].original_creditor,
            "placed_at": row["debt"].created_at,
            "role": row["role"],
        }
        for row in rows
    ]


def _categories(record_types: list[RecordType]) -> list[dict[str, Any]]:
    """Per category held: which fields, why, on what basis, and how long each is kept."""
    out: dict[str, dict[str, Any]] = {}
    for rt in record_types:
        for name, pd in rt.declaration.fields.items():
            entry = out.setdefault(
                str(pd.category),
                {"label": Category(pd.category).label, "fields": [], "purposes": {}, "bases": {}, "retention": {}},
            )
            what = f"{rt.name}: {name.replace('_', ' ')}"
            entry["fields"].append(what)
            entry["purposes"][rt.declaration.purpose] = None
            entry["bases"][Basis(pd.basis).label] = None
            entry["retention"].setdefault(str(pd.retention), []).append(what)
    return [
        {
            **entry,
            "purposes": list(entry["purposes"]),
            "bases": list(entry["bases"]),
            "retention": [{"rule": rule, "fields": fields} for rule, fields in entry["retention"].items()],
        }
        for entry in out.values()
    ]


def summary_html(
    *, request: PrivacyRequest, workspace: Workspace, record_types: list[RecordType], now: datetime
) -> str:
    disclosures = (
        list(Disclosure.objects.for_workspace(workspace).filter(debtor_id=request.debtor_id).order_by("disclosed_at"))
        if request.debtor_id
        else []
    )
    sub_processors = list(SubProcessor.objects.all())
    try:
        new_request_url = reverse("privacy_request_new", kwargs={"workspace_slug": workspace.slug})
    except NoReverseMatch:  # the public pages are not installed
        new_request_url = ""
    return render_to_string(
        "privacy_requests/export_summary.html",
        {
            "request": request,
            "workspace": workspace,
            "generated_at": now,
            "record_types": record_types,
            "categories": _categories(record_types),
            "declared_recipients": sorted({r for rt in record_types for r in rt.declaration.recipients}),
            "disclosures": disclosures,
            "sub_processors": sub_processors,
            "transfers": [sp for sp in sub_processors if sp.region or sp.transfer_safeguard],
            "sources": _debt_sources(workspace, request.debtor_id) if request.debtor_id else [],
            "contact": services.privacy_contact_for(workspace),
            "authority": AUTHORITIES.get(workspace.jurisdiction, ""),
            "rights": RIGHTS + RIGHTS_EXTRA.get(workspace.jurisdiction, ()),
            "new_request_url": new_request_url,
        },
    )


def archive_bytes(*, request: PrivacyRequest, workspace: Workspace, now: datetime) -> tuple[bytes, dict[str, int]]:
    """The ZIP (plaintext) and how many records of each type it holds."""
    subject_type, subject_id = subject_of(request)
    record_types = person_records(subject_type=subject_type, subject_id=subject_id, workspace=workspace)
    buffer = io.BytesIO()
    stamp = now.astimezone(zoneinfo.ZoneInfo(workspace.timezone)).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:

        def add(name: str, text: str) -> None:
            archive.writestr(zipfile.ZipInfo(name, date_time=stamp), text.encode(), compress_type=zipfile.ZIP_DEFLATED)

        add("summary.html", summary_html(request=request, workspace=workspace, record_types=record_types, now=now))
        for rt in record_types:
            add(f"data/{rt.label}.json", json.dumps(rt.records, indent=2, ensure_ascii=False) + "\n")
            add(f"csv/{rt.label}.csv", records_csv(rt))
    return buffer.getvalue(), {rt.label: len(rt.records) for rt in record_types}


def subject_of(request: PrivacyRequest) -> tuple[str, object]:
    """(registry subject type, id) of the person a request is about."""
    if request.debtor_id is not None:
        return "debtor", request.debtor_id
    if request.user_id is not None:
        return "user", request.user_id
    raise ValidationError({"request": "The request is not matched to a person yet: there is nothing to copy."})


# --- Storing, finding, expiring ------------------------------------------------------


def file_purpose(file: RequestFile) -> str:
    """What the encrypted blob is bound to: this file and no other."""
    return f"privacy_requests.requestfile|{file.pk}"


def latest_export(*, request: PrivacyRequest) -> RequestFile | None:
    """The request's current copy: built, not deleted, not past its expiry."""
    return (
        RequestFile.objects.for_workspace(request.workspace_id)
        .filter(request_id=request.pk, kind=FileKind.EXPORT, deleted_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
        .first()
    )


def export_build(*, request: PrivacyRequest) -> RequestFile:
    """Build, encrypt and store the copy for an access or portability request that
    is verified or in progress. Idempotent: a request whose copy exists gets that
    one back. The request moves to in progress and stays there until the copy is
    downloaded. A restricted person is still copied: the copy is what they asked for."""
    workspace = Workspace.objects.get(pk=request.workspace_id)
    with workspace_context(workspace):
        request = PrivacyRequest.objects.for_workspace(workspace).select_for_update().get(pk=request.pk)
        existing = latest_export(request=request)
        if existing is not None:
            return existing
        if request.type not in EXPORT_TYPES:
            raise ValidationError({"type": "Only access and portability requests get a copy of the data."})
        if request.status in CLOSED_STATUSES:
            raise ValidationError({"status": "The request is closed."})
        if request.status not in (RequestStatus.VERIFIED, RequestStatus.IN_PROGRESS):
            raise ValidationError({"status": "The requester's identity is not verified yet."})
        if request.status == RequestStatus.VERIFIED:
            request = services.privacy_request_transition(
                request=request, to=RequestStatus.IN_PROGRESS, actor_label="system", reason="Building the copy"
            )
        now = timezone.now()
        plaintext, counts = archive_bytes(request=request, workspace=workspace, now=now)
        file = RequestFile(
            pk=uuid7(),
            workspace=workspace,
            request=request,
            kind=FileKind.EXPORT,
            size_bytes=len(plaintext),
            sha256=hashlib.sha256(plaintext).hexdigest(),
            created_at=now,
            expires_at=now + EXPORT_KEEP,
        )
        blob = blob_encrypt(
            plaintext, workspace_id=workspace.pk, subject_type="workspace", subject_id=str(workspace.pk),
            purpose=file_purpose(file),
        )  # fmt: skip
        file.storage_name = default_storage.save(
            f"privacy-requests/{workspace.pk}/{secrets.token_hex(16)}.bin", ContentFile(blob)
        )
        try:
            file.save(force_insert=True)
            audit_record(
                action=actions.PRIVACY_REQUEST_EXPORT_BUILT,
                workspace=workspace,
                obj=file,
                metadata={"request": str(request.pk), "records": sum(counts.values()), **counts},
            )
            services.privacy_request_note(
                request=request,
                kind="export_built",
                actor_label="system",
                reason=f"Copy built: {sum(counts.values())} records of {len(counts)} kinds; "
                f"kept until {file.expires_at:%Y-%m-%d %H:%M} UTC",
            )
            # A request taken by phone or relayed by a client has no browser waiting for
            # the copy: the person is told where to fetch it (sent once this commits).
            notices.requester_notify(request=request, kind=notices.COPY_READY, expires_at=file.expires_at)
        except BaseException:
            default_storage.delete(file.storage_name)
            raise
    return file


def exports_expire(*, workspace: Workspace, now: datetime | None = None) -> int:
    """Delete copies past their expiry (7 days): the file from storage, then the row
    marked deleted, audited, noted on the request's timeline. Idempotent; a file
    that cannot be deleted now is tried again on the next run."""
    now = now or timezone.now()
    deleted = 0
    with workspace_context(workspace):
        due = list(
            RequestFile.objects.for_workspace(workspace)
            .filter(kind=FileKind.EXPORT, deleted_at__isnull=True, expires_at__lte=now)
            .select_related("request")
        )
        for file in due:
            try:
                if file.storage_name:
                    default_storage.delete(file.storage_name)
            except OSError:
                logger.exception("request file %s: could not delete it; will retry", file.pk)
                continue
            with transaction.atomic():
                claimed = (
                    RequestFile.objects.for_workspace(workspace)
                    .filter(pk=file.pk, deleted_at__isnull=True)
                    .update(deleted_at=now, download_token_hash="", download_token_expires_at=None)
                )
                if not claimed:
                    continue  # another run got it first
                audit_record(
                    action=actions.PRIVACY_REQUEST_EXPORT_DELETED,
                    workspace=workspace,
                    obj=file,
                    metadata={
                        "request": str(file.request_id),
                        "reason": "expired",
                        "downloaded": bool(file.downloaded_at),
                    },
                )
                services.privacy_request_note(
                    request=file.request, kind="export_deleted", actor_label="system", reason="Copy deleted (expired)"
                )
            deleted += 1
    return deleted
