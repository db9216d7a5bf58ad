"""Placement imports: a creditor's CSV of debtors and debts, upserted in chunks.

Columns (names are matched case-insensitively; ``header_map`` = {our column: their
column} lets other names through): ``external_ref, full_name, email, phone,
address, date_of_birth, national_id, debt_reference, amount, currency, due_date,
client_ref``. ``full_name``, ``debt_reference`` and ``amount`` are required;
``client_ref`` too unless the import names a client; ``currency`` defaults to the
workspace's. Dates are ISO ``YYYY-MM-DD`` only (``01/02/2025`` means different days
in different jurisdictions). Amounts are decimal strings in major units.

The rules this module enforces:

* The file is streamed (``csv.reader`` over the stored upload) and processed in
  chunks; each chunk is one transaction, so a row is never half-written, and the
  job's counts are updated with it (that is the progress the UI polls). Memory
  stays flat: rows already seen are remembered in a temporary database table, and
  rejected rows go to a temporary file that becomes the rejects CSV.
* A row that fails validation is rejected with its line number and a reason (on
  the job, in the rejects CSV: ``line, reason, <original columns>``); valid rows
  are imported. With ``strict`` nothing is imported if any row is invalid.
* Upsert: a debt is matched by (client, debt_reference), a debtor by
  ``external_ref`` within the workspace (a row without one gets a new debtor unless
  its debt exists). Importing the same file again creates nothing: rows are
  ``unchanged``, or ``updated`` when a non-money field changed (a due date, a new
  phone). Money is never changed silently: a different amount for an existing
  debt is rejected ("post an adjustment instead").
* A new debt is written with its opening CHARGE entry and its balance in the same
  transaction (balance == sum of the ledger), as ``debt_create`` does; a debtor
  under 18 puts the debt ON_HOLD. One audit event per import, not per row.
* On PostgreSQL, rows are inserted through COPY into temporary staging tables and
  set-based ``INSERT … SELECT`` (``placements.imports_pg``); elsewhere with
  ``bulk_create``. Everything before the insert is the same code.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import secrets
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpResponse
from django.utils import timezone

from accounts.models import Client, Workspace
from accounts.types import Actor, actor_user
from audit import actions
from audit.services import audit_record, record_personal_data_access
from kernel.privacy.registry import Retention
from kernel.retention import period_days
from kernel.tenancy import workspace_context
from placements.import_header import COLUMNS, clean_header_map, header_positions, parse_header_map, read_header
from placements.import_plan import ChunkPlanner
from placements.import_rows import on_postgres
from placements.import_run import ImportRun, Progress
from placements.import_write import ChunkWriter
from placements.imports_pg import drop_staging
from placements.models import ImportStatus, PlacementImport

# The steps live in their own modules (import_rows: reading and preparing rows;
# import_plan: planning a chunk; import_write: writing it; import_run: running a
# job); these names are this module's surface for callers and tests.
__all__ = [
    "COLUMNS",
    "ChunkPlanner",
    "ChunkWriter",
    "clean_header_map",
    "generate_placements_csv",
    "header_positions",
    "parse_header_map",
    "placement_import_create",
    "placement_import_enqueue",
    "placement_import_execute",
    "placement_import_rejects",
    "placement_rejects_delete",
    "placement_rejects_due",
    "placement_rejects_purge",
    "placement_uploads_due",
    "placement_uploads_expire",
    "rejects_download",
]

logger = logging.getLogger(__name__)

# Rows per transaction. PostgreSQL's COPY path likes bigger chunks.
CHUNK_ROWS = {"postgresql": 5000}
DEFAULT_CHUNK_ROWS = 2000


def chunk_rows() -> int:
    return CHUNK_ROWS.get(connection.vendor, DEFAULT_CHUNK_ROWS)


# --- Creating and queueing a job ---------------------------------------------------


def placement_import_create(
    *,
    workspace: Workspace,
    file_obj: IO[Any],
    file_name: str,
    client: Client | None = None,
    strict: bool = False,
    header_map: dict[str, Any] | None = None,
    actor: Actor = None,
) -> PlacementImport:
    """Store an uploaded placement file (private storage, random name) and create a
    pending job for it. The header is checked now, so a file missing required
    columns is refused at once and nothing is stored. Queue the job with
    ``placement_import_enqueue`` (or run it with ``placement_import_execute``)."""
    if client is not None and client.workspace_id != workspace.pk:
        raise ValidationError({"client": "No such client."})
    mapping = clean_header_map(header_map)
    header_positions(read_header(file_obj), mapping, has_client=client is not None)
    storage_name = default_storage.save(f"imports/{workspace.pk}/{secrets.token_hex(16)}.csv", File(file_obj))
    try:
        with workspace_context(workspace):
            job = PlacementImport(
                workspace=workspace,
                client=client,
                file_name=(file_name or "placements.csv")[:200],
                storage_name=storage_name,
                strict=strict,
                header_map=mapping,
                created_by=actor_user(actor),
            )
            job.save(force_insert=True)
            audit_record(
                action=actions.PLACEMENT_UPLOADED,
                workspace=workspace,
                obj=job,
                actor_user_id=getattr(actor, "pk", None),
                metadata={"strict": strict, "client_id": str(client.pk) if client else None},
            )
    except BaseException:
        default_storage.delete(storage_name)
        raise
    return job


def placement_import_enqueue(job: PlacementImport) -> None:
    """Run the job on a worker once the transaction that created it commits."""
    from placements.tasks import placement_import_run  # the task runs this module: imported when used

    workspace_id, import_id = job.workspace_id, str(job.pk)
    transaction.on_commit(lambda: placement_import_run.delay(workspace_id, import_id))


def placement_import_rejects(job: PlacementImport, *, limit: int | None = None) -> Iterator[tuple[int, str]]:
    """(line, reason) of the job's rejected rows, read back from its rejects CSV."""
    if not job.rejects_storage_name:
        return
    with default_storage.open(job.rejects_storage_name, "rb") as fh:
        reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))
        next(reader, None)
        for count, row in enumerate(reader):
            if limit is not None and count >= limit:
                return
            yield int(row[0]), row[1]


