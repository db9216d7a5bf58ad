"""Placement imports: the service, the Celery task and the ``import_placements`` command.

Runs on SQLite and, with DATABASE_URL set, on PostgreSQL (COPY + staging tables,
under row-level security when TENANCY_DB_ROLE is set).
"""

from __future__ import annotations

import csv
import io
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Sum

from accounts.models import Client
from audit.models import AuditEvent
from debtors.models import Debt, DebtEvent, Debtor, DebtStatus, LedgerEntry
from debtors.selectors import exact_search_filter
from debtors.services.debtors import DebtorInput, debtor_create
from debtors.services.debts import DebtInput, debt_create
from kernel.tenancy import workspace_context
from placements import imports
from placements.import_header import COLUMNS
from placements.imports import (
    generate_placements_csv,
    placement_import_create,
    placement_import_enqueue,
    placement_import_execute,
    placement_import_rejects,
)
from placements.models import PlacementImport

HEADER = ",".join(COLUMNS)
GOOD = [
    "CUST-1,Asha Rao,Asha.Rao@Example.com,+91 98123 45678,12 MG Road Pune,1985-04-23,ABCDE1234F,LN-1,1250.00,INR,2026-12-01,SAHYADRI",
    "CUST-1,Asha Rao,asha.rao@example.com,+91 98123 45678,12 MG Road Pune,1985-04-23,ABCDE1234F,LN-2,99.5,INR,,SAHYADRI",
    "CUST-2,Ravi Kumar,ravi@example.com,,,,,LN-3,10,,2026-06-30,SAHYADRI",
    ",No Ref Person,,,,,,LN-4,5.00,INR,,SAHYADRI",
]


def _csv(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode()


pytestmark = pytest.mark.usefixtures("private_storage")


@pytest.fixture
def sahyadri(world) -> Client:
    with workspace_context(world.a):
        return Client.objects.get(reference="SAHYADRI")


def run_import(workspace, content: bytes, **kwargs) -> PlacementImport:
    job = placement_import_create(
        workspace=workspace, file_obj=io.BytesIO(content), file_name="placements.csv", **kwargs
    )
    return placement_import_execute(workspace=workspace, import_id=job.pk)


def counts(workspace) -> tuple[int, int, int, int]:
    with workspace_context(workspace):
        return (
            Debtor.objects.count(),
            Debt.objects.count(),
            LedgerEntry.objects.count(),
            DebtEvent.objects.count(),
        )


def rejects_csv(job: PlacementImport) -> list[list[str]]:
    with default_storage.open(job.rejects_storage_name, "rb") as fh:
        return list(csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline="")))


def assert_balances_match_ledger(workspace) -> None:
    with workspace_context(workspace):
        for debt in Debt.objects.all():
            total = LedgerEntry.objects.filter(debt=debt).aggregate(s=Sum("amount_minor"))["s"]
            assert debt.balance_minor == total == debt.original_amount_minor, debt.reference


# --- Good rows in, bad rows reported ---------------------------------------------------


