"""One rights request on the privacy desk (/w/<slug>/privacy/requests/<id>/): its
timeline, verification record, representative's authorisation, files and erasure
plans — and the actions privacy.manage may take, each a POST calling one service
(privacy_requests.services, desk_services, exports, erasure, fulfilment).

Which actions a request offers is decided in one place,
``selectors.available_actions``; an action it does not offer is refused here
(400) and the service checks its own rules again."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Membership, Workspace
from accounts.roles import can
from accounts.types import request_user
from audit.services import record_personal_data_access
from debtors.selectors import debts_visible_to
from kernel.tenancy.decorators import workspace_view
from privacy_requests import desk_services, erasure, exports, fulfilment, selectors, services
from privacy_requests.desk_views import form_errors_from
from privacy_requests.forms_desk import (
    AuthorisationReviewForm,
    CloseForm,
    ErasurePlanForm,
    MatchForm,
    MatchSearchForm,
    PlanForm,
    ReasonForm,
    RectificationForm,
    VerifyForm,
)
from privacy_requests.models import FileKind, PrivacyRequest, RequestStatus, RequestType

# The requester's own words, shown on the request page (a personal-data read, audited).
SHOWN_FIELDS = (
    "requester_name",
    "requester_contact",
    "details",
    "representative_name",
    "nominee_name",
    "nominee_contact",
    "rectification",
)


def _json(value: object) -> str:
    """A plan or statement as the erasure work stored it, for people to read."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str) if value else ""


def _forms(request: PrivacyRequest) -> dict[str, forms.Form]:
    """Every action's empty form (the failed one is replaced by its bound copy)."""
    return {
        "verify": VerifyForm(),
        "match": MatchSearchForm(auto_id="match_%s"),
        "extend": ReasonForm(auto_id="extend_%s"),
        "close": CloseForm(status=request.status, auto_id="close_%s"),
        "authorisation": AuthorisationReviewForm(auto_id="auth_%s"),
        "erasure": ErasurePlanForm(auto_id="erasure_%s"),
        "rectify": RectificationForm(initial=RectificationForm.proposed(request.rectification), auto_id="rectify_%s"),
    }


