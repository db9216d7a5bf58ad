"""The debt list API with 1,000,000 debts in a workspace, under gunicorn, against a plain
DRF ``ModelViewSet`` over the same table in the same run.

Issue requirement: "Debt list API with 1,000,000 debts in a workspace: report p50/p95
latency and requests/s under gunicorn, against a plain DRF ModelViewSet with page-number
pagination over the same table in the same run".

* Data: the workspace of ``bench/seed_million.py`` (seeded first if missing).
* Server: ``gunicorn collectpro.wsgi:application`` with ``DJANGO_SETTINGS_MODULE=
  bench.settings_bench`` (production settings for a loopback run), 2 sync workers (the
  production image's worker class), bound to a free port on 127.0.0.1, started in its
  own process group and stopped (SIGTERM to the group) at the end. Its access log gives
  each request's time inside the worker (``%(D)s``), as "at the server".
* Client: 4 Python threads with ``http.client`` (gunicorn's sync workers close the
  connection after each response, so a request includes the loopback connect), each
  with ``Authorization: Bearer <key>`` of a key made by ``accounts.services.
  api_key_create`` for this run (revoked afterwards).
* Endpoints, each paired with the plain one that reads the same rows:

  ========================================  ========================================
  CollectPro ``/api/v1/debts/`` (cursor)    plain ``/api/bench/plain-debts/`` (page)
  ========================================  ========================================
  first page                                ``?page=1``
  pages 2-21, following ``next`` (a chain)  ``?page=2`` … ``?page=21``
  cursor at row 99,951 (same rows as →)     ``?page=2000`` (``OFFSET 99950``)
  ``?status=active``                        ``?status=active``
  ``?search=`` a debtor's email              ``?page=1`` (the plain view has no search)
  ========================================  ========================================

* Timing: 3 rounds; in each, every endpoint gets 100 requests at concurrency 4 (fewer if
  it needs more than ``SECONDS_PER_ROUND``), endpoints in a rotating order. Each
  CollectPro endpoint's ratio is its requests/s over its plain partner's in the same
  round; the median of the 3 is reported. Latencies are the client's (from sending the
  request to reading the last byte, so with 4 clients on 2 workers they include waiting
  for a free worker) and the worker's own time from the access log.
* SQL queries per request: counted once per endpoint in-process (``django.test.Client``
  through the whole middleware stack, ``CaptureQueriesContext``), after a warm-up request.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench import Row
from bench import seed_million as seeding

VENDORS = ("postgresql",)
RUN_MODE = "gunicorn 2 workers, 4 client threads; 3 interleaved rounds of 100 requests per endpoint, median ratio"

REPO = Path(__file__).resolve().parent.parent
ROUNDS = 3
REQUESTS_PER_ROUND = 100
CONCURRENCY = 4
SECONDS_PER_ROUND = 12.0  # per endpoint and round: a slow endpoint gets fewer requests
WORKERS = 2
CHAIN_PAGES = 20
DEEP_PAGE = 2000
PAGE_SIZE = 50
SEARCH_DEBTOR = 4242
API = "/api/v1/debts/"
PLAIN = "/api/bench/plain-debts/"
SCENARIO_HEADER = "X-Bench-Scenario"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Scenario:
    key: str
    name: str
    urls: list[str]
    partner: str | None = None  # the plain scenario this one is compared with
    notes: str = ""
    latencies: list[float] = field(default_factory=list)  # seconds, client side
    server_us: list[int] = field(default_factory=list)  # microseconds, gunicorn %(D)s
    rates: list[float] = field(default_factory=list)  # requests/s per round
    ratios: list[float] = field(default_factory=list)
    queries: int | None = None
    control: int = 0  # BEGIN/COMMIT/SAVEPOINT statements among them
    errors: list[str] = field(default_factory=list)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


# --- The server ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _gunicorn() -> list[str]:
    sibling = Path(sys.executable).with_name("gunicorn")
    return [str(sibling)] if sibling.exists() else [sys.executable, "-m", "gunicorn"]


@contextlib.contextmanager
def gunicorn_server(workdir: Path) -> Iterator[tuple[int, Path]]:
    """gunicorn with bench settings on a free loopback port; yields (port, access log)."""
    from django.conf import settings

    port = _free_port()
    access_log = workdir / "access.log"
    error_log = workdir / "error.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings_bench",
        # The keys the data was sealed and indexed with (the runner's settings).
        "FIELD_ENCRYPTION_KEYS": settings.FIELD_ENCRYPTION_KEYS,
        "BLIND_INDEX_KEY": settings.BLIND_INDEX_KEY,
        "DEBUG": "false",
    }
    command = [
        *_gunicorn(),
        "collectpro.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--worker-tmp-dir",
        str(workdir),
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        f"%({{{SCENARIO_HEADER.lower()}}}i)s %(s)s %(D)s",
        "--error-logfile",
        str(error_log),
        "--timeout",
        "120",
    ]
    process = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    try:
        _wait_ready(port, process, error_log)
        yield port, access_log
    finally:
        _stop(process)


def _wait_ready(port: int, process: subprocess.Popen[bytes], error_log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}:\n{_tail(error_log)}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz/")
            if conn.getresponse().status == 200:
                conn.close()
                return
            conn.close()
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"gunicorn did not answer /healthz/ within {timeout:.0f} s:\n{_tail(error_log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to gunicorn's own process group (the arbiter and its workers), then
    SIGKILL to that group if it has not exited after 20 s."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no error log)"


# --- The client ---------------------------------------------------------------------


def _get(port: int, url: str, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def drive(port: int, scenario: Scenario, headers: dict[str, str], requests: int, seconds: float) -> float:
    """``requests`` GETs cycling through ``scenario.urls`` from ``CONCURRENCY`` threads,
    stopping early after ``seconds``; returns requests/s for this batch."""
    lock = threading.Lock()
    issued = [0]
    done: list[float] = []
    deadline = time.perf_counter() + seconds
    sent_headers = {**headers, SCENARIO_HEADER: scenario.key}

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            while True:
                with lock:
                    if issued[0] >= requests or time.perf_counter() > deadline:
                        return
                    url = scenario.urls[issued[0] % len(scenario.urls)]
                    issued[0] += 1
                started = time.perf_counter()
                conn.request("GET", url, headers=sent_headers)
                response = conn.getresponse()
                response.read()  # also lets http.client reconnect after "Connection: close"
                elapsed = time.perf_counter() - started
                with lock:
                    done.append(elapsed)
                    if response.status != 200:
                        scenario.errors.append(f"{response.status} for {url}")
        finally:
            conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(CONCURRENCY)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    scenario.latencies.extend(done)
    return len(done) / wall if wall > 0 else 0.0


def _server_times(access_log: Path, scenarios: dict[str, Scenario]) -> None:
    for line in access_log.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] in scenarios and parts[1] == "200":
            scenarios[parts[0]].server_us.append(int(parts[2]))


# --- Setting the endpoints up ---------------------------------------------------------


def _path(url: str) -> str:
    split = urlsplit(url)
    return f"{split.path}?{split.query}" if split.query else split.path


def _drf_cursor(position: str) -> str:
    """A cursor as DRF's CursorPagination encodes it: base64 of ``p=<position>``."""
    return base64.b64encode(urlencode({"p": position}).encode("ascii")).decode("ascii")