def test_valid_rows_are_imported_and_each_bad_row_is_reported_with_line_and_reason(world):
    bad = [
        "CUST-9,Bad Client,,,,,,LN-10,10.00,INR,,NOPE",  # line 6
        "CUST-9,Too Precise,,,,,,LN-11,10.001,INR,,SAHYADRI",  # line 7
        "CUST-9,,,,,,,LN-12,10.00,INR,,SAHYADRI",  # line 8: no name
        "CUST-9,Bad Email,not-an-email,,,,,LN-13,10.00,INR,,SAHYADRI",  # line 9
        "CUST-9,Bad Date,,,,,,LN-14,10.00,INR,31/12/2026,SAHYADRI",  # line 10
        "CUST-9,Dup,,,,,,LN-1,1250.00,INR,,SAHYADRI",  # line 11: LN-1 is on line 2
        "CUST-9,Negative,,,,,,LN-15,-5,INR,,SAHYADRI",  # line 12
        "CUST-9,Short row,,LN-16",  # line 13
        "CUST-9,Bad Currency,,,,,,LN-17,5,XYZ,,SAHYADRI",  # line 14
    ]
    job = run_import(world.a, _csv(*GOOD, *bad))
    assert job.status == "done", job.error
    assert (job.total_rows, job.processed_rows) == (13, 13)
    assert (job.created_count, job.updated_count, job.unchanged_count, job.rejected_count) == (4, 0, 0, 9)
    assert job.progress_percent == 100
    reasons = dict(placement_import_rejects(job))
    assert sorted(reasons) == list(range(6, 15))
    assert "unknown client 'NOPE'" in reasons[6]
    assert "at most 2 decimal places" in reasons[7]
    assert reasons[8].startswith("full_name:")
    assert reasons[9].startswith("email:")
    assert "due_date" in reasons[10] and "YYYY-MM-DD" in reasons[10]
    assert "duplicate in file" in reasons[11] and "line 2" in reasons[11]
    assert "more than zero" in reasons[12]
    assert "4 values" in reasons[13]
    assert "currency" in reasons[14]
    # The rejects CSV: line, reason, then the row as it was in the file.
    rows = rejects_csv(job)
    assert rows[0] == ["line", "reason", *COLUMNS]
    assert rows[1][0] == "6" and rows[1][2:] == bad[0].split(",")
    with workspace_context(world.a):
        debts = {d.reference: d for d in Debt.objects.select_related("debtor")}
        assert sorted(debts) == ["LN-1", "LN-2", "LN-3", "LN-4"]
        # Two debts, one debtor: matched by external reference.
        assert debts["LN-1"].debtor_id == debts["LN-2"].debtor_id
        asha = debts["LN-1"].debtor
        assert (asha.email, asha.phone, asha.date_of_birth) == ("asha.rao@example.com", "+919812345678", "1985-04-23")
        assert debts["LN-2"].original_amount_minor == 9950 and debts["LN-3"].currency == "INR"
        assert str(debts["LN-1"].due_date) == "2026-12-01" and debts["LN-1"].status == DebtStatus.NEW
        assert Debtor.objects.count() == 3
        assert DebtEvent.objects.filter(kind="ledger.charge").count() == 4
        event = AuditEvent.objects.get(action="placement.imported", object_id=str(job.pk))
        assert event.metadata["created"] == 4 and event.metadata["rejected"] == 9
    assert_balances_match_ledger(world.a)
    # The upload (clear text) is gone once imported; the rejects file stays for download.
    assert not default_storage.exists(job.storage_name)
    assert default_storage.exists(job.rejects_storage_name)


def test_no_rejects_means_no_rejects_file(world):
    job = run_import(world.a, _csv(*GOOD))
    assert job.status == "done" and job.rejected_count == 0
    assert job.rejects_storage_name == "" and list(placement_import_rejects(job)) == []


def test_second_import_of_the_same_file_changes_nothing(world):
    first = run_import(world.a, _csv(*GOOD))
    assert first.created_count == 4
    before = counts(world.a)
    second = run_import(world.a, _csv(*GOOD))
    assert second.status == "done"
    assert (second.created_count, second.updated_count, second.unchanged_count, second.rejected_count) == (0, 0, 4, 0)
    assert counts(world.a) == before
    assert_balances_match_ledger(world.a)


def test_changed_details_update_but_a_changed_amount_is_refused(world):
    run_import(world.a, _csv(*GOOD))
    changed = [
        GOOD[0].replace("+91 98123 45678", "+91 90000 11111").replace("2026-12-01", "2027-01-15"),  # phone + due date
        GOOD[1].replace("99.5", "120.00"),  # money: refused
        GOOD[2].replace("ravi@example.com", "ravi.k@example.com"),
        GOOD[3],
    ]
    job = run_import(world.a, _csv(*changed))
    assert (job.created_count, job.updated_count, job.unchanged_count, job.rejected_count) == (0, 2, 1, 1)
    reasons = dict(placement_import_rejects(job))
    assert reasons == {3: "amount differs from the placed amount (99.50 INR); post an adjustment instead"}
    with workspace_context(world.a):
        ln1 = Debt.objects.select_related("debtor").get(reference="LN-1")
        assert ln1.debtor.phone == "+919000011111" and str(ln1.due_date) == "2027-01-15"
        assert ln1.debtor.email == "asha.rao@example.com"  # untouched fields keep their value
        assert Debt.objects.get(reference="LN-2").original_amount_minor == 9950
        assert Debt.objects.get(reference="LN-3").debtor.email == "ravi.k@example.com"
        assert DebtEvent.objects.filter(kind="placement.updated", debt=ln1).get().summary.endswith("due date, phone")
        # Looking the debtor up by the new phone works (blind index rewritten).
        assert list(Debtor.objects.filter(exact_search_filter(world.a, "+91 90000 11111"))) == [ln1.debtor]
    assert_balances_match_ledger(world.a)


