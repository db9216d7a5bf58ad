"""Celery tasks that execute approved erasure plans (erasure work)."""
