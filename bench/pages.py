"""The work queue and the dashboard with 1,000,000 debts in a workspace, rendered in-process.

Issue requirement: "With 1,000,000 debts in a workspace, the queue and the dashboard
each render in under 300 ms at the server (report p50/p95 in docs/PERFORMANCE.md, with
the query count per page)".

* Data: the workspace of ``bench/seed_million.py`` (seeded first if missing).
* Client: ``django.test.Client`` in this process, logged in as the workspace owner
  (``force_login``; the owner sees every debt), through the whole middleware stack
  (sessions, auth, allauth, axes, CSP, ``TenancyMiddleware`` and its transaction). A
  sample is the wall time of one ``client.get``: the server's work plus the test
  client's small overhead, with no network.
* Pages: ``/w/<slug>/debts/`` first page (default order: priority), a deep page (the
  cursor after row 500,000 of that order, i.e. page 20,001 of 25 rows), a filtered page
  (``?status=active``), a search (``?q=`` a debtor's email); ``/w/<slug>/`` (the dashboard)
  uncached (the cache is cleared before each sample, untimed) and cached (warm).
* Baseline: ``/healthz/`` requested the same way by the same logged-in client: the whole
  middleware stack plus ``SELECT 1``, i.e. the cheapest page the server can render.
* ``SAMPLES`` (30) samples per page after untimed warm-up requests (one of them the one
  whose queries are counted), interleaved: each round times every page once, in a rotating order, so a slow phase of the machine hits all pages alike. The ratio is
  the median over rounds of (baseline time / page time) within the same round (1 = as
  fast as /healthz/). A page that has used up ``SECONDS_PER_PAGE`` stops early (the
  row says how many samples it got).
* SQL statements per page: counted once per page with ``CaptureQueriesContext``
  (reported as queries + transaction-control statements).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from bench import Row
from bench import seed_million as seeding

VENDORS = ("postgresql",)
RUN_MODE = "in-process django.test.Client, 30 interleaved samples per page, median ratio against /healthz/"

SAMPLES = 30
SECONDS_PER_PAGE = 60.0
TARGET_MS = 300.0
DEEP_ROW = 500_000
SEARCH_DEBTOR = 1717
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Page:
    key: str
    name: str
    url: str
    before: Callable[[], None] | None = None  # untimed, before each sample
    notes: str = ""
    times: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    spent: float = 0.0
    queries: int = 0
    control: int = 0
    slowest_query: tuple[float, str] = (0.0, "")


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _deep_cursor(workspace: Any, rank: int) -> str:
    """The queue's own cursor after the row at ``rank`` (1-based) of the default order."""
    from debtors.models import Debt
    from debtors.queue import ORDERINGS, encode_cursor

    fields = ORDERINGS["priority"][0]
    debt = Debt.objects.for_workspace(workspace).order_by(*fields)[rank - 1 : rank].get()
    return encode_cursor(debt, "priority")


