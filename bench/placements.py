"""Importing 1,000,000 placement rows on PostgreSQL, against a raw COPY of the same file
in the same run.

Issue requirement: "Import 1,000,000 placement rows (validation and encryption included)
into PostgreSQL in at most 60 s on the 2-core machine, with peak memory under 300 MB;
report rows/s and the ratio to a raw COPY of the same file into an unindexed table,
measured in the same run."

* Rows: 1,000,000 (``--quick``: 50,000); the environment variable
  ``BENCH_PLACEMENT_ROWS`` overrides either (the runner has no per-benchmark options).
* Data: a fresh workspace per run (slug ``bench-import-<UTC timestamp>``, made by
  ``accounts.services.workspace_create``) with 3 clients made by ``debtors.services.
  clients.client_create``, and one CSV written by ``placements.imports.
  generate_placements_csv`` under ``var/bench/`` (every row valid; about one debtor in
  three has two debts, so 1,000,000 rows make about 667,000 new debtors). The file is
  deleted at the end; the workspace stays (use a throwaway database).
* Baseline: ``COPY <table> FROM STDIN WITH (FORMAT csv, HEADER true)`` of the same file,
  streamed in 1 MiB blocks through psycopg 3, into a new regular table of 12 ``text``
  columns (no index, constraint or key; WAL-logged like the real tables), committed and
  then dropped. It runs twice, just before and just after the import, so a change in
  the machine's speed during the import is seen; the baseline rate is the mean of the
  two rates.
* CollectPro: ``manage.py import_placements <slug> <file> --no-progress`` in a child
  process with the same settings and ``DATABASE_URL`` (``placement_import_create`` then
  ``placement_import_execute``, as an operator would run it). Its wall time covers the
  whole command: interpreter and Django start-up, system checks, storing the upload,
  the counting pass and the import. The child's own CPU time and its peak resident
  memory come from ``os.wait4`` (the rusage of that one child); the import job's own
  ``started_at`` → ``finished_at`` is reported as a second row. The job's processed rows
  are sampled every 10 s while it runs, to compare the rate of the first and second half
  of the file (does it slow down as the tables grow?).
* Check: the job's counts, and every imported debt's ``balance_minor`` equal to the sum
  of its ledger entries (one query).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench import Row

VENDORS = ("postgresql",)
RUN_MODE = "one import in a child process (manage.py import_placements); COPY of the same file before and after it"

REPO = Path(__file__).resolve().parent.parent
VAR_BENCH = REPO / "var" / "bench"
FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
ROWS_ENV = "BENCH_PLACEMENT_ROWS"
TARGET_SECONDS = 60.0  # for 1,000,000 rows
TARGET_MB = 300.0
COPY_BLOCK = 1 << 20
SAMPLE_SECONDS = 10.0  # how often the job's progress is read while the import runs
CLIENTS: tuple[tuple[str, str], ...] = (
    ("Axis Retail Lending", "AXIS"),
    ("Bharat Consumer Finance", "BCF"),
    ("Coastal Credit Co-op", "CCC"),
)


@dataclass
class ChildRun:
    seconds: float  # wall time, start to exit
    cpu_seconds: float  # user + system time of the child
    peak_mb: float  # peak resident set size of the child, in MB (10**6 bytes)
    returncode: int
    output: str
    samples: list[tuple[float, int]]  # (seconds since start, rows processed)


def row_count(quick: bool) -> int:
    raw = os.environ.get(ROWS_ENV, "").replace("_", "").replace(",", "").strip()
    if raw:
        rows = int(raw)
        if rows < 1:
            raise ValueError(f"{ROWS_ENV} must be a positive number of rows (got {raw!r})")
        return rows
    return QUICK_ROWS if quick else FULL_ROWS


# --- Set-up -------------------------------------------------------------------------


def make_workspace(stamp: str) -> Any:
    """A new workspace with its clients, through the services."""
    from accounts.models import User
    from accounts.services import client_create, workspace_create
    from kernel.tenancy import workspace_context

    slug = f"bench-import-{stamp}"
    email = f"owner+{slug}@bench.example.com"
    User.objects.create_user(email=email, password=None)
    workspace = workspace_create(slug=slug, name=f"Benchmark import {stamp}", owner_email=email, owner_password=None)
    owner = User.objects.get(email=email)
    with workspace_context(workspace, user_id=owner.pk):
        for name, reference in CLIENTS:
            client_create(workspace=workspace, name=name, reference=reference)
    return workspace


# --- The baseline: COPY ---------------------------------------------------------------


def copy_file(path: Path, table: str) -> tuple[int, float]:
    """COPY the CSV into a new unindexed table of text columns; (rows, seconds for the
    COPY and its commit). The table is dropped afterwards."""
    from django.db import connection, transaction
    from psycopg import sql

    from placements.import_header import COLUMNS

    ident = sql.Identifier(table)
    columns = sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in COLUMNS)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        raw.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
        raw.execute(sql.SQL("CREATE TABLE {} ({})").format(ident, columns))
    try:
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor, path.open("rb") as fh:
            statement = sql.SQL("COPY {} FROM STDIN WITH (FORMAT csv, HEADER true)").format(ident)
            with cursor.cursor.copy(statement) as copy:
                while block := fh.read(COPY_BLOCK):
                    copy.write(block)
            rows = cursor.cursor.rowcount
        seconds = time.perf_counter() - started  # the commit included
    finally:
        with connection.cursor() as cursor:
            cursor.cursor.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(ident))
    return rows, seconds


# --- CollectPro: the management command in a child process ----------------------------


def _processed(workspace: Any) -> int:
    """Rows the workspace's latest import job has processed (committed chunks)."""
    from kernel.tenancy import workspace_context
    from placements.models import PlacementImport

    with workspace_context(workspace):
        job = PlacementImport.objects.for_workspace(workspace).order_by("-created_at").first()
        return job.processed_rows if job is not None else 0


