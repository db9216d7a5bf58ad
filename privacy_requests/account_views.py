"""A signed-in user's own rights: "download my data" and "delete my account",
linked from account settings (/account/security/). Users are not tenant data, but
every request is recorded in a workspace, whose privacy contact answers it: the
user picks one of their workspaces for a copy. Deleting the account happens at
once (``accounts.services.user_account_delete``); every workspace they belonged
to records it as an erasure request, closed as fulfilled. A user in no workspace
downloads what the registry holds about their account at once."""

from __future__ import annotations

from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import User, Workspace
from accounts.selectors import memberships_for_user
from accounts.services import user_account_delete
from accounts.types import request_user
from kernel.tenancy import workspace_context
from privacy_requests import intake, verification
from privacy_requests.forms import AccountDeleteForm, AccountDownloadForm
from privacy_requests.models import REQUEST_RECORDS, PrivacyRequest, RequestStatus, SubjectType
from privacy_requests.services import privacy_contact_for, privacy_request_transition

PASSWORD_TRIES_PER_WINDOW = 5


def _workspaces(user: User) -> list[Workspace]:
    return [m.workspace for m in memberships_for_user(user=user)]


def _own_requests(user: User, workspaces: list[Workspace]) -> list[tuple[Workspace, PrivacyRequest]]:
    rows = []
    for workspace in workspaces:
        with workspace_context(workspace, user_id=user.pk):
            for pr in (
                PrivacyRequest.objects.for_workspace(workspace)
                .filter(user=user, subject_type=SubjectType.USER)
                .order_by("-received_at")[:20]
            ):
                rows.append((workspace, pr))
    return rows


def _choices(workspaces: list[Workspace]) -> list[tuple[str, str]]:
    return [(ws.slug, ws.name) for ws in workspaces]


@login_required
def account_privacy(request: HttpRequest) -> HttpResponse:
    user = request_user(request)
    workspaces = _workspaces(user)
    contacts = {}
    for ws in workspaces:
        with workspace_context(ws, user_id=user.pk):
            contacts[ws.slug] = privacy_contact_for(ws)
    return render(
        request,
        "privacy_requests/account_privacy.html",
        {
            "workspaces": [(ws, contacts[ws.slug]) for ws in workspaces],
            "form": AccountDownloadForm(workspaces=_choices(workspaces)),
            "requests": _own_requests(user, workspaces),
        },
    )


@login_required
@require_POST
def account_data_request(request: HttpRequest) -> HttpResponse:
    """ "Download my data": a verified access request in the workspace picked."""
    user = request_user(request)
    workspaces = _workspaces(user)
    form = AccountDownloadForm(request.POST, workspaces=_choices(workspaces))
    if not form.is_valid():
        messages.error(request, "Pick one of your workspaces.")
        return redirect("account_privacy")
    workspace = next(ws for ws in workspaces if ws.slug == form.cleaned_data["workspace"])
    with workspace_context(workspace, user_id=user.pk):
        made = intake.account_access_request(workspace=workspace, user=user)
    verification.session_mark_verified(request, made)
    messages.success(
        request,
        f"Request {made.reference} received by {workspace.name}. Your copy is being prepared; "
        "download it from this page when it is ready.",
    )
    return redirect("account_privacy")


@login_required
@require_POST
def account_data_download(request: HttpRequest) -> HttpResponse:
    """The copy for a user in no workspace, from the registry, at once."""
    user = request_user(request)
    if _workspaces(user):
        raise Http404("Ask the workspace's privacy contact for a copy")
    body = intake.account_data_without_workspace(user=user)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="my-account-data.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def account_request_download(request: HttpRequest, workspace: str, reference: str) -> HttpResponse:
    """The signed-in user's own request: their sign-in is the verification, so the
    session is marked and the download page takes over."""
    # The slug is named ``workspace``, not ``workspace_slug``: this is no workspace
    # page (the user's own memberships decide, not the tenancy middleware).
    user = request_user(request)
    found = next((ws for ws in _workspaces(user) if ws.slug == workspace), None)
    if found is None:
        raise Http404("No such request")
    with workspace_context(found, user_id=user.pk):
        made = verification.request_by_reference(workspace=found, reference=reference)
        if made is None or made.user_id != user.pk or made.subject_type != SubjectType.USER:
            raise Http404("No such request")
    verification.session_mark_verified(request, made)
    return redirect("privacy_request_download", workspace_slug=found.slug, reference=made.reference)


