"""Purge 1,000,000 expired records, against a raw batched DELETE of the same rows in
the same run.

Issue requirement: "Purge 1,000,000 expired records: at most 2× the time of a raw
batched DELETE of the same rows measured in the same run; no transaction over 1 s."

* Store: ``consent.contact_attempts`` (registered by the consent app): the contact
  rules engine's decisions (``consent_contactattempt``, a tenant table under row-level
  security), deleted ``COLLECTION_RECORDS`` (3 years) after the last collection activity
  on a debt that is over, unless a legal hold covers the debt or a dispute is open.
  Its ``due`` is the real one: a join to the debts that are over, their disputes and
  the workspace's holds.
* Data: two new workspaces (India), each with 200 closed debts made through the
  services and aged 6 years, and N contact decisions (default 1,000,000) at the same
  times in both, spread over a year that ended 5 years ago, ids UUIDv7 of their time as
  the app makes them; loaded set-based (``INSERT … SELECT`` over ``generate_series``,
  indexes rebuilt after), committed, and ``VACUUM (ANALYZE)``-ed.
* Rounds: both copies are purged in ``ROUNDS`` slices (a later "now" makes the next
  slice due), alternating which goes first, so a noisy moment on the shared machine
  hits both; the totals are compared.
* Baseline: on the first copy, ``DELETE FROM consent_contactattempt WHERE id IN
  (SELECT id … WHERE workspace_id = %s AND decided_at < %s LIMIT 2000)`` in a loop, each
  batch its own transaction inside ``workspace_context`` (so under row-level security
  as the application role when ``TENANCY_DB_ROLE`` is set, as in production), until a
  batch deletes fewer than 2,000.
* CollectPro: on the second copy, ``retention.engine.purge_run`` for that one store
  (``--category consent.contact_attempts``) with ``now`` set to the round's cutoff plus
  the period, as the nightly job runs it: the same batch size (the store's, 2,000),
  each batch's due query, delete, count and progress in one transaction, the PurgeRun
  receipt and its audit events.
* Longest transaction: each batch's time in the baseline; for the purge, the time
  between two ``on_progress`` calls (one per committed batch), which bounds the batch's
  transaction from above (the first also holds the run's start and the hold sync).
* Reported: rows per second of each, the ratio (purge rate / baseline rate: at least
  0.5 meets "at most 2× the time"), and the longest transaction of each.

Run: ``DATABASE_URL=postgres://…/collectpro_bench_retention TENANCY_DB_ROLE=collectpro_app
python -m bench retention`` (``--quick``: 50,000 rows), or ``python -m bench.retention
--n 100000`` to print a smaller run without touching docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench import Row, bench_workspace

VENDORS = ("postgresql",)
RUN_MODE = "one purge of N expired rows per copy, the baseline on an identical copy in the same run"
STORE = "consent.contact_attempts"
N_DEFAULT = 1_000_000
N_QUICK = 50_000
DEBTS = 200
TARGET_RATIO = 2.0  # at most 2× the baseline's time
TARGET_TRANSACTION_S = 1.0
# The copies' contact decisions: one year each, the first copy's a year older.
SPAN_DAYS = 365
OLDEST_YEARS_AGO = 6
ROUNDS = 5  # the copies are purged in slices, alternating which goes first, so a noisy moment hits both


@dataclass
class Timing:
    rows: int
    seconds: float
    batches: int
    longest: float  # seconds, the longest single transaction (batch)

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def _debts(workspace: Any, now: datetime) -> None:
    """DEBTS closed debts in ``workspace`` (through the services), aged 6 years."""
    from accounts.services import client_create
    from debtors.models import Debt, DebtStatus
    from debtors.services.debtors import DebtorInput, debtor_create
    from debtors.services.debts import DebtInput, debt_change_status, debt_create
    from kernel.tenancy import workspace_context

    with workspace_context(workspace):
        client = client_create(workspace=workspace, name="Bench Bank", reference="BENCHBANK")
        for i in range(DEBTS):
            debtor = debtor_create(workspace=workspace, data=DebtorInput(full_name=f"Bench Debtor {i}"))
            debt = debt_create(
                workspace=workspace,
                client=client,
                debtor=debtor,
                data=DebtInput(reference=f"RET-{i:05d}", original_amount_minor=10_000, currency=workspace.currency),
            )
            debt_change_status(debt=debt, status=DebtStatus.CLOSED)
    aged = now - timedelta(days=OLDEST_YEARS_AGO * 365 + 30)
    Debt.unscoped.filter(workspace=workspace).update(created_at=aged, updated_at=aged)


def _seed(workspaces: list[Any], n: int, oldest: datetime) -> float:
    """N contact decisions per workspace over the year from ``oldest`` (the same times in
    each), set-based; returns the seconds it took."""
    from django.db import transaction

    from bench.seed_million import _bulk_load, _execute, _uuid7, insert_select_sql
    from consent.models import ContactAttempt

    started = time.perf_counter()
    table = ContactAttempt._meta.db_table
    with transaction.atomic():
        _execute("SET LOCAL work_mem = '64MB'")
        _execute("SET CONSTRAINTS ALL IMMEDIATE")
        with _bulk_load(table):
            for workspace in workspaces:
                ts = f"(timestamptz '{oldest.isoformat()}' + (g.n::float8 / {n}) * interval '{SPAN_DAYS} days')"
                sql = insert_select_sql(
                    ContactAttempt,
                    {
                        "id": _uuid7(ts),
                        "workspace_id": str(int(workspace.pk)),
                        "debt_id": f"d.ids[1 + (g.n % {DEBTS})]",
                        "channel": "(ARRAY['email', 'sms', 'call', 'whatsapp'])[1 + (g.n % 4)::int]",
                        "allowed": "(g.n % 5 <> 0)",
                        "reasons": "CASE WHEN g.n % 5 = 0 THEN '[\"outside contact hours\"]'::jsonb "
                        "ELSE '[]'::jsonb END",
                        "decided_at": ts,
                    },
                    f"generate_series(1, {n}) AS g(n), (SELECT array_agg(id ORDER BY id) AS ids FROM debtors_debt "
                    f"WHERE workspace_id = {int(workspace.pk)}) AS d",
                )
                inserted = _execute(sql)
                if inserted != n:
                    raise RuntimeError(f"seeded {inserted:,} contact decisions, expected {n:,}")
    _vacuum(table)
    return time.perf_counter() - started


def _vacuum(table: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {connection.ops.quote_name(table)}")


def _raw_delete(workspace: Any, cutoff: datetime, batch: int) -> Timing:
    """The baseline: a batched DELETE loop, each batch its own transaction in the
    workspace's tenancy (row-level security as the application role)."""
    from django.db import connection

    from kernel.tenancy import workspace_context

    sql = (
        "DELETE FROM consent_contactattempt WHERE id IN "
        "(SELECT id FROM consent_contactattempt WHERE workspace_id = %s AND decided_at < %s LIMIT %s)"
    )
    rows = batches = 0
    longest = 0.0
    started = time.perf_counter()
    while True:
        began = time.perf_counter()
        with workspace_context(workspace), connection.cursor() as cursor:
            cursor.execute(sql, [workspace.pk, cutoff, batch])
            done = max(cursor.rowcount, 0)
        longest = max(longest, time.perf_counter() - began)
        rows += done
        batches += 1
        if done < batch:
            break
    return Timing(rows, time.perf_counter() - started, batches, longest)