def _detail(
    http: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    request: PrivacyRequest,
    *,
    failed: dict[str, forms.Form] | None = None,
    candidates: list[selectors.MatchCandidate] | None = None,
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    events = list(selectors.request_timeline(request=request))
    shown = [name for name in SHOWN_FIELDS if getattr(request, name)]
    if shown:
        record_personal_data_access(subject=request, fields=shown, purpose="privacy desk: request page")
    debt = (
        debts_visible_to(workspace=workspace, membership=membership)
        .filter(debtor_id=request.debtor_id)
        .order_by("-created_at")
        .first()
        if request.debtor_id
        else None
    )
    can_manage = can(membership, "privacy.manage")
    offered = selectors.available_actions(request=request, workspace=workspace)
    files = list(selectors.request_files(request=request))
    return render(
        http,
        "privacy_requests/desk_request.html",
        {
            "pr": request,
            "tz": zoneinfo.ZoneInfo(workspace.timezone),
            "due": selectors.deadline_state(request, workspace=workspace, now=now),
            "events": events,
            "verification": selectors.verification_record(request=request, events=events),
            "codes": list(selectors.request_codes(request=request)),
            "files": files,
            "authorisation_file": next(
                (f for f in files if f.kind == FileKind.AUTHORISATION and f.deleted_at is None), None
            ),
            "plans": [
                {"plan": plan, "plan_text": _json(plan.plan), "statement_text": _json(plan.statement)}
                for plan in (selectors.erasure_plans(request=request) if request.type == RequestType.ERASURE else [])
            ],
            "now": now,
            "debt": debt,
            "can_manage": can_manage,
            "actions": offered if can_manage else frozenset(),
            "offered": offered,
            "can_approve_erasure": selectors.may_approve_erasure(workspace=workspace, membership=membership),
            "forms": {**_forms(request), **(failed or {})},
            "proposed": RectificationForm.proposed(request.rectification),
            "candidates": candidates,
            "section": "requests",
        },
        status=status,
    )


@workspace_view("privacy.view")
def request_detail(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    request = selectors.request_get(workspace=workspace, request_id=request_id)
    return _detail(http, workspace, membership, request)


def _act(
    http: HttpRequest,
    workspace: Workspace,
    membership: Membership,
    request_id: str,
    *,
    action: str,
    form: forms.Form,
    run: Callable[[PrivacyRequest, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """Run one action if the request offers it and the form is valid; otherwise the
    request page again (400) with the errors next to the fields."""
    request = selectors.request_get(workspace=workspace, request_id=request_id)
    if action not in selectors.available_actions(request=request, workspace=workspace):
        messages.error(http, "This request does not offer that action now.")
        return _detail(http, workspace, membership, request, status=400)
    if form.is_valid():
        try:
            run(request, form.cleaned_data)
        except ValidationError as exc:
            form_errors_from(form, exc)
        else:
            messages.success(http, done)
            return redirect("privacy_desk_request", workspace_slug=workspace.slug, request_id=request.pk)
    request = selectors.request_get(workspace=workspace, request_id=request_id)
    if type(_forms(request).get(action)) is type(form):
        return _detail(http, workspace, membership, request, failed={action: form}, status=400)
    # A button without fields (start, build, apply, approve, run): its errors go to the top.
    messages.error(http, " ".join(str(e) for errs in form.errors.values() for e in errs))
    return _detail(http, workspace, membership, request, status=400)


# --- Identity, deadline, closing -----------------------------------------------------------


@require_POST
@workspace_view("privacy.manage")
def request_verify(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    """Identity confirmed by a person (a document seen, a call back), chosen from a
    fixed list: the clock starts now if it waited for this."""
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="verify",
        form=VerifyForm(http.POST),
        # d["method"] is a fixed label (forms_desk.IDENTITY_CHECKS), never typed text:
        # it is written to the append-only audit trail.
        run=lambda r, d: services.privacy_request_verified(request=r, method=d["method"], actor=user),
        done="Identity confirmed; the request is verified.",
    )


@require_POST
@workspace_view("privacy.manage")
def request_start(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="start",
        form=forms.Form(http.POST),
        run=lambda r, d: services.privacy_request_transition(
            request=r, to=RequestStatus.IN_PROGRESS, actor=user, reason="work started"
        ),
        done="The request is in progress.",
    )


@require_POST
@workspace_view("privacy.manage")
def request_extend(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="extend",
        form=ReasonForm(http.POST, auto_id="extend_%s"),
        run=lambda r, d: services.privacy_request_extend(request=r, reason=d["reason"], actor=user),
        done="Deadline extended. Tell the requester, with the reason, inside the first period.",
    )


@require_POST
@workspace_view("privacy.manage")
def request_close(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    """Fulfilled, partly fulfilled, refused or withdrawn — with the reason the
    requester is told."""
    user = request_user(http)
    request = selectors.request_get(workspace=workspace, request_id=request_id)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="close",
        form=CloseForm(http.POST, status=request.status, auto_id="close_%s"),
        run=lambda r, d: services.privacy_request_transition(
            request=r, to=d["outcome"], actor=user, reason=d["reason"]
        ),
        done="The request is closed.",
    )


# --- Matching a request to a debtor ---------------------------------------------------------


@require_POST
@workspace_view("privacy.manage")
def request_match_search(
    http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str
) -> HttpResponse:
    """Search, exactly, for the debtor an unmatched request is about (a POST, so the
    value searched stays out of URLs and logs); the request page again with the
    candidates, each shown being a personal-data read (audited). Changes nothing."""
    request = selectors.request_get(workspace=workspace, request_id=request_id)
    if "match" not in selectors.available_actions(request=request, workspace=workspace):
        messages.error(http, "This request does not offer that action now.")
        return _detail(http, workspace, membership, request, status=400)
    form = MatchSearchForm(http.POST, auto_id="match_%s")
    if not form.is_valid():
        return _detail(http, workspace, membership, request, failed={"match": form}, status=400)
    candidates = selectors.match_candidates(workspace=workspace, query=form.cleaned_data["q"])
    for candidate in candidates:
        record_personal_data_access(
            subject=candidate.debtor, fields=["full_name"], purpose="privacy desk: matching a request to a debtor"
        )
    return _detail(http, workspace, membership, request, failed={"match": form}, candidates=candidates)


@require_POST
@workspace_view("privacy.manage")
def request_match(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    """Link the unmatched request to the debtor chosen; its status does not change."""
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="match",
        form=MatchForm(http.POST),
        run=lambda r, d: desk_services.privacy_request_match(request=r, debtor_id=d["debtor"], actor=user),
        done="Matched to the debtor. Identity is still to be confirmed: a code to the contact on file "
        "(the requester asks for a new one on the verify page) or a check by hand.",
    )


# --- A representative's authorisation --------------------------------------------------------


@require_POST
@workspace_view("privacy.manage")
def request_authorisation_review(
    http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str
) -> HttpResponse:
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="authorisation",
        form=AuthorisationReviewForm(http.POST, auto_id="auth_%s"),
        run=lambda r, d: desk_services.privacy_request_authorisation_review(
            request=r, approve=d["decision"] == "approve", reason=d["reason"], actor=user
        ),
        done="Authorisation reviewed.",
    )


@workspace_view("privacy.manage")
def request_authorisation_file(
    http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str
) -> HttpResponse:
    """The representative's authorisation, decrypted for its reviewers (audited).
    Without one stored, back to the request page."""
    request = selectors.request_get(workspace=workspace, request_id=request_id)
    file = selectors.authorisation_file(request=request)
    if file is None:
        messages.error(http, "No authorisation file is stored for this request.")
        return redirect("privacy_desk_request", workspace_slug=workspace.slug, request_id=request.pk)
    try:
        data = desk_services.authorisation_file_read(request=request, file=file)
    except ValidationError as exc:
        messages.error(http, " ".join(exc.messages))
        return redirect("privacy_desk_request", workspace_slug=workspace.slug, request_id=request.pk)
    response = HttpResponse(data, content_type="application/octet-stream")
    response["Content-Disposition"] = f'attachment; filename="authorisation-{request.reference}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store"
    return response


# --- Fulfilment by type ------------------------------------------------------------------------


@require_POST
@workspace_view("privacy.manage")
def request_export(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    """Access / portability: build the person's copy on a worker (idempotent per request)."""
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="export",
        form=forms.Form(http.POST),
        run=lambda r, d: exports.export_queue(request=r),
        done="The copy is being built; it appears under Files when ready.",
    )


@require_POST
@workspace_view("privacy.manage")
def request_erasure_plan(
    http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str
) -> HttpResponse:
    """Erasure, step 1: the plan (a dry run: nothing is changed)."""
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="erasure",
        form=ErasurePlanForm(http.POST, auto_id="erasure_%s"),
        run=lambda r, d: erasure.erasure_plan(
            workspace=workspace, debtor=r.debtor, request=r, actor=user, reason=d["reason"]
        ),
        done="Erasure planned (nothing has been changed yet): review the plan below, then approve it.",
    )


@require_POST
@workspace_view("privacy.view")
def request_erasure_approve(
    http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str
) -> HttpResponse:
    """Erasure, step 2: approve the plan shown — a manager, admin or owner, or the
    workspace's privacy contact."""
    if not selectors.may_approve_erasure(workspace=workspace, membership=membership):
        raise PermissionDenied
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="erasure",
        form=PlanForm(http.POST),
        run=lambda r, d: erasure.erasure_approve(
            plan=selectors.erasure_plan_get(request=r, plan_id=d["plan"]), actor=user
        ),
        done="Erasure plan approved. Run it to erase.",
    )


@require_POST
@workspace_view("privacy.manage")
def request_erasure_run(
    http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str
) -> HttpResponse:
    """Erasure, step 3: run the approved plan on a worker (resumable, idempotent)."""
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="erasure",
        form=PlanForm(http.POST),
        run=lambda r, d: erasure.erasure_queue(plan=selectors.erasure_plan_get(request=r, plan_id=d["plan"])),
        done="Erasure started; the statement appears here when it is done.",
    )


_APPLY: dict[str, Callable[..., object]] = {
    RequestType.RESTRICTION: lambda **kw: fulfilment.restriction_apply(**kw),
    RequestType.OBJECTION: lambda **kw: fulfilment.objection_apply(**kw),
    RequestType.WITHDRAWAL: lambda **kw: fulfilment.withdrawal_apply(**kw),
}


@require_POST
@workspace_view("privacy.manage")
def request_fulfil(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    """Restriction, objection or withdrawal of consent: recorded in the consent
    ledger and honoured by the contact rules at once."""
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="fulfil",
        form=forms.Form(http.POST),
        run=lambda r, d: _APPLY[r.type](request=r, actor=user),
        done="Recorded: the contact rules honour it from now on.",
    )


@require_POST
@workspace_view("privacy.manage")
def request_rectify(http: HttpRequest, workspace: Workspace, membership: Membership, request_id: str) -> HttpResponse:
    """Apply the corrections through the debtor services (blind indexes, audit);
    those it was disclosed to are told (GDPR Art. 19)."""
    user = request_user(http)
    return _act(
        http,
        workspace,
        membership,
        request_id,
        action="rectify",
        form=RectificationForm(http.POST, auto_id="rectify_%s"),
        run=lambda r, d: fulfilment.rectification_apply(
            request=r, changes={k: v for k, v in d.items() if v not in (None, "")}, actor=user
        ),
        done="Corrections applied.",
    )
