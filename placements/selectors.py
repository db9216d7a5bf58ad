"""Reads for the placements app."""

from __future__ import annotations

import csv
from itertools import islice
from typing import Any

from django.core.files.storage import default_storage
from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Client, Workspace
from placements.models import PlacementImport

RECENT_IMPORTS = 50
REJECTS_PREVIEWED = 200


def placement_import_get(
    *, workspace: Workspace, import_id: Any, client_scope: Client | None = None
) -> PlacementImport:
    """One import job of the workspace (of ``client_scope``'s files only, for a
    client-scoped API key); 404 whether it is missing, another workspace's or
    another client's."""
    jobs = PlacementImport.objects.for_workspace(workspace)
    if client_scope is not None:
        jobs = jobs.filter(client=client_scope)
    job = jobs.filter(pk=import_id).first()
    if job is None:
        raise Http404("No such import")
    return job


def placement_imports_recent(*, workspace: Workspace) -> QuerySet[PlacementImport]:
    """The workspace's latest import jobs, newest first (the placements page)."""
    return PlacementImport.objects.for_workspace(workspace).order_by("-created_at")[:RECENT_IMPORTS]


def placement_rejects_preview(*, job: PlacementImport) -> list[list[str]]:
    """The first rejected rows of a finished job, as (line, reason) pairs. Empty
    while the job runs, and once the file is deleted under the retention rule (the
    job's counts remain)."""
    if not job.rejects_storage_name or job.status not in ("done", "failed"):
        return []
    try:
        with default_storage.open(job.rejects_storage_name, "r") as fh:
            reader = csv.reader(fh)
            next(reader, None)  # the header
            return [row[:2] for row in islice(reader, REJECTS_PREVIEWED)]
    except FileNotFoundError:
        return []