def test_existing_debt_of_another_debtor_is_refused(world):
    run_import(world.a, _csv(*GOOD))
    job = run_import(world.a, _csv(GOOD[0].replace("CUST-1", "CUST-77")))
    assert job.rejected_count == 1
    assert "already placed for another debtor" in dict(placement_import_rejects(job))[2]


def test_rows_spread_over_many_chunks(world, monkeypatch):
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    rows = [*GOOD, GOOD[0].replace("LN-1", "LN-5"), "CUST-9,Dup Late,,,,,,LN-3,10,INR,,SAHYADRI"]
    progress: list[tuple[str, int, int]] = []
    job = placement_import_create(workspace=world.a, file_obj=io.BytesIO(_csv(*rows)), file_name="x.csv")
    job = placement_import_execute(workspace=world.a, import_id=job.pk, progress=lambda *a: progress.append(a))
    assert (job.created_count, job.rejected_count) == (5, 1)
    assert "line 4" in dict(placement_import_rejects(job))[7]
    assert progress == [("importing", 2, 6), ("importing", 4, 6), ("importing", 6, 6)]
    with workspace_context(world.a):
        # CUST-1's debtor was created in the first chunk and found again in the third.
        assert Debtor.objects.filter(external_ref="CUST-1").count() == 1
        assert Debt.objects.filter(debtor__external_ref="CUST-1").count() == 3


def test_minor_is_flagged_and_the_debt_held(world):
    job = run_import(world.a, _csv("KID-1,Young Person,,,,2015-01-01,,LN-M,10.00,INR,,SAHYADRI"))
    assert job.created_count == 1
    with workspace_context(world.a):
        debt = Debt.objects.select_related("debtor").get(reference="LN-M")
        assert debt.debtor.is_minor and debt.status == DebtStatus.ON_HOLD
        assert DebtEvent.objects.filter(debt=debt, kind="status").exists()


def test_rows_of_another_client_are_refused_when_the_import_names_a_client(world, sahyadri):
    with workspace_context(world.a):
        from accounts.services import client_create

        client_create(workspace=world.a, name="Other Bank", reference="OTHER")
    content = _csv(GOOD[0], GOOD[2].replace("SAHYADRI", "OTHER"), GOOD[3].replace("SAHYADRI", ""))
    job = run_import(world.a, content, client=sahyadri)
    assert (job.created_count, job.rejected_count) == (2, 1)
    assert "not this import's client" in dict(placement_import_rejects(job))[3]


def test_debt_placed_through_the_api_is_matched(world, sahyadri):
    with workspace_context(world.a):
        debtor = debtor_create(workspace=world.a, data=DebtorInput(full_name="Asha Rao", external_ref="CUST-1"))
        debt_create(
            workspace=world.a,
            client=sahyadri,
            debtor=debtor,
            data=DebtInput(reference="LN-1", original_amount_minor=125000, currency="INR", due_date=None),
        )
    job = run_import(world.a, _csv(GOOD[0]))
    assert (job.created_count, job.updated_count) == (0, 1)
    with workspace_context(world.a):
        assert Debtor.objects.count() == 1 and Debtor.objects.get().email == "asha.rao@example.com"


def test_each_chunk_commits_alone_and_a_failing_chunk_leaves_nothing_half_written(transactional_db, world, monkeypatch):
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    original, calls = imports.ChunkWriter._new_debts, []

    def fail_second_chunk(self, new_debts, now):
        original(self, new_debts, now)  # the debts are written… then the chunk fails
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports.ChunkWriter, "_new_debts", fail_second_chunk)
    job = run_import(world.a, _csv(*GOOD))
    assert job.status == "failed" and "RuntimeError" in job.error and job.finished_at
    assert (job.processed_rows, job.created_count) == (2, 2)
    # The first chunk (one debtor, two debts) stays; nothing of the second does.
    assert counts(world.a)[:3] == (1, 2, 2)
    assert_balances_match_ledger(world.a)


def test_strict_import_that_fails_while_writing_imports_nothing(world, monkeypatch):
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 2)
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    original, calls = imports.ChunkWriter._new_debts, []

    def fail_second_chunk(self, new_debts, now):
        original(self, new_debts, now)
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports.ChunkWriter, "_new_debts", fail_second_chunk)
    job = run_import(world.a, _csv(*GOOD), strict=True)
    assert job.status == "failed" and "nothing was imported" in job.error
    assert job.created_count == 0 and counts(world.a) == (0, 0, 0, 0)


