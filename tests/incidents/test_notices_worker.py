"""Notices to the people affected sent by a real Celery worker that is killed with
SIGKILL twice in the middle of a batch and restarted: every person is told exactly once.

The worker is a subprocess (``celery -A tests.incidents.notice_worker_app``) on the test
database and a Redis database of the tests' own; each batch takes a little longer per
person inside its transaction, so each kill lands while a batch is under way (the
worker's log shows a batch received and not finished, and more people are still to be
told). After each kill the database holds no message without its person marked, and
no person marked without their message; the officer resumes from the incident page
(``incident_notices_start`` again) and a fresh worker carries on. At the end each person
with a contact has exactly one notice for the incident, those without have none, every
message has been handed over (one killed mid-hand-off may stay ``sending``, never sent
twice), the people's duty is done and the audit chain verifies.

Needs PostgreSQL (the worker is another process on the test database) and Redis; skipped
without them, except under ``CI=true`` where they must be there.
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
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Client
from communications.models import Communication
from incidents.models import AffectedPerson, NoticeStatus
from incidents.notices import incident_notices_start, notice_template, notices_progress
from kernel.tenancy import workspace_context
from tests.celery_worker import (
    _CONF_KEYS,
    _drop_cached_clients,
    _redis_or_skip,
    needs_postgres_for_a_worker_subprocess,
    worker_database_url,
    worker_redis_url,
)
from tests.incidents.notices_world import breach, contact, crowd, decide_people, freeze_client, people_duty_of

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).with_name("celery")
PEOPLE = 240
BATCH = 20
PERSON_DELAY = 0.02  # seconds per person inside a batch's transaction, in the worker
WAIT = 90.0
TASK = "incidents.notice_tasks.incident_notices_run"


@dataclass
class Workers:
    env: dict[str, str]
    logs: Path
    started: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)

    def start(self) -> tuple[subprocess.Popen[bytes], Path]:
        n = len(self.started) + 1
        log = self.logs / f"worker-{n}.log"
        proc = subprocess.Popen(
            [
                str(CELERY),
                "-A",
                "tests.incidents.notice_worker_app",
                "worker",
                "-P",
                "solo",
                "--concurrency",
                "1",
                "-Q",
                self.env["NOTICE_TEST_QUEUE"],
                "-n",
                f"notices-{n}-{uuid.uuid4().hex[:6]}@%h",
                "--without-heartbeat",
                "--without-gossip",
                "--without-mingle",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.started.append((proc, log))
        self.wait_for(lambda: " ready." in log.read_text(errors="replace"), f"worker {n} to start")
        return proc, log

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc, _log in self.started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)

    def tail(self) -> str:
        return "\n".join(
            f"--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-25:])
            for _proc, log in self.started
        )

    def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}\n{self.tail()}")
            time.sleep(0.01)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Workers]:
    """Worker subprocesses on the pytest test database and a Redis database of the tests'
    own, all on one queue of this test's; the test process sends to the same queue."""
    from collectpro.celery import app

    needs_postgres_for_a_worker_subprocess()
    url = worker_redis_url()
    redis_client = _redis_or_skip(url)
    redis_client.flushdb()
    queue = f"collectpro-notices-test-{uuid.uuid4().hex[:12]}"
    saved = {key: app.conf.get(key) for key in _CONF_KEYS}
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_always_eager=False,
        task_eager_propagates=False,
        task_default_queue=queue,
        broker_connection_retry_on_startup=False,
    )
    _drop_cached_clients(app)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "collectpro.settings.test",
        "DATABASE_URL": worker_database_url(),
        "REDIS_URL": url,
        "NOTICE_TEST_QUEUE": queue,
        "NOTICE_TEST_DELAY": str(PERSON_DELAY),
        "NOTICE_TEST_BATCH": str(BATCH),
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


def _handled(incident: Any) -> int:
    with workspace_context(incident.workspace):
        return (
            AffectedPerson.objects.for_workspace(incident.workspace_id)
            .filter(incident=incident)
            .exclude(notice_status=NoticeStatus.PENDING)
            .count()
        )


