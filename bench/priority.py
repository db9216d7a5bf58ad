"""The hourly priority re-scoring (``debtors.services.priority.priorities_refresh``) on the
workspace of 1,000,000 debts seeded by ``seed_million``.

Three timings, in one transaction that is rolled back at the end (the seeded workspace,
shared with ``api_list`` and ``pages``, keeps its scores):

* **baseline** — ``UPDATE`` every debt of the workspace to its own priority score: the
  cheapest statement that rewrites every row (and its index entries), as a first
  re-scoring must;
* **first run** — ``priorities_refresh`` on scores it has never computed (the seed's are
  random): nearly every row changes;
* **steady state** — ``priorities_refresh`` again at once: every score is evaluated and
  none changes, as in most hourly runs (only debts crossing a band boundary change).

Rates are debts per second; the ratio is against the baseline in the same run.
"""

from __future__ import annotations

import time
from typing import Any

from bench import Row

VENDORS = ("postgresql",)
RUN_MODE = "one pass of each case over the seeded 1,000,000-debt workspace, rolled back"


class _Rollback(Exception):
    pass


def run(quick: bool) -> list[Row]:
    from django.db import connection, transaction

    from bench.seed_million import ensure, scale_for
    from debtors.models import Debt
    from debtors.services.priority import priorities_refresh
    from kernel.tenancy import workspace_context

    seeded = ensure(scale_for(quick))
    ws = seeded.workspace
    debts = seeded.debt_count
    timings: dict[str, Any] = {}
    try:
        with workspace_context(ws), transaction.atomic():
            started = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE debtors_debt SET priority_score = priority_score WHERE workspace_id = %s", [ws.pk]
                )
                rewritten = cursor.rowcount
            timings["baseline"] = (rewritten, time.perf_counter() - started)
            started = time.perf_counter()
            first = priorities_refresh(workspace_id=ws.pk)
            timings["first"] = (first, time.perf_counter() - started)
            started = time.perf_counter()
            again = priorities_refresh(workspace_id=ws.pk)
            timings["steady"] = (again, time.perf_counter() - started)
            top = (
                Debt.objects.for_workspace(ws).order_by("-priority_score").values_list("priority_score", flat=True)[:1]
            )
            timings["top"] = list(top)
            raise _Rollback
    except _Rollback:
        pass
    base_rows, base_seconds = timings["baseline"]
    base_rate = debts / base_seconds
    rows = [
        Row(
            f"baseline: UPDATE all {debts:,} debts to their own score",
            base_rate,
            "debts/s",
            base_rate,
            1.0,
            f"{base_seconds:.1f} s; {base_rows:,} rows rewritten, one statement",
        )
    ]
    for key, label in (("first", "first re-scoring"), ("steady", "steady state (an hourly run)")):
        changed, seconds = timings[key]
        rate = debts / seconds
        rows.append(
            Row(
                f"CollectPro: priorities_refresh, {label}",
                rate,
                "debts/s",
                base_rate,
                rate / base_rate,
                f"{seconds:.1f} s; {changed:,} scores changed of {debts:,}; highest score {timings['top'][0]}",
            )
        )
    return rows