def placement_import_execute(
    *, workspace: Workspace, import_id: Any, progress: Progress | None = None
) -> PlacementImport:
    """Run a pending import job to the end (safe to call twice: only a pending job is
    claimed, atomically; a running or finished one is returned as it is)."""
    with workspace_context(workspace):
        claimed = (
            PlacementImport.objects.for_workspace(workspace)
            .filter(pk=import_id, status=ImportStatus.PENDING)
            .update(status=ImportStatus.RUNNING, started_at=timezone.now())
        )
        job = PlacementImport.objects.for_workspace(workspace).get(pk=import_id)
    if not claimed:
        return job
    run = ImportRun(workspace, job, progress, chunk_size=chunk_rows())
    status, error = ImportStatus.DONE, ""
    try:
        run.run()
    except csv.Error as exc:
        status, error = ImportStatus.FAILED, f"line {run.line()}: the file is not valid CSV ({exc})"
    except ValidationError as exc:
        status, error = ImportStatus.FAILED, " ".join(exc.messages)
    except Exception as exc:
        logger.exception("placement import %s failed", job.pk)
        kept = "nothing was imported" if job.strict else "rows before it were imported"
        status, error = ImportStatus.FAILED, f"Unexpected error near line {run.line()} ({type(exc).__name__}); {kept}."
    return _finish(run, status, error[:500])


