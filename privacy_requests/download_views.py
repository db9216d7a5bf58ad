"""The requester's copy, downloaded under /privacy/<workspace-slug>/ (no sign-in).

``/requests/<reference>/download/`` checks that this browser session has just
verified the requester (else: verify again, then come back), and then either says
the copy is being prepared (the page refreshes itself) or issues a single-use
link valid for ten minutes and redirects to it. ``/downloads/<token>/`` streams
the decrypted ZIP once. Another workspace's reference, a used, expired or unknown
link: 404. A copy already taken or deleted after its 7 days: 410 with a page that
says so. A representative whose authorisation is pending or rejected gets nothing:
they are sent back to the request's status page, which says so."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from accounts.selectors import workspace_get_by_slug
from kernel.tenancy import workspace_context
from privacy_requests import exports, verification
from privacy_requests.exports import DownloadState

PREPARING_REFRESH_SECONDS = 3

AUTHORISATION_PENDING = _("Your authorisation is being reviewed. We send the copy only once it is approved.")
AUTHORISATION_REJECTED = _(
    "Your authorisation was not accepted, so we cannot send the copy. The privacy contact below can tell you why."
)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    return response


@require_GET  # not HEAD: a link preview must not draw a download link
def request_download(request: HttpRequest, workspace_slug: str, reference: str) -> HttpResponse:
    workspace = workspace_get_by_slug(slug=workspace_slug)
    here = reverse("privacy_request_download", kwargs={"workspace_slug": workspace.slug, "reference": reference})
    with workspace_context(workspace):
        privacy_request = exports.export_request_get(workspace=workspace, reference=reference)
        if not verification.session_recently_verified(request, privacy_request):
            verify = reverse(
                "privacy_request_verify",
                kwargs={"workspace_slug": workspace.slug, "reference": privacy_request.reference},
            )
            return _private(redirect(f"{verify}?{urlencode({'next': here})}"))
        if not exports.authorisation_cleared(privacy_request):
            # A representative's authorisation pending or rejected: nothing is built or sent.
            rejected = privacy_request.authorisation_status == "rejected"
            messages.info(request, AUTHORISATION_REJECTED if rejected else AUTHORISATION_PENDING)
            return _private(
                redirect("privacy_request_status", workspace_slug=workspace.slug, reference=privacy_request.reference)
            )
        state, file = exports.download_state(request=privacy_request)
        if state == DownloadState.READY:
            token = exports.export_download_link_issue(request=privacy_request)
            if token is not None:
                return _private(redirect("privacy_download", workspace_slug=workspace.slug, token=token))
            state = DownloadState.PREPARING
        if state == DownloadState.PREPARING:
            exports.export_queue(request=privacy_request)
    context = {
        "agency": workspace.name,
        "workspace": workspace,
        "privacy_request": privacy_request,
        "file": file,
        "here": here,
    }
    if state == DownloadState.PREPARING:
        response = render(request, "privacy_requests/download_preparing.html", context)
        # A plain HTTP refresh: no script needed (CSP allows no inline script on these pages).
        response["Refresh"] = str(PREPARING_REFRESH_SECONDS)
        return _private(response)
    return _private(render(request, "privacy_requests/download_gone.html", {**context, "state": state}, status=410))


@require_GET  # not HEAD: a bodiless probe must not spend the single-use link
def download(request: HttpRequest, workspace_slug: str, token: str) -> HttpResponse:
    workspace = workspace_get_by_slug(slug=workspace_slug)
    with workspace_context(workspace):
        file = exports.export_download_file(workspace=workspace, token=token)
        # The link works once, for ten minutes, and only in the session that verified.
        if file is None or not verification.session_recently_verified(request, file.request):
            raise Http404("No such download")
        if not exports.authorisation_cleared(file.request):
            raise Http404("No such download")
        redeemed = exports.export_download_redeem(workspace=workspace, file=file)
        if redeemed is None:
            raise Http404("No such download")
    response = HttpResponse(redeemed.content, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{redeemed.filename}"'
    response["Content-Length"] = str(len(redeemed.content))
    response["X-Content-Type-Options"] = "nosniff"
    response = _private(response)
    response["Referrer-Policy"] = "no-referrer"  # the link is spent, but keep it to ourselves
    return response
