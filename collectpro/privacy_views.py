from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.models import Membership, Workspace
from kernel.privacy import registry
from kernel.tenancy.decorators import workspace_view


@workspace_view("privacy.view")
def record_of_processing(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    return render(request, "privacy/record_of_processing.html", {"rows": registry.record_of_processing()})