def _finish(run: ImportRun, status: str, error: str) -> PlacementImport:
    workspace, job = run.workspace, run.job
    rejects_name = ""
    if run.rejects is not None:
        rejects_name = run.rejects.store(workspace.pk)
        run.rejects.close()
    t = run.totals
    with workspace_context(workspace):
        run.seen.drop()
        if on_postgres():
            drop_staging()
        run.save_job(
            t,
            run.rejects.count if run.rejects else 0,
            status=status,
            error=error,
            finished_at=timezone.now(),
            rejects_storage_name=rejects_name,
        )
        job.refresh_from_db()
        audit_record(
            action=actions.PLACEMENT_IMPORTED,
            workspace=workspace,
            obj=job,
            actor_user_id=job.created_by_id,
            metadata={
                "status": status,
                "strict": job.strict,
                "rows": t.processed,
                "created": t.created,
                "updated": t.updated,
                "unchanged": t.unchanged,
                "rejected": job.rejected_count,
            },
        )
    # The upload holds every row in clear text; once imported it has no further use.
    default_storage.delete(job.storage_name)
    return job


# --- Test and benchmark data ---------------------------------------------------------

_FIRST = ("Asha", "Ravi", "Meera", "Arjun", "Priya", "Kiran", "Sunil", "Divya", "Rahul", "Neha", "Vikram", "Anita")
_LAST = ("Rao", "Sharma", "Iyer", "Patel", "Reddy", "Nair", "Gupta", "Das", "Singh", "Menon", "Joshi", "Kulkarni")


def generate_placements_csv(path: Any, rows: int, *, clients: list[str], seed: int = 0, currency: str = "INR") -> None:
    """Write a realistic placement file of ``rows`` rows (about one debtor in three
    has two debts). Deterministic for a given seed; every row is valid."""
    today = date(2026, 1, 1)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(rows):
            person = i - (1 if i % 3 == 2 else 0)  # rows 1 and 2 of each triple share a debtor
            rng = random.Random(seed * 1_000_003 + person)  # noqa: S311  (test data)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            born = today - timedelta(days=rng.randint(20 * 365, 70 * 365))
            amount = rng.randint(1_000, 50_000_000)
            due = today + timedelta(days=(i * 7) % 365)
            writer.writerow(
                [
                    f"CUST-{seed}-{person}",
                    f"{first} {last}",
                    f"{first}.{last}.{person}@example.com".lower(),
                    f"+91 9{rng.randint(100_000_000, 999_999_999)}",
                    f"{rng.randint(1, 999)} MG Road, Pune",
                    born.isoformat(),
                    f"{rng.choice('ABCDE')}{rng.randint(10**8, 10**9 - 1)}",
                    f"LN-{seed}-{i}",
                    f"{amount // 100}.{amount % 100:02d}",
                    currency,
                    due.isoformat(),
                    clients[i % len(clients)],
                ]
            )


# --- Retention of the files (placements/retention.py registers the stores) -----------

# Rejected rows are kept as uploaded (personal data in clear text) only for the client
# to correct and send them again. PLACEMENT_REJECTS_RETENTION_DAYS stays the default;
# a jurisdiction profile or a workspace may set its own period for this category.
PLACEMENT_FILES = Retention(
    settings.PLACEMENT_REJECTS_RETENTION_DAYS,
    "the import finished",
    "data minimisation (GDPR Art. 5(1)(c) and (e), DPDP Act s.8(7)): rejected rows are kept only to be "
    "corrected and sent again (PLACEMENT_REJECTS_RETENTION_DAYS)",
    name="PLACEMENT_FILES",
)
UNFINISHED = (ImportStatus.PENDING, ImportStatus.RUNNING)


def placement_rejects_due(*, workspace: Any, cutoff: datetime) -> QuerySet[PlacementImport]:
    """Imports that finished before ``cutoff`` and still have a rejects file."""
    return (
        PlacementImport.objects.for_workspace(workspace)
        .filter(finished_at__lt=cutoff, rejects_purged_at__isnull=True)
        .exclude(rejects_storage_name="")
    )