def test_malformed_csv_fails_the_job_with_the_line_and_imports_nothing(world):
    job = run_import(world.a, _csv(*GOOD, 'CUST-9,"' + "x" * 200_000 + '",,,,,,LN-9,1,INR,,SAHYADRI'))
    assert job.status == "failed" and job.error.startswith("line 6:"), job.error
    assert counts(world.a)[1] == 0


# --- Strict mode, header ----------------------------------------------------------------


def test_strict_imports_nothing_when_a_row_is_bad(world):
    job = run_import(world.a, _csv(*GOOD, "CUST-9,Bad,,,,,,LN-9,abc,INR,,SAHYADRI"), strict=True)
    assert job.status == "done"
    assert (job.created_count, job.rejected_count, job.processed_rows) == (0, 1, 5)
    assert "not a number" in dict(placement_import_rejects(job))[6]
    assert counts(world.a) == (0, 0, 0, 0)


def test_strict_imports_everything_when_all_rows_are_good(world, monkeypatch):
    monkeypatch.setattr(imports, "DEFAULT_CHUNK_ROWS", 3)
    monkeypatch.setattr(imports, "CHUNK_ROWS", {})
    job = run_import(world.a, _csv(*GOOD), strict=True)
    assert (job.status, job.created_count, job.rejected_count, job.processed_rows) == ("done", 4, 0, 4)
    assert counts(world.a)[1] == 4


def test_header_mapping_lets_other_column_names_through(world):
    header = "Customer No,Name,E-mail,Mobile,Addr,DOB,PAN,Account,Balance,Ccy,Due,Bank"
    mapping = {
        "external_ref": "Customer No",
        "full_name": "name",
        "email": "E-mail",
        "phone": "Mobile",
        "address": "Addr",
        "date_of_birth": "DOB",
        "national_id": "PAN",
        "debt_reference": "Account",
        "amount": "Balance",
        "currency": "Ccy",
        "due_date": "Due",
        "client_ref": "Bank",
    }
    job = run_import(world.a, _csv(*GOOD, header=header), header_map=mapping)
    assert (job.created_count, job.rejected_count) == (4, 0)
    assert job.header_map == mapping


def test_missing_required_column_is_refused_at_once_and_nothing_is_stored(world, private_storage):
    header = HEADER.replace("amount", "balance")
    with pytest.raises(ValidationError) as exc:
        placement_import_create(workspace=world.a, file_obj=io.BytesIO(_csv(header=header)), file_name="x.csv")
    assert "amount" in str(exc.value) and "missing required" in str(exc.value)
    with workspace_context(world.a):
        assert not PlacementImport.objects.exists()
    assert not private_storage.exists() or not any(p.is_file() for p in private_storage.rglob("*"))


@pytest.mark.parametrize(
    ("content", "header_map", "message"),
    [
        (b"", None, "empty"),
        (_csv(header=HEADER.replace(",client_ref", "")), None, "client_ref"),
        (_csv(header=HEADER + ",amount"), None, "twice"),
        (_csv(), {"amount": "Balance"}, "'Balance' (for amount)"),
        (_csv(), {"colour": "x"}, "Unknown column"),
    ],
)
def test_bad_headers_are_refused_with_a_reason(world, content, header_map, message):
    with pytest.raises(ValidationError) as exc:
        placement_import_create(
            workspace=world.a, file_obj=io.BytesIO(content), file_name="x.csv", header_map=header_map
        )
    assert message in str(exc.value)


def test_client_column_is_optional_when_the_import_names_a_client(world, sahyadri):
    header = HEADER.replace(",client_ref", "")
    job = run_import(world.a, _csv(*(r.rsplit(",", 1)[0] for r in GOOD), header=header), client=sahyadri)
    assert (job.created_count, job.rejected_count) == (4, 0)


# --- Privacy, tenancy, running twice ----------------------------------------------------


def test_personal_data_is_not_readable_in_the_database(world):
    run_import(world.a, _csv(*GOOD))
    with workspace_context(world.a), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM debtors_debtor")
        dump = repr(cursor.fetchall())
    assert "enc:v1:" in dump
    for secret in ("asha.rao@example.com", "ABCDE1234F", "9812345678", "MG Road", "1985-04-23", "Asha Rao"):
        assert secret.lower() not in dump.lower(), secret


