"""The Celery app of the worker subprocesses that ``test_purge_worker.py`` kills: the
project's app (``celery -A tests.retention.purge_worker_app worker``). With
``RETENTION_TEST_STORES=engine`` the engine tests' stores are the only registered ones;
otherwise the apps' own stores are."""

import os

import django

django.setup()

from collectpro.celery import app  # noqa: E402
from tests.retention.engine_stores import ALL, install  # noqa: E402

if os.environ.get("RETENTION_TEST_STORES") == "engine":
    install(*ALL)

__all__ = ["app"]
