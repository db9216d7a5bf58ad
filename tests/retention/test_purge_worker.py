"""``kill -9`` of a real Celery worker in the middle of a purge, then a fresh worker:
the database ends exactly as after an uninterrupted purge.

Two workspaces get the same records. The nightly task ``purge_expired_workspace``
purges the first on a worker subprocess (``celery -A tests.retention.purge_worker_app``,
the engine tests' stores over real tables: notes deleted in atomic batches, timeline
lines pseudonymised one row per transaction), which is killed with SIGKILL twice:
once half-way through a non-atomic batch, once while the atomic store is under way
(it spends most of that time between a batch's deletions and their commit). Each
time another worker, started fresh, takes the task again and must resume the same
run. The second workspace is purged in-process without interruption. Surviving rows
(by content, ignoring ids and workspace), ledger totals and receipts must match, and
be what the seed says should go.

The second test does the same with the apps' own stores (a US workspace: people
whose debts were paid four years ago are erased by ``privacy_requests.inactive_people``,
which manages its own transactions; their contact log goes by
``communications.closed_debts``), killing the worker when some of a batch of people
are erased and others not yet.

Needs PostgreSQL (the worker is another process on the test database) and Redis;
skipped without them, except under ``CI=true`` where they must be there.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

import kernel.retention as registry
from accounts.models import Workspace
from accounts.services import client_create, workspace_create
from communications.log import communication_log
from communications.models import Communication
from debtors.models import Debt, DebtEvent, Debtor, LedgerEntry, Note
from debtors.services.debtors import DebtorInput, debtor_create, debtor_erased_at
from debtors.services.debts import DebtInput, debt_change_status, debt_create
from debtors.services.ledger import payment_record
from debtors.services.records import note_add
from kernel.tenancy import workspace_context
from privacy_requests.models import ErasurePlan, PlanStatus
from retention.engine import purge_run
from retention.models import PurgeRun, RunStatus
from retention.tasks import purge_expired_workspace
from tests.celery_worker import (
    _CONF_KEYS,
    _drop_cached_clients,
    _redis_or_skip,
    needs_postgres_for_a_worker_subprocess,
    worker_database_url,
    worker_redis_url,
)
from tests.conftest import PASSWORD
from tests.retention.engine_stores import ALL, REMOVED, events_of, hold_place, notes_of, only_stores, seed

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
BATCH = 3
ROW_DELAY = 0.08  # seconds the stores pause per timeline row / notes batch in the worker
WAIT = 60.0


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    queue: str  # its own: a task sent there reaches this worker and no other
    log: Path


@dataclass
class Workers:
    """Worker subprocesses, each in its own process group, on queues of our own."""

    env: dict[str, str]
    logs: Path
    started: list[Worker] = field(default_factory=list)

    def start(self, **extra_env: str) -> Worker:
        """A fresh worker (returns at once: ``ready`` waits for it)."""
        n = len(self.started) + 1
        queue = f"collectpro-purge-test-{uuid.uuid4().hex[:12]}"
        log = self.logs / f"worker-{n}.log"
        proc = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "tests.retention.purge_worker_app",
                "worker",
                "-P",
                "solo",
                "--concurrency",
                "1",
                "-Q",
                queue,
                "-n",
                f"purge-{n}-{queue[-6:]}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env={**self.env, **extra_env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        worker = Worker(proc, queue, log)
        self.started.append(worker)
        return worker

    def ready(self, worker: Worker) -> Worker:
        wait_for(lambda: " ready." in worker.log.read_text(errors="replace"), f"{worker.log.stem} to start", self)
        return worker

    def kill(self, worker: Worker) -> None:
        """``kill -9`` of the worker's whole process group."""
        os.killpg(worker.proc.pid, signal.SIGKILL)
        worker.proc.wait(timeout=10)

    def stop_all(self) -> None:
        for worker in self.started:
            if worker.proc.poll() is None:
                os.killpg(worker.proc.pid, signal.SIGTERM)
                try:
                    worker.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(worker.proc.pid, signal.SIGKILL)
                    worker.proc.wait(timeout=10)

    def tail(self) -> str:
        return "\n".join(
            f"--- {w.log.name}\n" + "\n".join(w.log.read_text(errors="replace").splitlines()[-25:])
            for w in self.started
        )


