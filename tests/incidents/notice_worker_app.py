"""The Celery app of the worker subprocesses that ``test_notices_worker.py`` kills: the
project's app (``celery -A tests.incidents.notice_worker_app worker``), sending to the
broker for real (the test settings run tasks in-process) on the test's own queue, in
batches of ``NOTICE_TEST_BATCH`` people, each person taking ``NOTICE_TEST_DELAY``
seconds longer inside the batch's transaction, so that a kill lands in the middle of one."""

import os
import time

import django

django.setup()

from collectpro.celery import app  # noqa: E402
from incidents import notices  # noqa: E402

app.conf.update(task_always_eager=False, task_default_queue=os.environ["NOTICE_TEST_QUEUE"])

notices.BATCH_SIZE = int(os.environ.get("NOTICE_TEST_BATCH", notices.BATCH_SIZE))
_tell = notices._tell
_delay = float(os.environ.get("NOTICE_TEST_DELAY", "0"))


def _slow_tell(*args, **kwargs):  # type: ignore[no-untyped-def]
    time.sleep(_delay)
    return _tell(*args, **kwargs)


notices._tell = _slow_tell

__all__ = ["app"]
