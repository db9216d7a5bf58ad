"""Placement imports with worker processes (``placements.import_rows.RowPool``): rows are
validated and sealed in other processes, and the outcome is the same as in-process."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError, OperationalError, connection

from accounts.services import client_create
from debtors.models import Debt, Debtor, LedgerEntry
from kernel.tenancy import workspace_context
from placements import imports
from placements.imports import generate_placements_csv, placement_import_create, placement_import_execute

pytestmark = pytest.mark.usefixtures("private_storage")


def _file(tmp_path: Path) -> bytes:
    path = tmp_path / "placements.csv"
    generate_placements_csv(path, 150, clients=["SAHYADRI"], seed=7)
    lines = path.read_bytes().decode().splitlines()
    lines[40] = lines[40].replace("@example.com", "@@nope")  # line 41: a bad email
    lines.append(lines[10])  # line 152: a duplicate of line 11
    lines.append("CUST-x,Short row")  # line 153
    return ("\n".join(lines) + "\n").encode()


def _import(workspace, content: bytes):
    job = placement_import_create(workspace=workspace, file_obj=io.BytesIO(content), file_name="p.csv")
    return placement_import_execute(workspace=workspace, import_id=job.pk)


def _outcome(workspace, job):
    with default_storage.open(job.rejects_storage_name, "rb") as fh:
        rejects = [row[:2] for row in csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))]
    with workspace_context(workspace):
        debts = {
            d.reference: (d.debtor.external_ref, d.debtor.full_name, d.debtor.email, d.debtor.phone, d.balance_minor)
            for d in Debt.objects.select_related("debtor")
        }
        ledger = sum(e.amount_minor for e in LedgerEntry.objects.all())
        debtors = Debtor.objects.count()
    counts = (job.status, job.created_count, job.updated_count, job.unchanged_count, job.rejected_count)
    return counts, rejects, debts, ledger, debtors


def test_worker_processes_import_exactly_what_one_process_does(world, settings, monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 20)  # several chunks in flight at once
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    content = _file(tmp_path)
    with workspace_context(world.b):
        client_create(workspace=world.b, name="Sahyadri Bank", reference="SAHYADRI")

    settings.PLACEMENT_IMPORT_PARALLEL_MIN_ROWS = 0
    settings.PLACEMENT_IMPORT_WORKERS = 2
    parallel = _outcome(world.a, _import(world.a, content))
    assert "worker processes failed" not in caplog.text  # the workers did the work
    settings.PLACEMENT_IMPORT_WORKERS = 0
    serial = _outcome(world.b, _import(world.b, content))

    assert parallel == serial
    counts, rejects, debts, _, debtors = parallel
    assert counts == ("done", 149, 0, 0, 3)
    assert [line for line, _ in rejects[1:]] == ["41", "152", "153"]
    assert "duplicate in file" in rejects[2][1]
    assert debtors == 99  # rows 2 and 3 of each triple share a debtor; line 41's person is rejected
    assert debts["LN-7-1"][0] == debts["LN-7-2"][0] == "CUST-7-1"

    # Again, with workers: nothing changes.
    again = _import(world.a, content)
    assert (again.created_count, again.unchanged_count, again.rejected_count) == (0, 149, 3)


def test_small_files_are_prepared_in_process(settings):
    from placements.import_rows import default_workers

    settings.PLACEMENT_IMPORT_PARALLEL_MIN_ROWS = 20_000
    settings.PLACEMENT_IMPORT_WORKERS = 4
    assert default_workers(19_999) == 0
    assert default_workers(20_000) == 4


@pytest.mark.django_db(transaction=True)
def test_pipelined_writing_imports_exactly_what_serial_writing_does(world, settings, monkeypatch, tmp_path, caplog):
    """On PostgreSQL a big import writes chunk N on a second connection while it plans
    chunk N+1; a debtor whose rows straddle two chunks is still one debtor, and a
    write that hits a unique constraint sends the rest of the file the serial way."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 20)
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    content = _file(tmp_path)
    with workspace_context(world.b):
        client_create(workspace=world.b, name="Sahyadri Bank", reference="SAHYADRI")
    settings.PLACEMENT_IMPORT_PARALLEL_MIN_ROWS = 0
    settings.PLACEMENT_IMPORT_WORKERS = 1

    # One write in the middle fails on a unique constraint, once.
    original, calls = imports.ChunkWriter.write, []

    def write_once_failing(self, plan):
        calls.append(1)
        original(self, plan)
        if len(calls) == 3:
            raise IntegrityError("duplicate key value violates unique constraint (test)")

    monkeypatch.setattr(imports.ChunkWriter, "write", write_once_failing)
    settings.PLACEMENT_IMPORT_PIPELINE_MIN_ROWS = 0
    pipelined = _outcome(world.a, _import(world.a, content))
    monkeypatch.setattr(imports.ChunkWriter, "write", original)
    settings.PLACEMENT_IMPORT_PIPELINE_MIN_ROWS = 10**9
    serial = _outcome(world.b, _import(world.b, content))

    assert len(calls) > 8  # every chunk was written, the failed one again
    assert pipelined == serial
    assert pipelined[0] == ("done", 149, 0, 0, 3)
    assert pipelined[4] == 99
    # Rows 20 and 21 (lines 21 and 22) share a debtor across the chunk boundary.
    assert pipelined[2]["LN-7-19"][0] == pipelined[2]["LN-7-20"][0] == "CUST-7-19"


@pytest.mark.django_db(transaction=True)
def test_pipelined_import_that_fails_midway_keeps_and_counts_the_chunks_it_committed(
    world, settings, monkeypatch, tmp_path
):
    """The database goes away while chunk 4 is planned and chunk 3 is being written:
    the job fails, and its counts match exactly the rows that were committed."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 20)
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    settings.PLACEMENT_IMPORT_PARALLEL_MIN_ROWS = 10**9  # in-process preparing; pipelined writing
    settings.PLACEMENT_IMPORT_PIPELINE_MIN_ROWS = 0
    original, calls = imports.ChunkPlanner.plan, []

    def plan_failing_on_the_fourth_chunk(self, records, prepared=None):
        calls.append(1)
        if len(calls) == 4:
            raise OperationalError("server closed the connection unexpectedly (test)")
        return original(self, records, prepared)

    monkeypatch.setattr(imports.ChunkPlanner, "plan", plan_failing_on_the_fourth_chunk)
    path = tmp_path / "placements.csv"
    generate_placements_csv(path, 100, clients=["SAHYADRI"], seed=3)
    job = _import(world.a, path.read_bytes())
    assert job.status == "failed" and "(OperationalError); rows before it were imported" in job.error, job.error
    assert (job.processed_rows, job.created_count) == (60, 60)
    with workspace_context(world.a):
        assert Debt.objects.count() == 60