def wait_for(condition: Callable[[], bool], what: str, workers: Workers) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{workers.tail()}")
        time.sleep(0.01)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Worker subprocesses on the pytest test database and a Redis database of the
    tests' own; the test process sends to the same broker."""
    from collectpro.celery import app

    needs_postgres_for_a_worker_subprocess()
    url = worker_redis_url()
    redis_client = _redis_or_skip(url)
    redis_client.flushdb()
    saved = {key: app.conf.get(key) for key in _CONF_KEYS}
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_always_eager=False,
        task_eager_propagates=False,
        broker_connection_retry_on_startup=False,
    )
    _drop_cached_clients(app)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "collectpro.settings.test",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": url,
        "RETENTION_MAX_BATCH": str(BATCH),
        "PYTHONPATH": str(ROOT),
    }
    pool = Workers(env=env, logs=tmp_path)
    try:
        yield pool
    finally:
        pool.stop_all()
        _drop_cached_clients(app)
        app.conf.update(saved)
        redis_client.flushdb()
        redis_client.close()


def send(worker: Worker, ws: Workspace) -> None:
    """Queue the nightly task for ``ws`` where only ``worker`` will take it."""
    purge_expired_workspace.apply_async(args=[ws.pk], queue=worker.queue)


def _run(ws: Workspace) -> PurgeRun | None:
    return PurgeRun.unscoped.filter(workspace=ws).order_by("started_at").last()


def _state(ws: Workspace, store: str) -> dict[str, Any]:
    run = _run(ws)
    return dict(run.progress.get(store) or {}) if run is not None else {}


def _half_way_through_a_timeline_batch(ws: Workspace) -> bool:
    """A timeline batch is recorded as pending and some, not all, of its rows are done."""
    state = _state(ws, "test.timeline")
    pending = state.get("pending") or []
    if not state.get("count") or not pending:
        return False
    done = DebtEvent.unscoped.filter(workspace=ws, pk__in=pending, summary=REMOVED).count()
    return 0 < done < len(pending)


def _notes_in_progress(ws: Workspace) -> bool:
    state = _state(ws, "test.notes")
    return bool(state.get("count")) and not state.get("done")


def contents(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """What the workspace holds, by content: no ids, no workspace."""
    with workspace_context(ws):
        refs = dict(Debt.objects.for_workspace(ws).values_list("pk", "reference"))
        notes = sorted((refs[n.debt_id], n.body, n.created_at) for n in Note.objects.for_workspace(ws))
        events = sorted(
            (refs[debt], kind, summary, amount, bool(object_id), created)
            for debt, kind, summary, amount, object_id, created in DebtEvent.objects.for_workspace(ws).values_list(
                "debt_id", "kind", "summary", "amount_minor", "object_id", "created_at"
            )
        )
        debts = sorted(Debt.objects.for_workspace(ws).values_list("reference", "balance_minor", "legal_hold", "status"))
        ledger = sorted(
            (refs[row["debt_id"]], row["total"])
            for row in LedgerEntry.objects.for_workspace(ws).values("debt_id").annotate(total=Sum("amount_minor"))
        )
    return {"notes": notes, "events": events, "debts": debts, "ledger": ledger}


def _receipt(run: PurgeRun) -> dict[str, Any]:
    return {
        "status": run.status,
        "errors": run.errors,
        "counts": run.counts,
        "progress": {name: (s["count"], s["done"], s["pending"]) for name, s in sorted(run.progress.items())},
    }


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_resumes_and_ends_like_an_uninterrupted_purge(workers: Workers, settings: Any) -> None:
    settings.RETENTION_MAX_BATCH = BATCH
    now = timezone.now()
    # Three fresh workers, started now so that they are up by the time each is needed;
    # each listens on its own queue, so the task goes to the one the test chooses.
    first, second, third = (
        workers.start(RETENTION_TEST_STORES="engine", RETENTION_TEST_DELAY=str(ROW_DELAY)) for _ in range(3)
    )
    spaces = [
        workspace_create(slug=slug, name=slug.title(), owner_email=f"owner@{slug}.example", owner_password=PASSWORD)
        for slug in ("east", "west")
    ]
    east, west = spaces
    made = {ws.slug: seed(ws, now=now, old=5, young=1, held=2) for ws in spaces}
    expected_events = events_of(west, made["west"].old)
    assert contents(east) == contents(west)
    books = contents(west)["ledger"]

    # The first worker takes the nightly task and is killed half-way through a batch
    # of the non-atomic store (its rows are done one transaction at a time).
    send(workers.ready(first), east)
    wait_for(lambda: _half_way_through_a_timeline_batch(east), "a timeline batch half done", workers)
    workers.kill(first)
    killed = _run(east)
    assert killed is not None and killed.status == RunStatus.RUNNING
    timeline = killed.progress["test.timeline"]
    assert "test.notes" not in killed.progress
    done_of_pending = DebtEvent.unscoped.filter(workspace=east, pk__in=timeline["pending"], summary=REMOVED).count()
    assert 0 < done_of_pending < len(timeline["pending"])  # cut short, to be applied again
    assert events_of(east, made["east"].old, removed=True) == timeline["count"] + done_of_pending

    # Another worker, the task queued again: it resumes the same run, and is killed
    # while an atomic batch of notes is deleted but not committed.
    send(workers.ready(second), east)
    wait_for(lambda: _notes_in_progress(east), "the notes store to be under way", workers)
    workers.kill(second)
    killed_again = _run(east)
    assert killed_again is not None and killed_again.pk == killed.pk
    assert killed_again.status == RunStatus.RUNNING and not killed_again.progress["test.notes"]["done"]
    assert killed_again.progress["test.timeline"]["done"]
    # An atomic batch is all or nothing: what is gone is exactly what the receipt counts.
    assert notes_of(east, made["east"].old) == 10 - killed_again.progress["test.notes"]["count"]

    send(workers.ready(third), east)
    wait_for(lambda: (_run(east) or killed).status != RunStatus.RUNNING, "the resumed run to finish", workers)

    with only_stores(*ALL):
        uninterrupted = purge_run(workspace=west, now=now)

    resumed = _run(east)
    assert resumed is not None and resumed.pk == killed.pk
    assert PurgeRun.unscoped.filter(workspace=east).count() == 1
    assert contents(east) == contents(west)
    receipt, expected_receipt = _receipt(resumed), _receipt(uninterrupted)
    assert receipt["progress"] == expected_receipt["progress"]
    assert receipt == expected_receipt
    assert resumed.counts == {"COLLECTION_RECORDS": {"delete": 10}, "TEST_TIMELINE": {"pseudonymise": expected_events}}
    for ws in spaces:
        assert notes_of(ws, made[ws.slug].old) == 0
        assert notes_of(ws, made[ws.slug].young + made[ws.slug].held) == 6
        assert events_of(ws, made[ws.slug].old, removed=False) == 0
        assert events_of(ws, made[ws.slug].young + made[ws.slug].held, removed=True) == 0
    assert contents(east)["ledger"] == books
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)  # raises CommandError on a broken chain
    assert "east: OK" in out.getvalue()


