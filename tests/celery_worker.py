"""A real Celery worker on Redis for tests: ``celery_redis_worker``.

The suite runs tasks eagerly (collectpro.settings.test). A test that needs the real
thing — a message through the broker, a worker that picks it up, a result through
the result backend — imports this fixture:

    from tests.celery_worker import celery_redis_worker  # noqa: F401

    pytestmark = [pytest.mark.redis, pytest.mark.usefixtures("celery_redis_worker")]

    @pytest.mark.django_db(transaction=True)
    def test_something(world): ...

The worker runs in a thread of the test process (solo pool), so it must see rows the
test committed: use ``django_db(transaction=True)``. On PostgreSQL the thread opens
its own connection to the test database. On SQLite, Django names the in-memory test
database ``file:memorydb_default?mode=memory&cache=shared``, so a second connection
in the same process shares it (tests/debtors/test_tasks.py checks this).

Redis: ``settings.TEST_REDIS_URL`` or ``$REDIS_URL``, else redis://127.0.0.1:6379.
The database number is always replaced by a dedicated one (``$CELERY_TEST_REDIS_DB``,
default 15), which is flushed before and after, so a developer's REDIS_URL pointing
at real queues is never wiped. Each worker also listens on a queue of its own, so two
test runs sharing that Redis cannot run each other's tasks against the wrong database.

On SQLite, do not touch the database from the test while a task may be running:
the shared in-memory database locks whole tables, and a second writer gets
"database table is locked" at once (the busy timeout does not apply to
shared-cache locks). Wait for the task's result first — for tasks queued by
other tasks, collect their ids with ``published_tasks()`` and wait for those.

Without Redis the tests skip locally but FAIL when ``CI=true``: a CI image that
silently lost its Redis must not turn the suite green.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connections

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
DEFAULT_TEST_REDIS_DB = 15

# The configuration the fixture changes, restored afterwards.
_CONF_KEYS = (
    "broker_url",
    "result_backend",
    "task_always_eager",
    "task_eager_propagates",
    "task_default_queue",
    "worker_hijack_root_logger",
    "broker_connection_retry_on_startup",
)


def worker_redis_url() -> str:
    """The Redis URL for worker tests, on the dedicated test database number."""
    base = getattr(settings, "TEST_REDIS_URL", "") or os.environ.get("REDIS_URL", "") or DEFAULT_REDIS_URL
    db = int(os.environ.get("CELERY_TEST_REDIS_DB", DEFAULT_TEST_REDIS_DB))
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def _redis_or_skip(url: str) -> Any:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        client.close()
        message = f"Redis is not reachable at {url}: {exc}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: worker tests must run)", pytrace=False)
        pytest.skip(message)
    return client


def _drop_cached_clients(app: Any) -> None:
    """Forget broker pools, producers, queues and result backends built from the
    previous configuration (Celery caches them on first use)."""
    from kombu import pools

    pools.reset()  # closes and forgets the process-wide connection/producer pools
    app._pool = None
    for name in ("amqp", "control", "events"):
        app.__dict__.pop(name, None)
    app._backend_cache = None
    app._local = threading.local()  # thread-local backends of every thread


@dataclass(frozen=True)
class PublishedTask:
    name: str
    id: str
    args: tuple[Any, ...]


@contextmanager
def published_tasks() -> Iterator[list[PublishedTask]]:
    """Collect every task message published inside the block, from any thread —
    including tasks that a task running on the worker queues itself (fan-out)."""
    from celery.signals import after_task_publish

    seen: list[PublishedTask] = []

    def record(sender: Any = None, headers: Any = None, body: Any = None, **kwargs: Any) -> None:
        headers = headers or {}
        args = tuple(body[0]) if isinstance(body, (list, tuple)) and body else ()
        seen.append(PublishedTask(name=headers.get("task", sender), id=headers.get("id", ""), args=args))

    after_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        after_task_publish.disconnect(record)


@pytest.fixture
def celery_redis_worker() -> Iterator[Any]:
    """Yield the project's Celery app wired to Redis, with a real worker running."""
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    from collectpro.celery import app

    url = worker_redis_url()
    redis_client = _redis_or_skip(url)
    redis_client.flushdb()

    saved = {key: app.conf.get(key) for key in _CONF_KEYS}
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_always_eager=False,
        task_eager_propagates=False,
        task_default_queue=f"collectpro-test-{uuid.uuid4().hex[:12]}",
        worker_hijack_root_logger=False,  # leave pytest's log capture alone
        broker_connection_retry_on_startup=False,
    )
    _drop_cached_clients(app)

    def close_worker_connections(**kwargs: Any) -> None:
        # Runs in the worker thread after each task: release its database
        # connections so PostgreSQL can flush and finally drop the test database.
        connections.close_all()

    task_postrun.connect(close_worker_connections, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", concurrency=1, shutdown_timeout=30):
            yield app
    finally:
        task_postrun.disconnect(close_worker_connections)
        _drop_cached_clients(app)
        app.conf.update(saved)
        redis_client.flushdb()
        redis_client.close()


def needs_postgres_for_a_worker_subprocess() -> None:
    """Skip (fail under CI=true) unless the test database is PostgreSQL: a worker in
    another process cannot share SQLite's in-memory test database."""
    if connections["default"].vendor != "postgresql":
        message = "the worker subprocess needs the test database on PostgreSQL (set DATABASE_URL)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: this test must run)", pytrace=False)
        pytest.skip(message)


def worker_database_url() -> str:
    """The pytest test database as a DATABASE_URL, for a worker subprocess."""
    db = connections["default"].settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = quote(db.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{quote(db['NAME'], safe='')}"