def _consistent(incident: Any) -> None:
    """No message without its person marked sent, no person marked without their message."""
    with workspace_context(incident.workspace):
        sent = set(
            AffectedPerson.objects.for_workspace(incident.workspace_id)
            .filter(incident=incident, notice_status=NoticeStatus.SENT)
            .values_list("communication_id", flat=True)
        )
        made = set(
            Communication.objects.for_workspace(incident.workspace_id)
            .filter(template=notice_template(incident))
            .values_list("pk", flat=True)
        )
    assert sent == made


def _resume(incident: Any) -> None:
    """The officer's "Resume the notices" (the killed batch's message would come back
    only after the broker's visibility timeout)."""
    with workspace_context(incident.workspace):
        incident_notices_start(incident=incident)


@pytest.mark.django_db(transaction=True)
def test_every_person_is_told_exactly_once_across_two_kills(world: Any, workers: Workers) -> None:
    with workspace_context(world.a):
        client = Client.objects.for_workspace(world.a).get(reference="SAHYADRI")
    people = crowd(world.a, client, PEOPLE)
    incident = breach(world.a, aware_at=timezone.now() - timedelta(hours=1))
    assert freeze_client(incident, client) == PEOPLE
    decide_people(incident)
    contact(world.a)

    first, first_log = workers.start()
    with workspace_context(world.a):
        incident_notices_start(incident=incident)

    # Killed while a batch is under way, some people told and others not yet.
    workers.wait_for(
        lambda: 2 * BATCH <= _handled(incident) < PEOPLE - 3 * BATCH and _in_a_batch(first_log),
        "the first worker to be in the middle of a batch",
    )
    workers.kill(first)
    at_first_kill = _handled(incident)
    assert 0 < at_first_kill < PEOPLE and at_first_kill % BATCH == 0  # only whole batches count
    _consistent(incident)

    second, second_log = workers.start()
    _resume(incident)
    workers.wait_for(
        lambda: _handled(incident) >= at_first_kill + 2 * BATCH and _in_a_batch(second_log),
        "the second worker to be in the middle of a batch",
    )
    workers.kill(second)
    at_second_kill = _handled(incident)
    assert at_first_kill < at_second_kill < PEOPLE and at_second_kill % BATCH == 0
    _consistent(incident)

    workers.start()
    _resume(incident)
    workers.wait_for(lambda: notices_progress(incident=incident).duty_done, "the notices to finish")
    workers.wait_for(lambda: _queued(incident) == 0, "every message to be handed over")

    _consistent(incident)
    with workspace_context(world.a):
        rows = {r.debtor_id: r for r in AffectedPerson.objects.for_workspace(world.a).filter(incident=incident)}
        by_person: dict[Any, list[Communication]] = {}
        for comm in Communication.objects.for_workspace(world.a).filter(template=notice_template(incident)):
            by_person.setdefault(comm.debtor_id, []).append(comm)
    for p in people:
        if p.channel:
            assert len(by_person[p.debtor.pk]) == 1, p.debt.reference  # exactly once
            assert by_person[p.debtor.pk][0].channel == p.channel
            assert rows[p.debtor.pk].notice_status == NoticeStatus.SENT
        else:
            assert p.debtor.pk not in by_person and rows[p.debtor.pk].notice_status == NoticeStatus.NO_CONTACT
    statuses = [c.status for comms in by_person.values() for c in comms]
    # A worker killed during a hand-off leaves that one message "sending" (it may have gone):
    # never queued again, so never sent twice.
    assert statuses.count("sent") >= len(statuses) - 2 and set(statuses) <= {"sent", "sending"}
    assert people_duty_of(incident).done_at is not None
    out = StringIO()
    call_command("verify_audit_chain", stdout=out)
    assert "acme: OK" in out.getvalue()


def _in_a_batch(log: Path) -> bool:
    """The worker's log shows a batch task received and not yet finished."""
    lines = [line for line in log.read_text(errors="replace").splitlines() if TASK in line]
    received = sum(" received" in line for line in lines)
    finished = sum(" succeeded in " in line or " raised " in line for line in lines)
    return received > finished


def _queued(incident: Any) -> int:
    with workspace_context(incident.workspace):
        return (
            Communication.objects.for_workspace(incident.workspace_id)
            .filter(template=notice_template(incident), status="queued")
            .count()
        )