def placement_rejects_delete(*, workspace: Any, ids: list[Any], now: datetime, days: int) -> int:
    """Delete the rejects files of the imports ``ids`` (their rows are personal data as
    uploaded); the jobs keep their counts. A file that cannot be deleted keeps its job
    pointing at it for a later run. One audit event per call that deleted any;
    idempotent; returns how many files were deleted."""
    due = list(
        PlacementImport.objects.for_workspace(workspace)
        .filter(pk__in=ids, rejects_purged_at__isnull=True)
        .exclude(rejects_storage_name="")
        .values_list("pk", "rejects_storage_name")
    )
    purged = []
    for pk, name in due:
        # The file first: if deleting fails the job keeps pointing at it and a later
        # run tries again (pages cope with a file that is already gone).
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("placement import %s: could not delete its rejects file; will retry", pk)
            continue
        purged.append(pk)
    if purged:
        with transaction.atomic():
            PlacementImport.objects.for_workspace(workspace).filter(pk__in=purged).update(
                rejects_storage_name="", rejects_purged_at=now
            )
            audit_record(
                action=actions.PLACEMENT_REJECTS_PURGED,
                workspace=workspace,
                object_type="debtors.placementimport",
                metadata={"imports": [str(pk) for pk in purged], "retention_days": days},
            )
    return len(purged)


def placement_rejects_purge(*, workspace_id: int, now: Any = None) -> int:
    """Delete now every rejects file past the workspace's period (the nightly purge
    does the same through its store); how many were deleted."""
    now = now or timezone.now()
    days = period_days(Workspace.objects.get(pk=workspace_id), PLACEMENT_FILES)
    due = placement_rejects_due(workspace=workspace_id, cutoff=now - timedelta(days=days))
    return placement_rejects_delete(
        workspace=workspace_id, ids=list(due.values_list("pk", flat=True)), now=now, days=days
    )


def placement_uploads_due(*, workspace: Any, cutoff: datetime) -> QuerySet[PlacementImport]:
    """Imports created before ``cutoff`` that never finished (the worker was lost):
    their upload, every row in clear text, is still on disk. A finished import's upload
    was deleted when it finished."""
    return PlacementImport.objects.for_workspace(workspace).filter(status__in=UNFINISHED, created_at__lt=cutoff)


def placement_uploads_expire(*, workspace: Any, ids: list[Any], now: datetime, days: int) -> int:
    """Delete the uploads of the unfinished imports ``ids`` and end them as failed,
    saying why; how many were ended. Idempotent (an ended import is not unfinished)."""
    jobs = list(
        PlacementImport.objects.for_workspace(workspace)
        .filter(pk__in=ids, status__in=UNFINISHED)
        .values_list("pk", "storage_name")
    )
    ended = []
    for pk, name in jobs:
        try:
            if name:
                default_storage.delete(name)
        except OSError:
            logger.exception("placement import %s: could not delete its upload; will retry", pk)
            continue
        ended.append(pk)
    if ended:
        PlacementImport.objects.for_workspace(workspace).filter(pk__in=ended, status__in=UNFINISHED).update(
            status=ImportStatus.FAILED,
            finished_at=now,
            error=f"The import never finished; its file was deleted {days} days after the upload (retention rule).",
        )
    return len(ended)


def rejects_download(job: PlacementImport) -> Any:
    """The rejects CSV of a job as a download, audited (it holds rows as uploaded);
    410 Gone once the retention rule has deleted it."""
    if job.rejects_purged_at is not None:
        days = period_days(job.workspace, PLACEMENT_FILES)
        return HttpResponse(
            f"The rejects file was deleted on {job.rejects_purged_at:%Y-%m-%d}, "
            f"{days} days after the import (retention rule).",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    if not job.rejects_storage_name:
        raise Http404("This import rejected no rows")
    if not default_storage.exists(job.rejects_storage_name):
        raise Http404("The rejects file is missing from storage")
    record_personal_data_access(
        subject=job, fields=["rejected rows"], purpose="rejects download", kind=actions.PERSONAL_DATA_DOWNLOAD
    )
    return FileResponse(
        default_storage.open(job.rejects_storage_name, "rb"),
        content_type="text/csv",
        as_attachment=True,
        filename=f"rejects-{job.pk}.csv",
    )