def run_import(workspace: Any, path: Path, log: Path) -> ChildRun:
    """``manage.py import_placements`` in a child; its wall time and, from ``wait4``, its
    CPU time and peak RSS (Linux reports ``ru_maxrss`` in KiB; returned in MB). While it
    runs, the job's processed rows are sampled every ``SAMPLE_SECONDS`` (one query)."""
    command = [sys.executable, str(REPO / "manage.py"), "import_placements", workspace.slug, str(path), "--no-progress"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    samples: list[tuple[float, int]] = []
    with log.open("w", encoding="utf-8") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        next_sample = started + SAMPLE_SECONDS
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter()
            if now >= next_sample:
                samples.append((now - started, _processed(workspace)))
                next_sample = now + SAMPLE_SECONDS
            time.sleep(0.05)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return ChildRun(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss * 1024 / 1e6,  # Linux: KiB
        returncode=proc.returncode,
        output=log.read_text(encoding="utf-8", errors="replace"),
        samples=samples,
    )


def halves(samples: list[tuple[float, int]], rows: int, seconds: float) -> str:
    """The import's rate over the first and the second half of the rows (from the
    samples, interpolated), showing whether it slows down as the tables grow."""
    points = [(0.0, 0), *samples, (seconds, rows)]
    half = rows / 2
    for (t0, r0), (t1, r1) in pairwise(points):
        if r0 <= half <= r1 and r1 > r0:
            at = t0 + (t1 - t0) * (half - r0) / (r1 - r0)
            break
    else:
        return ""
    if at <= 0 or at >= seconds:
        return ""
    return f"first half of the rows at {half / at:,.0f} rows/s (start-up included), second half at {half / (seconds - at):,.0f} rows/s"


def check_import(workspace: Any, rows: int) -> dict[str, Any]:
    """The job's counts and the database's: debts, debtors, and debts whose balance is
    not the sum of their ledger (one query)."""
    from django.db import connection

    from debtors.models import Debt, Debtor, LedgerEntry
    from kernel.tenancy import workspace_context
    from placements.models import PlacementImport

    with workspace_context(workspace):
        job = PlacementImport.objects.for_workspace(workspace).order_by("-created_at").first()
        if job is None:
            raise RuntimeError("the import command created no job")
        debt, ledger = Debt._meta.db_table, LedgerEntry._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*), count(*) FILTER (WHERE l.s IS NULL OR d.balance_minor <> l.s) "
                f"FROM {debt} d LEFT JOIN (SELECT debt_id, sum(amount_minor) AS s FROM {ledger} "
                "WHERE workspace_id = %s GROUP BY debt_id) l ON l.debt_id = d.id WHERE d.workspace_id = %s",
                [workspace.pk, workspace.pk],
            )
            debts, drift = cursor.fetchone()
        debtors = Debtor.objects.for_workspace(workspace).count()
    job_seconds = (job.finished_at - job.started_at).total_seconds() if job.started_at and job.finished_at else None
    return {
        "job": job,
        "debts": debts,
        "drift": drift,
        "debtors": debtors,
        "job_seconds": job_seconds,
        "complete": job.status == "done" and job.processed_rows == rows and debts == job.created_count,
    }