# --- The apps' own stores: people erased for inactivity, contact logs deleted -----------------

YEAR = timedelta(days=365)
APPS_STORES = tuple(registry._stores.values())  # as the apps registered them, before any test ran


def _person(workspace: Workspace, client: Any, reference: str, *, paid: bool) -> Debt:
    debtor = debtor_create(
        workspace=workspace,
        data=DebtorInput(
            full_name=f"Person {reference}", email=f"{reference.lower()}@example.com", phone="+12025550143"
        ),
    )
    debt = debt_create(
        workspace=workspace,
        client=client,
        debtor=debtor,
        data=DebtInput(reference=reference, original_amount_minor=40_000, currency=workspace.currency),
    )
    debt = debt_change_status(debt=debt, status="active")
    communication_log(debt=debt, channel="call", content=f"Spoke with {reference} about a plan", check_rules=False)
    note_add(debt=debt, body=f"{reference} asked for the balance in writing")
    if paid:
        payment_record(debt=debt, amount_minor=40_000, method="ach", reference=f"PAY-{reference}")
    return debt


def _age_person(workspace: Workspace, debt: Debt, past: datetime) -> None:
    """Every date collection activity is counted from, moved to ``past``."""
    Debt.objects.for_workspace(workspace).filter(pk=debt.pk).update(
        created_at=past, updated_at=past, last_payment_at=past, last_contact_at=past
    )
    Debtor.objects.for_workspace(workspace).filter(pk=debt.debtor_id).update(created_at=past)
    Communication.objects.for_workspace(workspace).filter(debt=debt).update(occurred_at=past)
    Note.objects.for_workspace(workspace).filter(debt=debt).update(created_at=past)


@dataclass
class People:
    old: list[Debt]  # paid four years ago: erased
    kept: list[Debt]  # paid a year ago; held (the debt; the person); still collected: kept


def seed_people(workspace: Workspace, *, now: datetime) -> People:
    """US rules (three years after the last collection activity, no notice first)."""
    people = People([], [])
    with workspace_context(workspace):
        client = client_create(workspace=workspace, name="Lakeside Credit", reference="LAKE")
        for i in range(9):
            debt = _person(workspace, client, f"P-{i:03d}", paid=i != 8)
            (people.old if i < 5 else people.kept).append(debt)
            _age_person(workspace, debt, now - (YEAR if i == 5 else 4 * YEAR) - timedelta(minutes=i))
        hold_place(workspace, people.kept[1], on_person=False)  # P-006: the debt is held
        hold_place(workspace, people.kept[2], on_person=True)  # P-007: the person is held
    return people


