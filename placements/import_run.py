"""Placement imports, the run: one execution of a claimed job — counting, then
preparing, planning and writing chunk after chunk (``placements.imports`` has the rules)."""

from __future__ import annotations

import csv
import io
import logging
import secrets
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, connections
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Client, Workspace
from kernel.crypto import keyring
from kernel.tenancy import workspace_context
from placements.import_header import header_positions
from placements.import_plan import ChunkPlan, ChunkPlanner, SeenKeys
from placements.import_rows import ImportContext, PreparedChunk, Record, RowPool, default_workers, on_postgres
from placements.import_write import ChunkWriter
from placements.models import PlacementImport

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock namespace: chunks of concurrent imports into one workspace
# take turns, so two files naming the same new debtor cannot both create it.
ADVISORY_LOCK_NAMESPACE = 0x504C4331  # "PLC1"
WHOLE_IMPORT_LOCK_NAMESPACE = 0x504C4332  # "PLC2": see _one_import_at_a_time

Progress = Callable[[str, int, int], None]  # (phase: "validating" | "importing", rows done, total rows)

# --- Running a job -------------------------------------------------------------------


class _StrictAbort(Exception):
    """A strict import met an invalid row while writing: roll everything back."""


class _Rejects:
    """Rejected rows, spooled to a temporary file and stored as a CSV at the end."""

    def __init__(self, header: list[str]):
        self._raw = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close())
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")
        self._writer = csv.writer(self._text)
        self._writer.writerow(["line", "reason", *header])
        self.count = 0

    def add(self, rejects: Iterable[tuple[int, str, list[str]]]) -> None:
        for line, reason, values in rejects:
            self._writer.writerow([line, reason, *values])
            self.count += 1

    def store(self, workspace_id: int) -> str:
        if not self.count:
            return ""
        self._text.flush()
        self._raw.seek(0)
        return default_storage.save(
            f"imports/{workspace_id}/{secrets.token_hex(16)}-rejects.csv", File(self._raw, name="rejects.csv")
        )

    def close(self) -> None:
        self._text.close()


@dataclass
class _Totals:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def plus(self, plan: ChunkPlan, rows: int, *, validating: bool = False) -> _Totals:
        if validating:  # nothing is written while validating: only the rows count
            return _Totals(self.processed + rows, self.created, self.updated, self.unchanged)
        return _Totals(
            self.processed + rows,
            self.created + plan.created,
            self.updated + plan.updated,
            self.unchanged + plan.unchanged,
        )


def _open_rows(storage_name: str) -> tuple[list[str], Iterator[tuple[int, list[str]]], Callable[[], int]]:
    """(header, rows as (line number, values), current line) — blank lines skipped."""
    fh = default_storage.open(storage_name, "rb")
    reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline=""))
    header = next(reader, [])

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            last = reader.line_num
            for values in reader:
                line, last = last + 1, reader.line_num
                if any(v.strip() for v in values):
                    yield line, values
        finally:
            fh.close()

    return header, rows(), lambda: reader.line_num


