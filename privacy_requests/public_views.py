"""Public rights-request pages under /privacy/<workspace-slug>/ (no sign-in).

Mobile-first, in English and Hindi, on the payment page's base. What these pages
say never depends on whether the details typed match anyone: the answer to a new
request, a wrong code and a request for a new code read the same either way, and
nothing of the person's data is shown until the session has verified the request
(then only the request's own status)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Workspace
from accounts.selectors import workspace_get_by_slug
from kernel.context import current_request_info
from kernel.tenancy import workspace_context
from privacy_requests import deadlines, intake, verification
from privacy_requests.forms import STATUS_LABELS, TYPE_HELP, TYPE_LABELS, RequestNewForm, VerifyForm
from privacy_requests.models import PrivacyRequest, SubjectType
from privacy_requests.services import privacy_contact_for
from privacy_requests.verification_tasks import code_queue

INTAKES_PER_WINDOW = 10


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # the reference stays on this site
    return response


def _base(workspace: Workspace) -> dict[str, Any]:
    contact = privacy_contact_for(workspace)
    return {
        "workspace": workspace,
        "agency": workspace.name,
        "privacy_contact": contact if contact and (contact.contact_name or contact.contact_email) else None,
    }


def _request_or_404(workspace: Workspace, reference: str) -> PrivacyRequest:
    request = verification.request_by_reference(workspace=workspace, reference=reference)
    if request is None:
        raise Http404("No such request")
    return request


def _ip() -> str | None:
    return current_request_info().ip


def request_new(request: HttpRequest, workspace_slug: str) -> HttpResponse:
    workspace = workspace_get_by_slug(slug=workspace_slug)
    with workspace_context(workspace):
        base = _base(workspace)
        posted = request.method == "POST"
        form = RequestNewForm(request.POST if posted else None, request.FILES if posted else None)
        status = 200
        if posted:
            if not verification.ip_allowed("intake", _ip(), limit=INTAKES_PER_WINDOW):
                form.add_error(None, _("Too many requests from your connection. Please try again later."))
                status = 429
            elif form.is_valid():
                data = form.cleaned_data
                try:
                    made = intake.public_request_submit(
                        workspace=workspace,
                        type=data["type"],
                        name=data["name"],
                        contact=data["contact"],
                        identifier=data["identifier"],
                        details=data["details"],
                        representative_name=data["representative_name"],
                        authorisation=data["authorisation"],
                    )
                except ValidationError as exc:
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    context = {**base, "reference": made.reference, "representative": bool(data["is_representative"])}
                    return _private(render(request, "privacy_requests/public_sent.html", context))
            if status == 200:
                status = 400
        types = [(value, label, TYPE_HELP[value]) for value, label in TYPE_LABELS.items()]
        return _private(
            render(request, "privacy_requests/public_new.html", {**base, "form": form, "types": types}, status=status)
        )


def _safe_next(request: HttpRequest, workspace: Workspace, privacy_request: PrivacyRequest) -> str:
    """Where to go after verifying: ``?next=`` if it is one of this request's own
    pages on this site, else its status page."""
    own = reverse(
        "privacy_request_status", kwargs={"workspace_slug": workspace.slug, "reference": privacy_request.reference}
    )
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted.startswith(own) and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return own


def request_verify(request: HttpRequest, workspace_slug: str, reference: str) -> HttpResponse:
    workspace = workspace_get_by_slug(slug=workspace_slug)
    with workspace_context(workspace):
        privacy_request = _request_or_404(workspace, reference)
        if privacy_request.subject_type == SubjectType.USER:
            # A signed-in user's own request: the sign-in is the verification.
            return redirect("account_privacy")
        next_url = _safe_next(request, workspace, privacy_request)
        form = VerifyForm(request.POST if request.method == "POST" else None)
        status = 200
        if request.method == "POST":
            status = 400
            if form.is_valid():
                result = verification.code_check(
                    request=privacy_request,
                    code=form.cleaned_data["code"],
                    knowledge=form.cleaned_data["knowledge"],
                    answer=form.cleaned_data["answer"],
                    ip=_ip(),
                )
                if result == verification.CheckResult.VERIFIED:
                    request.session.cycle_key()  # a new session id for the now-trusted session
                    verification.session_mark_verified(request, privacy_request)
                    return redirect(next_url)
                form.add_error(
                    None,
                    _("Too many attempts. For your security, please try again in an hour.")
                    if result == verification.CheckResult.LOCKED
                    else _(
                        "That code or answer does not match our records, or the code has expired. "
                        "Please check and try again, or ask for a new code."
                    ),
                )
        context = {**_base(workspace), "form": form, "reference": privacy_request.reference, "next": next_url}
        return _private(render(request, "privacy_requests/public_verify.html", context, status=status))


@require_POST
def request_code_resend(request: HttpRequest, workspace_slug: str, reference: str) -> HttpResponse:
    """ "Send me a new code": the same answer whether or not a code can be sent."""
    workspace = workspace_get_by_slug(slug=workspace_slug)
    with workspace_context(workspace):
        privacy_request = _request_or_404(workspace, reference)
        next_url = _safe_next(request, workspace, privacy_request)
        if verification.ip_allowed("send", _ip(), limit=verification.IP_SENDS_PER_WINDOW):
            code_queue(request=privacy_request)
        messages.info(
            request,
            _(
                "If we hold data about you, we have sent a new one-time code to the contact details we already "
                "have on file. It is valid for 15 minutes."
            ),
        )
    verify = reverse("privacy_request_verify", kwargs={"workspace_slug": workspace.slug, "reference": reference})
    return redirect(f"{verify}?{urlencode({'next': next_url})}")


def request_status(request: HttpRequest, workspace_slug: str, reference: str) -> HttpResponse:
    """The request's reference, type, status, date received and days left — only to
    the session that verified it; anyone else is asked to verify first."""
    workspace = workspace_get_by_slug(slug=workspace_slug)
    with workspace_context(workspace):
        privacy_request = _request_or_404(workspace, reference)
        if not verification.session_recently_verified(request, privacy_request):
            verify = reverse(
                "privacy_request_verify",
                kwargs={"workspace_slug": workspace.slug, "reference": privacy_request.reference},
            )
            return redirect(f"{verify}?{urlencode({'next': request.path})}")
        context = {
            **_base(workspace),
            "reference": privacy_request.reference,
            "type_label": TYPE_LABELS[privacy_request.type],
            "status_label": STATUS_LABELS[privacy_request.status],
            "received_at": privacy_request.received_at,
            "days_left": deadlines.days_left(privacy_request.effective_due_at, now=timezone.now(), workspace=workspace),
            "is_open": privacy_request.is_open,
            "offers_copy": privacy_request.type in verification.COPY_TYPES,
        }
        return _private(render(request, "privacy_requests/public_status.html", context))
