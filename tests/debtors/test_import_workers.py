"""Placement imports with worker processes (``debtors.import_rows.RowPool``): rows are
validated and sealed in other processes, and the outcome is the same as in-process."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.core.files.storage import default_storage

from collectpro.tenancy import workspace_context
from debtors import imports
from debtors.imports import generate_placements_csv, placement_import_create, placement_import_execute
from debtors.models import Debt, Debtor, LedgerEntry
from debtors.services.clients import client_create


@pytest.fixture(autouse=True)
def private_storage(settings, tmp_path: Path) -> Path:
    root = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root


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
    from debtors.import_rows import default_workers

    settings.PLACEMENT_IMPORT_PARALLEL_MIN_ROWS = 20_000
    settings.PLACEMENT_IMPORT_WORKERS = 4
    assert default_workers(19_999) == 0
    assert default_workers(20_000) == 4