def _chunks(rows: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _one_import_at_a_time(workspace_id: int) -> Iterator[None]:
    """On PostgreSQL, imports into one workspace run one after another (a session
    advisory lock, held for the whole run): a pipelined import plans a chunk before
    it takes the chunk's lock, so another import must not create debtors meanwhile."""
    if not on_postgres():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [WHOLE_IMPORT_LOCK_NAMESPACE, workspace_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [WHOLE_IMPORT_LOCK_NAMESPACE, workspace_id])


@dataclass
class _InFlight:
    """A chunk handed to the writer thread."""

    chunk: list[Record]
    prepared: PreparedChunk
    plan: ChunkPlan
    totals: _Totals
    future: Future[None]


class ImportRun:
    """One execution of a claimed job: counts the rows, then plans and writes chunk
    after chunk, each in its own transaction (strict: see ``run``)."""

    def __init__(self, workspace: Workspace, job: PlacementImport, progress: Progress | None, *, chunk_size: int):
        self.workspace = workspace
        self.job = job
        self.progress = progress
        self.chunk_size = chunk_size  # rows per transaction
        self.seen = SeenKeys()
        self.totals = _Totals()
        self.total = 0
        self.rejects: _Rejects | None = None
        self.line: Callable[[], int] = lambda: 0

    def _context(self, header: list[str]) -> ImportContext:
        positions = header_positions(header, self.job.header_map or {}, has_client=self.job.client_id is not None)
        clients = Client.objects.for_workspace(self.workspace)
        return ImportContext(
            workspace=self.workspace,
            positions=positions,
            width=len(header),
            clients=dict(clients.values_list("reference", "id")),
            client=clients.filter(pk=self.job.client_id).first() if self.job.client_id else None,
            today=timezone.localdate(),
            default_timezone=profile_for(self.workspace.jurisdiction).default_timezone,
        )

    def save_job(self, totals: _Totals, rejected: int, **extra: Any) -> None:
        PlacementImport.objects.for_workspace(self.workspace).filter(pk=self.job.pk).update(
            processed_rows=totals.processed,
            created_count=totals.created,
            updated_count=totals.updated,
            unchanged_count=totals.unchanged,
            rejected_count=rejected,
            **extra,
        )

    def run(self) -> None:
        with _one_import_at_a_time(self.workspace.pk):
            self._run()

    def _run(self) -> None:
        _, rows, self.line = _open_rows(self.job.storage_name)
        self.total = sum(1 for _ in rows)  # a cheap first pass, for the progress bar
        header, rows, self.line = _open_rows(self.job.storage_name)
        self.rejects = _Rejects(header)
        with workspace_context(self.workspace):
            self.save_job(self.totals, 0, total_rows=self.total)
            self.seen.reset()
            ctx = self._context(header)
            maker = keyring.SubjectKeyMaker.for_workspace(self.workspace.pk)
        planner = ChunkPlanner(ctx, self.seen)
        writer = ChunkWriter(ctx, self.job.created_by_id, maker)
        pool = RowPool(ctx, maker, default_workers(self.total))
        try:
            if not self.job.strict:
                if self._can_pipeline():
                    self._pass_pipelined(pool, planner, writer, rows)
                else:
                    self._pass(pool, planner, writer, rows, phase="importing")
                return
            # Strict: validate every row first (writing nothing); import only if all
            # are good, and then in one transaction, so a row that turns bad meanwhile
            # (a concurrent change) still leaves nothing imported.
            self._pass(pool, planner, None, rows, phase="validating")
            if self.rejects.count:
                return
            validated, self.totals = self.totals, _Totals()
            _, rows, self.line = _open_rows(self.job.storage_name)
            try:
                with workspace_context(self.workspace):
                    self.seen.reset()
                    self._pass(pool, planner, writer, rows, phase="importing", save=False, abort_on_reject=True)
            except _StrictAbort:
                self.totals = validated
            except BaseException:
                self.totals = validated  # the transaction rolled back: nothing was imported
                raise
        finally:
            pool.close()

    def _pass(
        self,
        pool: RowPool,
        planner: ChunkPlanner,
        writer: ChunkWriter | None,
        rows: Iterator[Record],
        *,
        phase: str,
        save: bool = True,
        abort_on_reject: bool = False,
    ) -> None:
        """One pass over the file: rows are prepared (validated, and sealed when they
        will be written) ahead in the pool; chunks are planned and written in order."""
        for chunk, prepared in pool.prepared(_chunks(rows, self.chunk_size), seal=writer is not None):
            self._chunk(planner, writer, chunk, prepared, phase=phase, save=save)
            if abort_on_reject and self.rejects is not None and self.rejects.count:
                raise _StrictAbort

    def _can_pipeline(self) -> bool:
        """Write on a second connection while planning the next chunk? On PostgreSQL,
        for big files, outside a transaction (a caller's open transaction, e.g. a
        test's, would hide its rows from the writer's connection)."""
        minimum = settings.PLACEMENT_IMPORT_PIPELINE_MIN_ROWS
        return on_postgres() and not connection.in_atomic_block and self.total >= minimum

    def _pass_pipelined(
        self, pool: RowPool, planner: ChunkPlanner, writer: ChunkWriter, rows: Iterator[Record]
    ) -> None:
        """The import pass with writing overlapped: chunk N is written (and committed)
        by a writer thread on its own connection while this thread plans chunk N+1, so
        the database's work and ours proceed side by side. One chunk is in flight at
        a time; the planner sees its new debtors through ``in_flight``. If a write
        fails on a unique constraint (something placed the same debt meanwhile), the
        rest of the file goes the serial way, which plans again and retries."""
        serial = False
        flying: _InFlight | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="placement-writer") as executor:
            try:
                for chunk, prepared in pool.prepared(_chunks(rows, self.chunk_size), seal=True):
                    if serial:
                        self._chunk(planner, writer, chunk, prepared, phase="importing")
                        continue
                    with workspace_context(self.workspace):
                        plan = planner.plan(chunk, prepared)
                    if flying is not None and not self._settle(flying):
                        serial = self._go_serial(planner, writer, flying)
                        self._chunk(planner, writer, chunk, prepared, phase="importing")
                        flying = None
                        continue
                    planner.in_flight = {d.external_ref: d for d in plan.new_debtors if d.external_ref}
                    totals = self.totals.plus(plan, len(chunk))
                    assert self.rejects is not None
                    rejected = self.rejects.count + len(plan.rejects)
                    future = executor.submit(self._write, writer, plan, totals, rejected)
                    flying = _InFlight(chunk, prepared, plan, totals, future)
                if flying is not None and not self._settle(flying):
                    self._go_serial(planner, writer, flying)
                flying = None
            except BaseException:
                if flying is not None:  # e.g. the file turned out to be bad CSV further on
                    with suppress(Exception):  # the first error is the one to report
                        self._settle(flying)  # count what was committed before it
                raise
            finally:
                planner.in_flight = {}
                executor.submit(connections.close_all).result()  # the writer thread's connection

    def _write(self, writer: ChunkWriter, plan: ChunkPlan, totals: _Totals, rejected: int) -> None:
        with workspace_context(self.workspace):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, self.workspace.pk])
            writer.write(plan)
            self.save_job(totals, rejected)

    def _settle(self, flying: _InFlight) -> bool:
        """Wait for a chunk's write; count it. False if it hit a unique constraint."""
        try:
            flying.future.result()
        except IntegrityError:
            return False
        assert self.rejects is not None
        self.totals = flying.totals
        self.rejects.add(flying.plan.rejects)
        if self.progress is not None:
            self.progress("importing", self.totals.processed, self.total)
        return True

    def _go_serial(self, planner: ChunkPlanner, writer: ChunkWriter, failed: _InFlight) -> bool:
        planner.in_flight = {}
        self.seen.forget_from(failed.chunk[0][0])  # that chunk and the one planned after it
        self._chunk(planner, writer, failed.chunk, failed.prepared, phase="importing")
        return True

    def _chunk(
        self,
        planner: ChunkPlanner,
        writer: ChunkWriter | None,
        chunk: list[Record],
        prepared: PreparedChunk,
        *,
        phase: str,
        save: bool = True,
    ) -> None:
        assert self.rejects is not None
        for attempt in (1, 2):
            try:
                with workspace_context(self.workspace):
                    if writer is not None and on_postgres():
                        with connection.cursor() as cursor:
                            cursor.execute(
                                "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, self.workspace.pk]
                            )
                    plan = planner.plan(chunk, prepared)
                    if writer is not None:
                        writer.write(plan)
                    totals = self.totals.plus(plan, len(chunk), validating=writer is None)
                    if save:
                        self.save_job(totals, self.rejects.count + len(plan.rejects))
                break
            except IntegrityError:
                # Another writer placed one of these debts meanwhile: plan the chunk again.
                if attempt == 2:
                    raise
        self.totals = totals
        self.rejects.add(plan.rejects)
        if self.progress is not None:
            self.progress(phase, self.totals.processed, self.total)
