"""Celery tasks that build and expire request files (export work)."""
