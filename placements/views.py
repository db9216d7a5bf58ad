"""The placements pages: upload a file (with live progress), see a job, download its rejects."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import Membership, Workspace
from accounts.selectors import client_get_by_reference, clients_list
from accounts.types import request_user
from kernel.tenancy.decorators import workspace_view
from placements import imports
from placements.forms import PlacementUploadForm
from placements.imports import rejects_download
from placements.selectors import placement_import_get, placement_imports_recent, placement_rejects_preview


@workspace_view("debts.import")
def placements(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    clients = list(clients_list(workspace=workspace))
    form = PlacementUploadForm(request.POST or None, request.FILES or None)
    form.fields["client"].choices = [("", "— use each row's client_ref —")] + [(c.reference, c.name) for c in clients]  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        client = (
            client_get_by_reference(workspace=workspace, reference=form.cleaned_data["client"])
            if form.cleaned_data["client"]
            else None
        )
        upload = form.cleaned_data["file"]
        try:
            job = imports.placement_import_create(
                workspace=workspace,
                file_obj=upload,
                file_name=upload.name,
                client=client,
                strict=form.cleaned_data["strict"],
                header_map=form.cleaned_data["header_map"],
                actor=request_user(request),
            )
        except ValidationError as exc:
            form.add_error("file", exc.messages)  # e.g. a required column is missing
        else:
            imports.placement_import_enqueue(job)
            return redirect("placement_detail", workspace_slug=workspace.slug, import_id=job.pk)
    jobs = placement_imports_recent(workspace=workspace)
    return render(request, "debtors/placements.html", {"form": form, "jobs": jobs}, status=400 if form.errors else 200)


@workspace_view("debts.import")
def placement_detail(
    request: HttpRequest, workspace: Workspace, membership: Membership, import_id: str
) -> HttpResponse:
    job = placement_import_get(workspace=workspace, import_id=import_id)
    rejects = placement_rejects_preview(job=job)
    template = (
        "debtors/_placement_progress.html" if request.headers.get("HX-Request") else "debtors/placement_detail.html"
    )
    return render(request, template, {"job": job, "rejects": rejects})


@workspace_view("debts.import")
def placement_rejects(
    request: HttpRequest, workspace: Workspace, membership: Membership, import_id: str
) -> FileResponse:
    job = placement_import_get(workspace=workspace, import_id=import_id)
    return rejects_download(job)  # type: ignore[no-any-return]