def _purge(workspace: Any, as_of: datetime) -> tuple[Timing, Any]:
    """CollectPro: purge_run for the one store, each batch timed by its progress call."""
    from retention.engine import purge_run
    from retention.models import RunTrigger

    gaps: list[float] = []
    last = [time.perf_counter()]

    def on_progress(store: str, acted: int) -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    started = time.perf_counter()
    run = purge_run(workspace=workspace, category=STORE, trigger=RunTrigger.NIGHTLY, now=as_of, on_progress=on_progress)
    seconds = time.perf_counter() - started
    return Timing(int(run.total), seconds, len(gaps), max(gaps, default=0.0)), run


def _left(workspace: Any) -> int:
    from consent.models import ContactAttempt

    return int(ContactAttempt.unscoped.filter(workspace=workspace).count())


def _add(total: Timing, part: Timing) -> Timing:
    return Timing(
        total.rows + part.rows,
        total.seconds + part.seconds,
        total.batches + part.batches,
        max(total.longest, part.longest),
    )


def measure(n: int, *, rounds: int = ROUNDS, verbose: bool = True) -> list[Row]:
    from kernel.retention import period_days, store_named

    store = store_named(STORE)
    if store is None:
        raise RuntimeError(f"no retention store {STORE!r} is registered")
    now = datetime.now(UTC)
    began = time.perf_counter()
    raw_ws, purge_ws = bench_workspace("retention-raw"), bench_workspace("retention-purge")
    for ws in (raw_ws, purge_ws):
        _debts(ws, now)
    _vacuum("debtors_debt")  # the new workspaces' debts in the planner's statistics, as in production
    oldest = now - timedelta(days=OLDEST_YEARS_AGO * 365)
    seed_s = _seed([raw_ws, purge_ws], n, oldest)
    if verbose:
        print(f"seeded 2 × {n:,} contact decisions in {seed_s:.1f} s ({time.perf_counter() - began:.1f} s in all)")
    batch = store.batch_size
    period = timedelta(days=period_days(purge_ws, store.rule))
    raw, ours = Timing(0, 0.0, 0, 0.0), Timing(0, 0.0, 0, 0.0)
    ratios: list[float] = []
    errors: list[Any] = []
    for i in range(1, rounds + 1):
        # Each round, a later "now" makes the next slice of both copies due.
        cutoff = (
            oldest + timedelta(days=SPAN_DAYS * i / rounds) + (timedelta(seconds=1) if i == rounds else timedelta())
        )
        as_of = cutoff + period
        if i % 2:
            part_raw = _raw_delete(raw_ws, cutoff, batch)
            part_ours, run = _purge(purge_ws, as_of)
        else:
            part_ours, run = _purge(purge_ws, as_of)
            part_raw = _raw_delete(raw_ws, cutoff, batch)
        errors += list(run.errors)
        raw, ours = _add(raw, part_raw), _add(ours, part_ours)
        ratios.append(part_ours.seconds / part_raw.seconds)
        if verbose:
            print(
                f"round {i}: baseline {part_raw.rows:,} rows in {part_raw.seconds:.2f} s, "
                f"purge {part_ours.rows:,} in {part_ours.seconds:.2f} s ({ratios[-1]:.2f}×)"
            )
    if raw.rows != n or ours.rows != n or _left(raw_ws) or _left(purge_ws):
        raise RuntimeError(
            f"expected {n:,} rows gone from each copy: baseline {raw.rows:,} (left {_left(raw_ws):,}), "
            f"purge {ours.rows:,} (left {_left(purge_ws):,}; errors {errors})"
        )
    time_ratio = ours.seconds / raw.seconds
    met = "met" if time_ratio <= TARGET_RATIO else "NOT met"
    tx_met = "met" if ours.longest <= TARGET_TRANSACTION_S else "NOT met"
    if verbose:
        print(
            f"baseline {raw.seconds:.1f} s ({raw.batches} batches, longest {raw.longest * 1000:.0f} ms); "
            f"purge {ours.seconds:.1f} s ({ours.batches} batches, longest {ours.longest * 1000:.0f} ms); "
            f"{time_ratio:.2f}× the baseline's time"
        )
    return [
        Row(
            f"baseline: batched DELETE … WHERE id IN (SELECT … LIMIT {batch:,}), {n:,} rows",
            raw.rate,
            "rows/s",
            raw.rate,
            1.0,
            f"{raw.seconds:.1f} s, {raw.batches} transactions, longest {raw.longest * 1000:.0f} ms",
        ),
        Row(
            f"purge_run ({STORE}): {n:,} expired rows",
            ours.rate,
            "rows/s",
            raw.rate,
            raw.seconds / ours.seconds,
            f"{ours.seconds:.1f} s = {time_ratio:.2f}× the baseline's time (target ≤ {TARGET_RATIO:.0f}× {met}; "
            f"per round {min(ratios):.2f}–{max(ratios):.2f}×); {ours.batches} batches, longest transaction "
            f"≤ {ours.longest * 1000:.0f} ms (target ≤ {TARGET_TRANSACTION_S:.0f} s {tx_met})",
        ),
    ]


def run(quick: bool) -> list[Row]:
    return measure(N_QUICK if quick else N_DEFAULT)


def main(argv: list[str]) -> int:
    """``python -m bench.retention --n N``: the same measurement with N rows per copy.
    Printed, never written to docs/PERFORMANCE.md."""
    parser = argparse.ArgumentParser(prog="python -m bench.retention", description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=N_QUICK, help=f"expired rows per copy (default {N_QUICK:,})")
    parser.add_argument("--any-database", action="store_true", help='allow a DATABASE_URL whose name lacks "bench"')
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")

    from bench.__main__ import configure_environment, describe_database, print_table, setup_django

    if configure_environment(args) is not None:
        sys.exit("bench.retention seeds with PostgreSQL-only SQL: set DATABASE_URL to a PostgreSQL *bench* database.")
    setup_django(None)
    _vendor, database = describe_database(throwaway=False)
    print(f"database: {database}")
    started = time.perf_counter()
    rows = measure(args.n)
    print_table(f"retention on {args.n:,} rows per copy ({time.perf_counter() - started:.1f} s)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