def build_scenarios(port: int, headers: dict[str, str], workspace: Any, debts: int) -> list[Scenario]:
    import json

    from debtors.models import Debt

    deep_page = min(DEEP_PAGE, max(CHAIN_PAGES + 2, debts // PAGE_SIZE // 2))
    deep_row = (deep_page - 1) * PAGE_SIZE  # rows before the deep page
    chain: list[str] = []
    url = API
    for _ in range(CHAIN_PAGES):
        status, body = _get(port, url, headers)
        if status != 200:
            raise RuntimeError(f"GET {url}: HTTP {status}: {body[:300]!r}")
        following = json.loads(body)["next"]
        if not following:
            raise RuntimeError(f"{API} ended after {len(chain) + 1} pages")
        url = _path(following)
        chain.append(url)
    # The id after which the deep page starts, newest first: the cursor DRF would have
    # handed out after following `next` deep_page - 1 times.
    position = (
        Debt.objects.for_workspace(workspace).order_by("-id").values_list("id", flat=True)[deep_row - 1 : deep_row][0]
    )
    email = seeding.debtor_email(min(SEARCH_DEBTOR, 1 + debts // 50))
    plain_chain = [f"{PLAIN}?page={n}" for n in range(2, CHAIN_PAGES + 2)]
    return [
        Scenario("p1", "plain: ?page=1", [f"{PLAIN}?page=1"], notes="COUNT(*) + LIMIT 50"),
        Scenario("c1", "CollectPro: first page", [API], partner="p1"),
        Scenario(
            "pchain", f"plain: ?page=2 … ?page={CHAIN_PAGES + 1}", plain_chain, notes="COUNT(*) + OFFSET up to 1,000"
        ),
        Scenario("cchain", f"CollectPro: pages 2–{CHAIN_PAGES + 1} by next cursor", chain, partner="pchain"),
        Scenario(
            "pdeep",
            f"plain: ?page={deep_page} (deep)",
            [f"{PLAIN}?page={deep_page}"],
            notes=f"COUNT(*) + OFFSET {deep_row:,}",
        ),
        Scenario(
            "cdeep",
            f"CollectPro: cursor at row {deep_row + 1:,} (same rows)",
            [f"{API}?cursor={_drf_cursor(str(position))}"],
            partner="pdeep",
        ),
        Scenario("pstatus", "plain: ?status=active", [f"{PLAIN}?status=active"], notes="COUNT(*) of the status"),
        Scenario("cstatus", "CollectPro: ?status=active", [f"{API}?status=active"], partner="pstatus"),
        Scenario(
            "csearch",
            "CollectPro: ?search=debtorNNNNN@… (a debtor's email)",
            [f"{API}?{urlencode({'search': email})}"],
            partner="p1",
            notes="vs plain ?page=1 (no search there)",
        ),
    ]


def count_queries(scenarios: list[Scenario], secret: str) -> None:
    """SQL statements per request for each endpoint, in-process (same middleware and
    views as gunicorn runs; the second of two requests, so one-off work such as the
    key's last-used update is not counted)."""
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {secret}")
    with override_settings(ROOT_URLCONF="bench.urls_bench"):
        for scenario in scenarios:
            url = scenario.urls[0]
            client.get(url)
            with CaptureQueriesContext(connection) as captured:
                response = client.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"in-process GET {url}: HTTP {response.status_code}")
            statements = [q["sql"].split(" ", 1)[0].upper() for q in captured.captured_queries]
            scenario.control = sum(1 for s in statements if s in CONTROL)
            scenario.queries = len(statements) - scenario.control


# --- The benchmark --------------------------------------------------------------------


def measure(port: int, scenarios: list[Scenario], headers: dict[str, str], quick: bool) -> None:
    by_key = {s.key: s for s in scenarios}
    rounds = 1 if quick else ROUNDS
    per_round = 20 if quick else REQUESTS_PER_ROUND
    seconds = 5.0 if quick else SECONDS_PER_ROUND
    for s in scenarios:  # warm both workers up on every endpoint (not timed)
        drive(port, s, headers, CONCURRENCY, 60.0)
        s.latencies.clear()
    for r in range(rounds):
        order = scenarios[r % len(scenarios) :] + scenarios[: r % len(scenarios)]
        for s in order:
            rate = drive(port, s, headers, per_round, seconds)
            s.rates.append(rate)
            print(f"  round {r + 1}: {s.name}: {rate:,.1f} req/s", flush=True)
        for s in scenarios:
            if s.partner:
                s.ratios.append(s.rates[-1] / by_key[s.partner].rates[-1])


def _rows(scenarios: list[Scenario]) -> list[Row]:
    by_key = {s.key: s for s in scenarios}
    rows = []
    for s in scenarios:
        rate = statistics.median(s.rates)
        partner = by_key[s.partner] if s.partner else s
        parts = [
            f"p50 {_percentile(s.latencies, 0.5) * 1000:.1f} ms",
            f"p95 {_percentile(s.latencies, 0.95) * 1000:.1f} ms",
        ]
        if s.server_us:
            parts.append(
                f"in the worker p50 {_percentile([float(v) for v in s.server_us], 0.5) / 1000:.1f} ms, "
                f"p95 {_percentile([float(v) for v in s.server_us], 0.95) / 1000:.1f} ms"
            )
        parts.append(f"{s.queries} SQL queries + {s.control} BEGIN/COMMIT per request")
        parts.append(f"{len(s.latencies)} requests")
        if s.partner:
            parts.append(f"ratio {min(s.ratios):.3g}–{max(s.ratios):.3g} over {len(s.ratios)} rounds")
        if s.notes:
            parts.append(s.notes)
        ratio = statistics.median(s.ratios) if s.partner else 1.0
        rows.append(Row(s.name, rate, "req/s", statistics.median(partner.rates), ratio, "; ".join(parts)))
    return rows


def run(quick: bool) -> list[Row]:
    from accounts.services import api_key_create, api_key_revoke
    from kernel.tenancy import workspace_context

    seeded = seeding.ensure(seeding.scale_for(quick))
    workspace = seeded.workspace
    with workspace_context(workspace):
        issued = api_key_create(workspace=workspace, name="bench api_list", created_by=seeded.owner)
    headers = {"Authorization": f"Bearer {issued.secret}", "Accept": "application/json"}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp, gunicorn_server(Path(tmp)) as (port, log):
            print(f"api_list: gunicorn on 127.0.0.1:{port}, {WORKERS} workers", flush=True)
            scenarios = build_scenarios(port, headers, workspace, seeded.debt_count)
            count_queries(scenarios, issued.secret)
            measure(port, scenarios, headers, quick)
            time.sleep(0.5)  # let the workers flush the access log
            _server_times(log, {s.key: s for s in scenarios})
    finally:
        with workspace_context(workspace):
            api_key_revoke(api_key=issued.api_key, actor=seeded.owner)
    errors = [f"{s.name}: {e}" for s in scenarios for e in s.errors[:3]]
    if errors:
        raise RuntimeError("requests failed:\n" + "\n".join(errors))
    return _rows(scenarios)