# --- Report ---------------------------------------------------------------------------


def _verdict(seconds: float, rows: int) -> str:
    if rows == FULL_ROWS:
        if seconds <= TARGET_SECONDS:
            return f"60 s target met ({seconds:.1f} s)"
        return f"60 s target NOT met: {seconds:.1f} s, {seconds / TARGET_SECONDS:.1f}× the target"
    at_full = seconds * FULL_ROWS / rows
    met = "within" if at_full <= TARGET_SECONDS else "NOT within"
    return (
        f"measured on {rows:,} rows; extrapolated linearly to 1,000,000: about {at_full:.0f} s, {met} the 60 s target"
    )


def _memory(peak_mb: float) -> str:
    if peak_mb < TARGET_MB:
        return f"peak RSS {peak_mb:.0f} MB (10⁶ bytes), under 300 MB"
    return f"peak RSS {peak_mb:.0f} MB (10⁶ bytes), NOT under 300 MB"


FLOOR_CHUNK = 5000


def database_floor(workspace: Any, rows: int) -> float:
    """Seconds PostgreSQL alone takes to store what an import of ``rows`` rows
    stores — a data key and a debtor per two rows in three, and per row a debt, its
    opening charge and its timeline event — generated by ``INSERT … SELECT FROM
    generate_series`` in transactions of 5,000 rows, into the real tables with their
    indexes, constraints and deferred foreign-key checks. Values are stand-ins of
    the stored sizes (ciphertext-length text, 32-character digests); nothing is
    validated or encrypted. What no import on this database can beat."""
    from django.db import connection, transaction

    from accounts.models import Client
    from kernel.crypto import keyring
    from kernel.tenancy import workspace_context

    with workspace_context(workspace):
        wk = keyring.active_workspace_key(workspace.pk, use_cache=False)
        client_id = Client.objects.for_workspace(workspace).values_list("id", flat=True).first()
    ws = workspace.pk
    base = f"{int(time.time() * 1000):012x}"  # time-ordered ids, like uuid7

    def uid(kind: int, n: str) -> str:
        return f"(%(base)s || '-7{kind:03x}-8000-' || lpad(to_hex({n}), 12, '0'))::uuid"

    debtor_of_row = "(g - (g %% 3 = 2)::int)"  # rows 2 and 3 of each triple share a debtor, as in the file
    statements = [
        # data keys and debtors: rows that start a debtor (g %% 3 <> 2)
        f"""INSERT INTO collectpro_subjectkey (id, workspace_id, subject_type, subject_id, workspace_key_id,
                wrapped_key, created_at)
            SELECT {uid(1, "g")}, %(ws)s, 'debtor', {uid(2, "g")}::text, %(wk)s,
                decode(md5(g::text) || md5(g::text) || md5(g::text) || md5(g::text), 'hex'), now()
            FROM generate_series(%(lo)s, %(hi)s) g WHERE g %% 3 <> 2""",
        f"""INSERT INTO debtors_debtor (id, workspace_id, kind, full_name, full_name_bidx, email, email_bidx, phone,
                phone_bidx, address, date_of_birth, national_id, national_id_bidx, external_ref, preferred_language,
                timezone, is_minor, is_deceased, is_bankrupt, created_at)
            SELECT {uid(2, "g")}, %(ws)s, 'person',
                'enc:v1:' || {uid(1, "g")}::text || ':' || encode(sha256(('n' || g)::bytea), 'base64'), left(md5('n' || g), 32),
                'enc:v1:' || {uid(1, "g")}::text || ':' || encode(sha256(('e' || g)::bytea), 'base64') || 'QUJD', left(md5('e' || g), 32),
                'enc:v1:' || {uid(1, "g")}::text || ':' || encode(sha256(('p' || g)::bytea), 'base64'), left(md5('p' || g), 32),
                'enc:v1:' || {uid(1, "g")}::text || ':' || encode(sha256(('a' || g)::bytea), 'base64') || 'QUJDRA',
                'enc:v1:' || {uid(1, "g")}::text || ':' || encode(sha256(('d' || g)::bytea), 'base64'),
                'enc:v1:' || {uid(1, "g")}::text || ':' || encode(sha256(('i' || g)::bytea), 'base64'), left(md5('i' || g), 32),
                'FLOOR-' || g, '', 'Asia/Kolkata', false, false, false, now()
            FROM generate_series(%(lo)s, %(hi)s) g WHERE g %% 3 <> 2""",
        f"""INSERT INTO debtors_debt (id, workspace_id, client_id, debtor_id, reference, original_creditor, product,
                currency, original_amount_minor, balance_minor, due_date, status, status_before_hold, priority_score,
                created_at, updated_at)
            SELECT {uid(3, "g")}, %(ws)s, %(client)s, {uid(2, debtor_of_row)}, 'FLOOR-' || g, '', '', 'INR',
                1000 + g, 1000 + g, current_date + (g %% 365), 'new', '', 0, now(), now()
            FROM generate_series(%(lo)s, %(hi)s) g""",
        f"""INSERT INTO debtors_ledgerentry (id, workspace_id, debt_id, kind, amount_minor, currency, effective_on,
                posted_at, method, reference, memo)
            SELECT {uid(4, "g")}, %(ws)s, {uid(3, "g")}, 'charge', 1000 + g, 'INR', current_date, now(), '', '',
                'Placed balance'
            FROM generate_series(%(lo)s, %(hi)s) g""",
        f"""INSERT INTO debtors_debtevent (id, workspace_id, debt_id, kind, summary, amount_minor, object_type,
                object_id, created_at)
            SELECT {uid(5, "g")}, %(ws)s, {uid(3, "g")}, 'ledger.charge', 'Charge ' || (1000 + g) || ' INR', 1000 + g,
                'ledgerentry', {uid(4, "g")}::text, now()
            FROM generate_series(%(lo)s, %(hi)s) g""",
    ]
    started = time.perf_counter()
    for lo in range(0, rows, FLOOR_CHUNK):
        params = {"base": base[:8] + "-" + base[8:12], "ws": ws, "wk": wk.pk, "client": client_id}
        params.update(lo=lo, hi=min(rows, lo + FLOOR_CHUNK) - 1)
        with transaction.atomic(), connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement, params)
    return time.perf_counter() - started