ACCOUNT_DELETED_OUTCOME = (
    "Account deleted at once from account settings; the audit trail, policy acceptances and "
    "security logs are kept under their legal bases."
)


def _delete_account(user: User, workspaces: list[Workspace]) -> tuple[dict[str, Any], list[PrivacyRequest]]:
    """One transaction: a verified erasure request per workspace (the record that
    the right was exercised), the deletion itself, then each request closed as
    fulfilled. A refusal (sole owner) raises and leaves nothing behind."""
    with transaction.atomic():
        made = []
        for workspace in workspaces:
            with workspace_context(workspace, user_id=user.pk):
                made.append(intake.account_erasure_request(workspace=workspace, user=user))
        statement = user_account_delete(user=user, reason="self_service")
        closed = []
        for workspace, request in zip(workspaces, made, strict=True):
            with workspace_context(workspace):
                closed.append(
                    privacy_request_transition(
                        request=request,
                        to=RequestStatus.FULFILLED,
                        actor_label="account deletion",
                        reason=ACCOUNT_DELETED_OUTCOME,
                        notify=False,  # the statement is the answer, sent to the address they had
                    )
                )
    return statement, closed


def _statement_text(statement: dict[str, Any], made: list[tuple[Workspace, PrivacyRequest]]) -> str:
    lines = ["Your CollectPro account has been deleted.", "", "What was deleted:"]
    lines += [f"- {e['what']}: {e['how']}" for e in statement["erased"]]
    lines += ["", "What we keep, why, and until when:"]
    lines += [f"- {k['what']}. Why: {k['why']}. Until: {k['until']}." for k in statement["kept"]]
    if made:
        lines += ["", "Your erasure requests (kept as the record that you used this right):"]
        lines += [f"- {ws.name}: {pr.reference}" for ws, pr in made]
    lines += ["", "You cannot sign in with this address any more. This cannot be undone."]
    return "\n".join(lines) + "\n"


@login_required
def account_delete(request: HttpRequest) -> HttpResponse:
    """ "Delete my account": what is kept and why, the password again, then the
    account is deleted at once (refused while the user is a workspace's only
    owner), the user signed out and shown (and emailed) the statement."""
    user = request_user(request)
    workspaces = _workspaces(user)
    form = AccountDeleteForm(request.POST if request.method == "POST" else None, user=user)
    status = 200
    if request.method == "POST":
        status = 400
        if not verification.ip_allowed("account-delete", str(user.pk), limit=PASSWORD_TRIES_PER_WINDOW):
            form.add_error(None, "Too many tries. Please try again in 15 minutes.")
        elif form.is_valid():
            address = user.email  # before it is replaced by a placeholder
            try:
                statement, closed = _delete_account(user, workspaces)
            except ValidationError as refused:
                form.add_error(None, refused.messages)
            else:
                made = list(zip(workspaces, closed, strict=True))
                if made:
                    statement["kept"].append(
                        {
                            "what": "Your erasure request in each workspace ("
                            + ", ".join(f"{ws.name}: {pr.reference}" for ws, pr in made)
                            + ")",
                            "why": "proof that the right was honoured (GDPR Art. 5(2))",
                            "until": str(REQUEST_RECORDS),
                        }
                    )
                logout(request)
                transaction.on_commit(
                    partial(
                        send_mail,
                        subject="Your CollectPro account has been deleted",
                        message=_statement_text(statement, made),
                        from_email=None,
                        recipient_list=[address],
                    )
                )
                return render(
                    request,
                    "privacy_requests/account_delete_sent.html",
                    {"statement": statement, "made": made},
                )
    return render(
        request,
        "privacy_requests/account_delete.html",
        {
            "form": form,
            "workspaces": workspaces,
            "kept": intake.account_erasure_keeps(),
            "removed": intake.account_erasure_removes(),
            "security_log_retention": intake.SECURITY_LOG_RETENTION,
        },
        status=status,
    )
