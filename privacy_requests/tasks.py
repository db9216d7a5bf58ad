"""Celery tasks of the rights-request app. The export and erasure tasks live in
their own modules, imported here so the worker registers them."""

from __future__ import annotations

from privacy_requests import erasure_tasks, export_tasks  # noqa: F401  (registers their tasks)