def test_importing_into_b_never_touches_a_even_when_external_refs_coincide(world):
    run_import(world.a, _csv(*GOOD))
    before_a = counts(world.a)
    with workspace_context(world.a):
        a_asha = Debtor.objects.get(external_ref="CUST-1")
    b_rows = [
        r.replace("SAHYADRI", "LSCU").replace("INR", "USD").replace("+91 98123 45678", "+1 212 555 0100") for r in GOOD
    ]
    job = run_import(world.b, _csv(*b_rows))
    assert (job.created_count, job.rejected_count) == (4, 0), list(placement_import_rejects(job))
    assert counts(world.a) == before_a
    assert counts(world.b)[:2] == (3, 4)
    with workspace_context(world.a):
        assert Debtor.objects.get(external_ref="CUST-1").phone == a_asha.phone == "+919812345678"
    with workspace_context(world.b):
        b_asha = Debtor.objects.get(external_ref="CUST-1")
        assert b_asha.pk != a_asha.pk and b_asha.phone == "+12125550100"
    # A's client reference means nothing in B.
    job = run_import(world.b, _csv(GOOD[2]))
    assert "unknown client 'SAHYADRI'" in dict(placement_import_rejects(job))[2]


def test_executing_a_job_twice_is_a_no_op(world):
    job = placement_import_create(workspace=world.a, file_obj=io.BytesIO(_csv(*GOOD)), file_name="x.csv")
    first = placement_import_execute(workspace=world.a, import_id=job.pk)
    again = placement_import_execute(workspace=world.a, import_id=job.pk)
    assert first.status == again.status == "done" and again.created_count == 4
    assert counts(world.a)[1] == 4


def test_another_workspace_cannot_execute_the_job(world):
    job = placement_import_create(workspace=world.a, file_obj=io.BytesIO(_csv(*GOOD)), file_name="x.csv")
    with pytest.raises(PlacementImport.DoesNotExist):
        placement_import_execute(workspace=world.b, import_id=job.pk)
    assert counts(world.b)[1] == 0


def test_celery_task_path_completes_the_job(world, django_capture_on_commit_callbacks):
    job = placement_import_create(workspace=world.a, file_obj=io.BytesIO(_csv(*GOOD)), file_name="x.csv")
    assert job.status == "pending" and job.progress_percent == 0
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        placement_import_enqueue(job)
    assert len(callbacks) == 1
    job.refresh_from_db()
    assert (job.status, job.progress_percent, job.created_count) == ("done", 100, 4)
    assert job.started_at and job.finished_at


def test_generated_file_imports_cleanly(world, tmp_path):
    path = tmp_path / "gen.csv"
    generate_placements_csv(path, 30, clients=["SAHYADRI"], seed=3)
    job = run_import(world.a, path.read_bytes())
    assert (job.created_count, job.rejected_count) == (30, 0), list(placement_import_rejects(job))
    assert counts(world.a)[0] == 20  # one debtor in three has two debts
    assert run_import(world.a, path.read_bytes()).unchanged_count == 30


# --- The management command -------------------------------------------------------------


def _command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_placements", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_command_prints_a_summary_and_the_rejected_lines(world, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(_csv(*GOOD, "CUST-9,Bad,,,,,,LN-9,abc,INR,,SAHYADRI"))
    out, _ = _command("acme", str(path), "--no-progress")
    assert "created 4, updated 0, unchanged 0, rejected 1" in out
    assert "line 6: amount:" in out
    out, _ = _command("acme", str(path), "--no-progress")
    assert "created 0, updated 0, unchanged 4, rejected 1" in out


