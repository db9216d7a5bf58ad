"""Celery tasks that build and expire request files (export work). Thin: each
takes ids, runs in its workspace's context and calls one service in
export_archive.py."""

from __future__ import annotations

from celery import shared_task

from accounts.models import Workspace
from accounts.tasking import fan_out, workspace_task
from privacy_requests.export_archive import export_build, exports_expire
from privacy_requests.models import PrivacyRequest


@workspace_task()
def privacy_request_export_build(workspace: Workspace, request_id: str) -> str:
    """Build the copy of one access or portability request (idempotent: a request
    that has its copy gets no second one)."""
    request = PrivacyRequest.objects.for_workspace(workspace).get(pk=request_id)
    return str(export_build(request=request).pk)


@workspace_task()
def privacy_exports_expire(workspace: Workspace) -> int:
    """Copies past their 7 days are deleted."""
    return exports_expire(workspace=workspace)


@shared_task
def privacy_exports_expire_all() -> int:
    return fan_out(privacy_exports_expire, include_closed=True)  # deleting copies goes on after a closure
