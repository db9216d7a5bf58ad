"""The access export of one debtor among 1,000,000 debts (issue 12: "at most 2 s of work
on the 2-core machine; report the ratio to reading the same rows with plain SQL").

On the workspace ``seed_million`` seeds (``--quick``: its 50,000-debt one), the debtor
with the most debts is picked and given a few notes and logged calls through the
services (the seed makes none), then, interleaved, ``REPEATS`` times each:

* **baseline** — the same rows read with plain SQL: every query the export makes of the
  registry (``rows_for_subject``: each declared model's rows about the debtor, declared
  columns only) and of the summary (debts and parties with their client, disclosures),
  as ``SELECT`` statements run on a cursor, rows fetched, nothing decrypted;
* **registry read** — ``export_archive.person_records``: the same rows as model
  instances, every declared value decrypted (cold key cache each time);
* **access export** — ``exports.export_build`` on a fresh verified request: read and
  decrypt, JSON + CSV + HTML summary, ZIP, encrypt under the workspace key, store,
  audit, timeline (cold key cache each time).

Everything happens in one transaction that is rolled back (the seeded workspace, shared
with other benchmarks, is left as it was); files go to a temporary directory. Rates are
operations per second; each ratio is the median over the repeats of (case rate /
baseline rate) in the same repeat. Median seconds per export are in the notes, against
the 2 s target.

Small databases: ``python -m bench.privacy --debts 5000`` seeds (once) and measures a
workspace of that many debts (50 per debtor, as the big one), printing only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from typing import Any

from bench import Row

VENDORS = ("postgresql",)
RUN_MODE = "median of the repeats, each export against plain SQL reads of the same rows in the same repeat; rolled back"
REPEATS = 7
QUICK_REPEATS = 3
TARGET_SECONDS = 2.0
EXTRA_NOTES = 10  # the seed writes no notes or calls; a debtor being collected has some
EXTRA_CALLS = 10
SQL_LOOPS = 20  # the baseline is short: each repeat runs it this many times and takes the mean


class _Rollback(Exception):
    pass


def _busiest_debtor(workspace: Any) -> tuple[Any, int]:
    from django.db.models import Count

    from debtors.models import Debt, Debtor

    top = (
        Debt.objects.for_workspace(workspace)
        .values("debtor_id")
        .annotate(n=Count("id"))
        .order_by("-n", "debtor_id")
        .first()
    )
    assert top is not None, "the workspace has no debts"
    return Debtor.objects.for_workspace(workspace).get(pk=top["debtor_id"]), top["n"]


def _plain_sql(workspace: Any, debtor: Any) -> list[tuple[str, list[Any]]]:
    """(sql, params) of every read the export makes, as plain SELECTs of the columns it uses."""
    from consent.models import Disclosure
    from debtors.models import Debt, DebtParty
    from kernel.models import TenantModel
    from kernel.privacy.registry import declarations

    querysets = []
    for decl in declarations():
        if decl.subject_type != "debtor":
            continue
        lookup = "pk" if decl.subject == "self" else decl.subject
        model: Any = decl.model
        qs = model.objects.for_workspace(workspace) if issubclass(model, TenantModel) else model._default_manager.all()
        querysets.append(qs.filter(**{lookup: debtor.pk}).order_by("pk").values_list("pk", *decl.fields))
    querysets += [
        Debt.objects.for_workspace(workspace)
        .filter(debtor_id=debtor.pk)
        .values_list("client__name", "reference", "original_creditor", "created_at"),
        DebtParty.objects.for_workspace(workspace)
        .filter(debtor_id=debtor.pk)
        .values_list("debt__client__name", "debt__reference", "role"),
        Disclosure.objects.for_workspace(workspace)
        .filter(debtor_id=debtor.pk)
        .values_list("recipient_name", "purpose"),
    ]
    return [qs.query.sql_with_params() for qs in querysets]  # type: ignore[misc]


def _read_sql(statements: list[tuple[str, list[Any]]]) -> int:
    from django.db import connection

    rows = 0
    with connection.cursor() as cursor:
        for sql, params in statements:
            cursor.execute(sql, params)
            rows += len(cursor.fetchall())
    return rows


def _timed(call: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def measure(seeded: Any, repeats: int) -> list[Row]:
    from django.conf import settings
    from django.db import transaction
    from django.test import override_settings

    from communications.log import communication_log
    from debtors.services.records import note_add
    from kernel.crypto import keyring
    from kernel.tenancy import workspace_context
    from privacy_requests import export_archive, exports
    from privacy_requests.services import privacy_request_create

    workspace = seeded.workspace
    results: dict[str, Any] = {"sql": [], "read": [], "export": [], "ratio_read": [], "ratio_export": []}
    with tempfile.TemporaryDirectory(prefix="bench-privacy-") as storage_dir:
        storage = {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": storage_dir}}
        try:
            with (
                override_settings(STORAGES={**settings.STORAGES, "default": storage}),
                workspace_context(workspace),
                transaction.atomic(),
            ):
                debtor, debts = _busiest_debtor(workspace)
                first_debt = debtor.debts.order_by("created_at").first()
                for i in range(EXTRA_NOTES):
                    note_add(debt=first_debt, body=f"Bench note {i}: asked to call back after payday")
                for i in range(EXTRA_CALLS):
                    communication_log(
                        debt=first_debt, channel="call", direction="inbound", content=f"Bench call {i}: disputes fees"
                    )
                statements = _plain_sql(workspace, debtor)

                def new_request() -> Any:
                    return privacy_request_create(
                        workspace=workspace, type="access", channel="phone", debtor=debtor, verified_by="benchmark"
                    )

                def read() -> list[Any]:
                    keyring.clear_cache()
                    return export_archive.person_records(
                        subject_type="debtor", subject_id=debtor.pk, workspace=workspace
                    )

                def export(request: Any) -> Any:
                    keyring.clear_cache()
                    return exports.export_build(request=request)

                export(new_request())  # warm-up: templates, imports, query plans
                for _ in range(repeats):
                    sql_seconds, sql_rows = _timed(lambda: [_read_sql(statements) for _ in range(SQL_LOOPS)])
                    sql_seconds /= SQL_LOOPS
                    read_seconds, record_types = _timed(read)
                    request = new_request()
                    export_seconds, file = _timed(lambda request=request: export(request))
                    results["sql"].append(sql_seconds)
                    results["read"].append(read_seconds)
                    results["export"].append(export_seconds)
                    results["ratio_read"].append(sql_seconds / read_seconds)
                    results["ratio_export"].append(sql_seconds / export_seconds)
                results["rows"] = sql_rows[0]
                results["statements"] = len(statements)
                results["records"] = sum(len(rt.records) for rt in record_types)
                results["kinds"] = len(record_types)
                results["zip_bytes"] = file.size_bytes
                results["debts"] = debts
                raise _Rollback
        except _Rollback:
            pass
    sql_s = statistics.median(results["sql"])
    read_s = statistics.median(results["read"])
    export_s = statistics.median(results["export"])
    met = "met" if export_s <= TARGET_SECONDS else "NOT met"
    n = len(results["export"])

    def spread(key: str) -> str:
        values = results[key]
        return f"{min(values) * 1000:,.0f}–{max(values) * 1000:,.0f} ms"

    scale = f"{results['debts']} of {seeded.scale.debts:,} debts"
    return [
        Row(
            f"baseline: plain SQL SELECT of the same rows ({results['statements']} queries)",
            1 / sql_s,
            "ops/s",
            1 / sql_s,
            1.0,
            f"{sql_s * 1000:.1f} ms per read of {results['rows']} rows (mean of {SQL_LOOPS}, median of {n})",
        ),
        Row(
            "registry read: person_records (instances, every value decrypted)",
            1 / read_s,
            "ops/s",
            1 / sql_s,
            statistics.median(results["ratio_read"]),
            f"median {read_s * 1000:,.0f} ms ({spread('read')}); {results['records']} records of {results['kinds']} kinds",
        ),
        Row(
            "access export of one debtor: export_build (read, ZIP of JSON + CSV + HTML, encrypt, store, audit)",
            1 / export_s,
            "ops/s",
            1 / sql_s,
            statistics.median(results["ratio_export"]),
            f"median {export_s * 1000:,.0f} ms ({spread('export')}) over {n} repeats; target ≤ {TARGET_SECONDS:.0f} s {met}; "
            f"debtor with {scale}, +{EXTRA_NOTES} notes, +{EXTRA_CALLS} calls; ZIP {results['zip_bytes']:,} bytes",
        ),
    ]


def run(quick: bool) -> list[Row]:
    from bench.seed_million import ensure, scale_for

    return measure(ensure(scale_for(quick)), QUICK_REPEATS if quick else REPEATS)


def main(argv: list[str]) -> int:
    """``python -m bench.privacy --debts N``: the same measurement on a workspace of N
    debts (seeded once by seed_million, then reused). Printed, never written to the docs."""
    parser = argparse.ArgumentParser(prog="python -m bench.privacy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--debts", type=int, default=5_000, help="debts in the workspace (50 per debtor)")
    parser.add_argument("--repeats", type=int, default=QUICK_REPEATS)
    parser.add_argument("--any-database", action="store_true", help='allow a DATABASE_URL whose name lacks "bench"')
    args = parser.parse_args(argv)
    if args.debts < 1:
        parser.error("--debts must be at least 1")

    from bench.__main__ import configure_environment, describe_database, print_table, setup_django

    sqlite_file = configure_environment(args)
    if sqlite_file is not None:
        sys.exit("bench.privacy seeds with PostgreSQL-only SQL: set DATABASE_URL to a PostgreSQL *bench* database.")
    setup_django(None)
    _vendor, database = describe_database(throwaway=False)
    print(f"database: {database}")

    from bench.seed_million import Scale, ensure

    label = f"{args.debts // 1000}k" if args.debts % 1000 == 0 else str(args.debts)
    seeded = ensure(Scale(label, args.debts, max(1, args.debts // 50)))
    started = time.perf_counter()
    rows = measure(seeded, args.repeats)
    print_table(f"privacy on {args.debts:,} debts ({time.perf_counter() - started:.1f} s)", rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