def test_command_lists_at_most_50_rejects(world, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(_csv(*(f"C,Bad {i},,,,,,LN-{i},abc,INR,,SAHYADRI" for i in range(60))))
    out, _ = _command("acme", str(path), "--no-progress")
    assert "line 51:" in out and "line 52:" not in out
    assert "… and 10 more; see the rejects file" in out


def test_command_strict_fails_on_a_bad_row_and_imports_nothing(world, tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(_csv(*GOOD, "CUST-9,Bad,,,,,,LN-9,abc,INR,,SAHYADRI"))
    with pytest.raises(CommandError, match="strict"):
        _command("acme", str(path), "--strict", "--no-progress")
    assert counts(world.a)[1] == 0


def test_command_client_and_map_options(world, tmp_path):
    path = tmp_path / "p.csv"
    header = HEADER.replace("external_ref", "Cust").replace(",client_ref", "")
    path.write_bytes(_csv(*(r.rsplit(",", 1)[0] for r in GOOD), header=header))
    out, err = _command("acme", str(path), "--client", "SAHYADRI", "--map", "external_ref=Cust")
    assert "created 4" in out
    assert "100%" in err  # the progress bar


def test_rejects_files_are_deleted_after_the_retention_period(world, settings):
    from datetime import timedelta

    from django.utils import timezone

    from placements.imports import placement_rejects_purge
    from tests.conftest import api, login

    settings.PLACEMENT_REJECTS_RETENTION_DAYS = 30
    old = run_import(world.a, _csv(*GOOD, "CUST-9,Bad,,,,,,LN-9,abc,INR,,SAHYADRI"))
    recent = run_import(world.a, _csv("CUST-8,Bad,,,,,,LN-8,abc,INR,,SAHYADRI"))
    now = timezone.now()
    with workspace_context(world.a):
        PlacementImport.objects.filter(pk=old.pk).update(finished_at=now - timedelta(days=31))
        PlacementImport.objects.filter(pk=recent.pk).update(finished_at=now - timedelta(days=29))
    assert default_storage.exists(old.rejects_storage_name)

    with workspace_context(world.a):
        assert placement_rejects_purge(workspace_id=world.a.pk, now=now) == 1
        assert placement_rejects_purge(workspace_id=world.a.pk, now=now) == 0  # nothing left to do
        purged = PlacementImport.objects.get(pk=old.pk)
        event = AuditEvent.objects.get(action="placement.rejects_purged")
    assert not default_storage.exists(old.rejects_storage_name)
    assert default_storage.exists(recent.rejects_storage_name)
    assert (purged.rejected_count, purged.created_count, purged.rejects_storage_name) == (1, 4, "")
    assert event.metadata == {"imports": [str(old.pk)], "retention_days": 30}

    page = login(world.alice).get(f"/w/acme/placements/{old.pk}/rejects.csv")
    assert page.status_code == 410 and "30 days after the import" in page.content.decode()
    assert api(world.key_a).get(f"/api/v1/placements/{old.pk}/rejects.csv").status_code == 410
    assert login(world.alice).get(f"/w/acme/placements/{old.pk}/").status_code == 200  # the counts remain
    assert login(world.alice).get(f"/w/acme/placements/{recent.pk}/rejects.csv").status_code == 200


def test_upload_page_takes_other_column_names(world, django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import login

    header = HEADER.replace("external_ref", "Customer No").replace("client_ref", '"Bank, branch"')
    upload = SimpleUploadedFile("bank.csv", _csv(*GOOD, header=header), content_type="text/csv")
    with django_capture_on_commit_callbacks(execute=True):
        r = login(world.alice).post(
            "/w/acme/placements/",
            {"file": upload, "header_map": "external_ref = Customer No\r\nclient_ref=Bank, branch"},
        )
    assert r.status_code == 302
    with workspace_context(world.a):
        job = PlacementImport.objects.get()
        assert job.header_map == {"external_ref": "Customer No", "client_ref": "Bank, branch"}
        assert (job.status, job.created_count) == ("done", 4)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("amount", "Write our_column=your_column (got &#x27;amount&#x27;)"),
        ("balance=Amount", "Unknown column(s) balance"),
        ("", "missing required column"),  # the file's own names, unmapped
    ],
)
def test_upload_page_names_a_bad_column_mapping_and_stores_nothing(world, mapping, message):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.conftest import login

    upload = SimpleUploadedFile("bank.csv", _csv(*GOOD, header=HEADER.replace("amount", "Balance")))
    r = login(world.alice).post("/w/acme/placements/", {"file": upload, "header_map": mapping})
    assert r.status_code == 400 and message in r.content.decode()
    with workspace_context(world.a):
        assert not PlacementImport.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "FILE"], "No workspace"),
        (["acme", "FILE", "--client", "NOPE"], "No client"),
        (["acme", "missing.csv"], "Cannot read"),
        (["acme", "FILE", "--map", "amount"], "--map"),
        (["acme", "BADHEADER"], "missing required column"),
    ],
)
def test_command_bad_input_is_a_one_line_error(world, tmp_path, args, message):
    good, bad = tmp_path / "p.csv", tmp_path / "bad.csv"
    good.write_bytes(_csv(*GOOD))
    bad.write_bytes(_csv(header="name,amount"))
    args = [
        str(good) if a == "FILE" else str(bad) if a == "BADHEADER" else str(tmp_path / a) if a == "missing.csv" else a
        for a in args
    ]
    with pytest.raises(CommandError, match=message):
        _command(*args, "--no-progress")