def build_pages(seeded: seeding.Seeded) -> list[Page]:
    from django.core.cache import cache

    slug = seeded.workspace.slug
    deep_rank = min(DEEP_ROW, seeded.debt_count // 2)
    email = seeding.debtor_email(min(SEARCH_DEBTOR, seeded.scale.debtors))
    queue = f"/w/{slug}/debts/"
    dashboard = f"/w/{slug}/"
    return [
        Page("healthz", "baseline: /healthz/ (logged in)", "/healthz/", notes="middleware stack + SELECT 1"),
        Page("queue", "queue: first page", queue, notes="order: priority"),
        Page(
            "deep",
            f"queue: deep page (cursor after row {deep_rank:,})",
            f"{queue}?{urlencode({'cursor': _deep_cursor(seeded.workspace, deep_rank)})}",
            notes=f"page {deep_rank // 25 + 1:,} of 25 rows",
        ),
        Page("status", "queue: ?status=active", f"{queue}?status=active"),
        Page(
            "search",
            "queue: search a debtor's email",
            f"{queue}?{urlencode({'q': email})}",
            notes="?q=debtorNNNNN@…, exact match",
        ),
        Page(
            "dash",
            "dashboard: uncached",
            dashboard,
            before=cache.clear,
            notes="cache cleared before each sample",
        ),
        Page("dashc", "dashboard: cached", dashboard, notes="figures from the 60 s cache"),
    ]


def _count_queries(client: Any, page: Page) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    if page.before:
        page.before()  # the uncached dashboard: its one-off loads were paid by the pages before it
    else:
        client.get(page.url)  # warm-up: one-off loads (and the dashboard's cache for the cached case)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(page.url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {page.url}: HTTP {response.status_code}")
    statements = [q["sql"] for q in captured.captured_queries]
    page.control = sum(1 for s in statements if s.split(" ", 1)[0].upper() in CONTROL)
    page.queries = len(statements) - page.control
    slowest = max(captured.captured_queries, key=lambda q: float(q["time"] or 0), default=None)
    if slowest is not None:
        page.slowest_query = (float(slowest["time"] or 0), slowest["sql"])


def _sample(client: Any, page: Page) -> float:
    import gc

    if page.before:
        page.before()
    elif page.key == "dashc":
        client.get(page.url)  # make sure the cache is warm (an uncached sample may have cleared it)
    gc.collect()
    started = time.perf_counter()
    response = client.get(page.url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {page.url}: HTTP {response.status_code}")
    page.spent += elapsed
    return elapsed


def measure(client: Any, pages: list[Page], samples: int, seconds: float) -> None:
    """``samples`` rounds (``_count_queries`` has warmed every page up)."""
    baseline = pages[0]
    for r in range(samples):
        rest = pages[1:]
        shift = r % len(rest)
        order = [baseline, *rest[shift:], *rest[:shift]]
        timed: dict[str, float] = {}
        for page in order:
            if page is not baseline and page.spent > seconds:
                continue
            timed[page.key] = _sample(client, page)
            page.times.append(timed[page.key])
        for page in rest:
            if page.key in timed:
                page.ratios.append(timed["healthz"] / timed[page.key])
        if r % 5 == 4:
            print(
                f"  {r + 1} rounds: "
                + ", ".join(f"{p.key} {statistics.median(p.times) * 1000:.0f} ms" for p in pages if p.times),
                flush=True,
            )


def _rows(pages: list[Page]) -> list[Row]:
    baseline = pages[0]
    base_rate = 1 / statistics.median(baseline.times)
    rows = []
    for page in pages:
        p50, p95 = statistics.median(page.times) * 1000, _percentile(page.times, 0.95) * 1000
        parts = [f"p50 {p50:.1f} ms, p95 {p95:.1f} ms"]
        if page is not baseline:
            parts.append(f"{'under' if p50 < TARGET_MS else 'OVER'} {TARGET_MS:.0f} ms at p50")
        parts.append(f"{page.queries} SQL queries + {page.control} BEGIN/COMMIT")
        if page is not baseline and page.slowest_query[0] >= 0.05:
            parts.append(f"slowest query {page.slowest_query[0] * 1000:.0f} ms")
        parts.append(f"{len(page.times)} samples")
        if page.ratios:
            parts.append(f"ratio {min(page.ratios):.3g}–{max(page.ratios):.3g}")
        if page.notes:
            parts.append(page.notes)
        ratio = statistics.median(page.ratios) if page.ratios else 1.0
        rows.append(Row(page.name, 1000 / p50, "pages/s at p50", base_rate, ratio, "; ".join(parts)))
    return rows


def run(quick: bool) -> list[Row]:
    from django.test import Client

    seeded = seeding.ensure(seeding.scale_for(quick))
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(seeded.owner, backend="django.contrib.auth.backends.ModelBackend")
    pages = build_pages(seeded)
    client.get("/healthz/")  # first request of the session: one-off loads, not counted
    for page in pages:  # in order, so "dashboard: cached" is counted with a warm cache
        _count_queries(client, page)
    measure(client, pages, 5 if quick else SAMPLES, 20.0 if quick else SECONDS_PER_PAGE)
    for page in pages:
        if page.slowest_query[0] >= 0.1:
            print(
                f"  slowest query of {page.name}: {page.slowest_query[0] * 1000:.0f} ms: {page.slowest_query[1][:400]}"
            )
    return _rows(pages)