def people_contents(ws: Workspace) -> list[tuple[Any, ...]]:
    """Per debt, by reference: the person's state and what is left of their records."""
    rows = []
    with workspace_context(ws):
        for debt in Debt.objects.for_workspace(ws).select_related("debtor").order_by("reference"):
            rows.append(
                (
                    debt.reference,
                    debt.status,
                    debt.balance_minor,
                    debt.legal_hold,
                    LedgerEntry.objects.for_workspace(ws).filter(debt=debt).aggregate(s=Sum("amount_minor"))["s"],
                    debtor_erased_at(workspace_id=ws.pk, debtor_id=debt.debtor_id) is not None,
                    Note.objects.for_workspace(ws).filter(debt=debt).count(),
                    Communication.objects.for_workspace(ws).filter(debt=debt).count(),
                )
            )
    return rows


def _half_way_through_erasing_a_batch(ws: Workspace) -> bool:
    """A batch of people is recorded as pending; some of them are erased, not all."""
    run = _run(ws)
    state = (run.progress.get("privacy_requests.inactive_people") or {}) if run is not None else {}
    pending = state.get("pending") or []
    if not pending or run is None:
        return False
    plans = ErasurePlan.unscoped.filter(workspace=ws, retention_run=str(run.pk), debtor_id__in=pending)
    return 0 < plans.filter(status=PlanStatus.DONE).count() < len(pending)


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_while_erasing_people_resumes_and_ends_like_an_uninterrupted_purge(
    workers: Workers, settings: Any
) -> None:
    settings.RETENTION_MAX_BATCH = BATCH
    first, second = workers.start(), workers.start()  # the apps' own stores
    now = timezone.now()
    spaces = [
        workspace_create(
            slug=slug,
            name=slug.title(),
            owner_email=f"owner@{slug}.example",
            owner_password=PASSWORD,
            jurisdiction="US",
        )
        for slug in ("north", "south")
    ]
    north, south = spaces
    people = {ws.slug: seed_people(ws, now=now) for ws in spaces}
    assert people_contents(north) == people_contents(south)
    books = [(ref, balance, ledger) for ref, _, balance, _, ledger, *_ in people_contents(south)]
    with workspace_context(south):
        old_calls = Communication.objects.for_workspace(south).filter(debt__in=people["south"].old).count()

    send(workers.ready(first), north)
    wait_for(lambda: _half_way_through_erasing_a_batch(north), "a batch of people half erased", workers)
    workers.kill(first)
    killed = _run(north)
    assert killed is not None and killed.status == RunStatus.RUNNING
    assert killed.progress["privacy_requests.inactive_people"]["pending"]

    send(workers.ready(second), north)
    wait_for(lambda: (_run(north) or killed).status != RunStatus.RUNNING, "the resumed run to finish", workers)
    with only_stores(*APPS_STORES):  # the worker's stores, whatever a test before this one registered
        uninterrupted = purge_run(workspace=south)

    resumed = _run(north)
    assert resumed is not None and resumed.pk == killed.pk
    assert resumed.status == RunStatus.DONE and resumed.errors == []
    assert people_contents(north) == people_contents(south)
    receipt, expected_receipt = _receipt(resumed), _receipt(uninterrupted)
    assert receipt["progress"] == expected_receipt["progress"]
    assert receipt == expected_receipt
    assert resumed.progress["privacy_requests.inactive_people"]["count"] == 5
    assert resumed.progress["communications.closed_debts"]["count"] == old_calls
    for ws in spaces:
        rows = {row[0]: row for row in people_contents(ws)}
        assert [ref for ref, row in rows.items() if row[5]] == [d.reference for d in people[ws.slug].old]
        assert all(rows[d.reference][6:] == (0, 0) for d in people[ws.slug].old)  # notes and call log gone
        assert all(rows[d.reference][6:] == (1, 1) for d in people[ws.slug].kept)
        assert [(ref, row[2], row[4]) for ref, row in rows.items()] == books  # the books stay as they were
        with workspace_context(ws):
            plans = ErasurePlan.objects.for_workspace(ws)
            assert plans.count() == 5 and not plans.exclude(status=PlanStatus.DONE).exists()  # one plan a person
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "north: OK" in out.getvalue() and "south: OK" in out.getvalue()