def run(quick: bool) -> list[Row]:
    rows = row_count(quick)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    VAR_BENCH.mkdir(parents=True, exist_ok=True)
    path = VAR_BENCH / f"placements-{rows}-{stamp}.csv"
    log = VAR_BENCH / f"placements-{stamp}.log"
    workspace = make_workspace(stamp)
    from placements.imports import generate_placements_csv

    try:
        started = time.perf_counter()
        generate_placements_csv(path, rows, clients=[ref for _, ref in CLIENTS])
        size_mb = path.stat().st_size / 1e6
        print(
            f"  wrote {path.relative_to(REPO)}: {rows:,} rows, {size_mb:.0f} MB in {time.perf_counter() - started:.1f} s"
        )
        table = f"bench_copy_{stamp.replace('-', '_')}"
        copied, before = copy_file(path, table)
        print(f"  COPY before: {copied:,} rows in {before:.1f} s")
        if copied != rows:
            raise RuntimeError(f"COPY loaded {copied} rows, expected {rows}")
        print(f"  importing into workspace {workspace.slug} (log: {log.relative_to(REPO)}) …")
        child = run_import(workspace, path, log)
        print(f"  import: {child.seconds:.1f} s, CPU {child.cpu_seconds:.1f} s, peak RSS {child.peak_mb:.0f} MB")
        _, after = copy_file(path, table)
        print(f"  COPY after: {rows:,} rows in {after:.1f} s")
        floor = database_floor(make_workspace(f"{stamp}-floor"), rows)
        print(f"  database floor: {rows:,} rows' worth stored set-based in {floor:.1f} s")
    finally:
        path.unlink(missing_ok=True)
    if child.returncode != 0:
        raise RuntimeError(f"import_placements exited with {child.returncode} (log: {log}):\n{child.output[-2000:]}")
    print("  " + "\n  ".join(child.output.strip().splitlines()[-2:]))
    log.unlink(missing_ok=True)
    checked = check_import(workspace, rows)
    job = checked["job"]
    if not checked["complete"] or checked["drift"]:
        raise RuntimeError(
            f"import incomplete or inconsistent: status {job.status}, {job.processed_rows} rows processed, "
            f"{job.created_count} created, {job.rejected_count} rejected, {checked['debts']} debts, "
            f"{checked['drift']} with balance ≠ ledger sum; error {job.error!r}"
        )
    copy_rate = (rows / before + rows / after) / 2
    command_rate = rows / child.seconds
    out = [
        Row(
            f"baseline: COPY {rows:,} CSV rows into an unindexed text table",
            copy_rate,
            "rows/s",
            copy_rate,
            1.0,
            f"{before:.1f} s before the import, {after:.1f} s after (mean rate); {size_mb:.0f} MB file, "
            "12 text columns, no index or constraint, commit included",
        ),
        Row(
            f"CollectPro: manage.py import_placements, {rows:,} rows",
            command_rate,
            "rows/s",
            copy_rate,
            command_rate / copy_rate,
            f"{child.seconds:.1f} s for the whole command; {_verdict(child.seconds, rows)}; "
            f"{halves(child.samples, rows, child.seconds) or 'no progress samples'}; "
            f"{_memory(child.peak_mb)}; CPU of the command and its worker processes {child.cpu_seconds:.1f} s "
            f"on {os.cpu_count()} CPUs; created {job.created_count:,} debts and "
            f"{checked['debtors']:,} debtors, rejected {job.rejected_count:,}; "
            f"balance = ledger sum for all {checked['debts']:,} debts",
        ),
    ]
    floor_rate = rows / floor
    out.append(
        Row(
            "floor: PostgreSQL alone storing the same rows (no validation, no encryption)",
            floor_rate,
            "rows/s",
            copy_rate,
            floor_rate / copy_rate,
            f"{floor:.1f} s: per row a debt, its charge and its timeline event, and per two rows in three a debtor "
            "and its data key, by INSERT … SELECT FROM generate_series in transactions of 5,000 rows, into the "
            "real tables with their indexes and deferred foreign-key checks (run after the import, on top of its "
            "rows); the import cannot be faster than this on this database",
        )
    )
    if checked["job_seconds"]:
        job_rate = rows / checked["job_seconds"]
        out.append(
            Row(
                "CollectPro: the import job alone (started → finished)",
                job_rate,
                "rows/s",
                copy_rate,
                job_rate / copy_rate,
                f"{checked['job_seconds']:.1f} s: counting pass, chunks of 5,000 rows (one transaction each), "
                "rejects and audit; without start-up, checks and storing the upload",
            )
        )
    return out
