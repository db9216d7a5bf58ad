from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, InviteForm, RoleForm, WorkspaceSettingsForm
from accounts.models import Membership, User, Workspace
from accounts.roles import PERMISSIONS, ROLE_PERMISSIONS, Role, can
from accounts.selectors import client_get, clients_list
from kernel.tenancy.context import db_scope, workspace_context
from kernel.tenancy.decorators import workspace_view


def _user(request: HttpRequest) -> User:
    """The signed-in user (views here are behind login or workspace membership)."""
    assert isinstance(request.user, User)
    return request.user


def _errors(exc: ValidationError) -> list[str]:
    return [m for ms in getattr(exc, "message_dict", {"": exc.messages}).values() for m in ms]


@login_required
def home(request: HttpRequest) -> HttpResponse:
    memberships = list(selectors.memberships_for_user(user=_user(request)))
    if len(memberships) == 1:
        return redirect("dashboard", workspace_slug=memberships[0].workspace.slug)
    return render(request, "accounts/home.html", {"memberships": memberships})


@workspace_view()
def dashboard(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    return render(request, "accounts/dashboard.html", {})


@workspace_view("members.view", write_perm="members.manage")
def members(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    form = InviteForm(request.POST or None, granter_role=membership.role)
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.invitation_create(
                acting=membership, email=form.cleaned_data["email"], role=form.cleaned_data["role"]
            )
        except ValidationError as exc:
            for msg in _errors(exc):
                form.add_error("email", msg)
        except PermissionError as exc:
            form.add_error("role", str(exc))
        else:
            messages.success(request, f"Invitation sent to {issued.invitation.email}.")
            return redirect("members", workspace_slug=workspace.slug)
    context = {
        "members": selectors.members_list(workspace=workspace),
        "invitations": selectors.invitations_pending(workspace=workspace),
        "form": form,
        "roles": Role.choices,
        "matrix": [
            (perm, desc, [perm in ROLE_PERMISSIONS[r] for r, _ in Role.choices]) for perm, desc in PERMISSIONS.items()
        ],
        "can_manage": can(membership, "members.manage"),
    }
    return render(request, "accounts/members.html", context, status=400 if form.errors else 200)


@require_POST
@workspace_view("members.manage")
def member_role(request: HttpRequest, workspace: Workspace, membership: Membership, member_id: str) -> HttpResponse:
    target = selectors.member_get(workspace=workspace, membership_id=member_id)
    form = RoleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a valid role.")
        return redirect("members", workspace_slug=workspace.slug)
    try:
        services.membership_change_role(acting=membership, membership=target, role=form.cleaned_data["role"])
    except (ValidationError, PermissionError) as exc:
        messages.error(request, " ".join(_errors(exc)) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, f"{target.user.email} is now {target.get_role_display()}.")
    return redirect("members", workspace_slug=workspace.slug)


@require_POST
@workspace_view("members.manage")
def member_remove(request: HttpRequest, workspace: Workspace, membership: Membership, member_id: str) -> HttpResponse:
    target = selectors.member_get(workspace=workspace, membership_id=member_id)
    try:
        services.membership_remove(acting=membership, membership=target)
    except (ValidationError, PermissionError) as exc:
        messages.error(request, " ".join(_errors(exc)) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, f"{target.user.email} was removed.")
    return redirect("members", workspace_slug=workspace.slug)


@require_POST
@workspace_view("members.manage")
def invitation_revoke(
    request: HttpRequest, workspace: Workspace, membership: Membership, invitation_id: str
) -> HttpResponse:
    invitation = selectors.invitation_get(workspace=workspace, invitation_id=invitation_id)
    services.invitation_revoke(acting=membership, invitation=invitation)
    messages.success(request, f"Invitation to {invitation.email} revoked.")
    return redirect("members", workspace_slug=workspace.slug)


@workspace_view("api_keys.manage")
def api_keys(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    clients = clients_list(workspace=workspace)
    form = ApiKeyForm(request.POST or None, clients=clients)
    new_secret = None
    if request.method == "POST" and form.is_valid():
        client = None
        if form.cleaned_data["client"]:
            client = client_get(workspace=workspace, client_id=form.cleaned_data["client"])
        issued = services.api_key_create(
            workspace=workspace, name=form.cleaned_data["name"], created_by=_user(request), client=client
        )
        new_secret = issued.secret
        form = ApiKeyForm(clients=clients)
    response = render(
        request,
        "accounts/api_keys.html",
        {"keys": selectors.api_keys_list(workspace=workspace), "form": form, "new_secret": new_secret},
        status=400 if form.errors else 200,
    )
    response["Cache-Control"] = "no-store"  # the new secret must not be cached
    return response


@require_POST
@workspace_view("api_keys.manage")
def api_key_revoke(request: HttpRequest, workspace: Workspace, membership: Membership, api_key_id: str) -> HttpResponse:
    key = selectors.api_key_get(workspace=workspace, api_key_id=api_key_id)
    services.api_key_revoke(api_key=key, actor=_user(request))
    messages.success(request, f"Key “{key.name}” revoked. Requests using it now get 401.")
    return redirect("api_keys", workspace_slug=workspace.slug)


@workspace_view("workspace.view", write_perm="workspace.settings")
def workspace_settings(request: HttpRequest, workspace: Workspace, membership: Membership) -> HttpResponse:
    initial = {f: getattr(workspace, f) for f in services.WORKSPACE_SETTINGS_FIELDS}
    form = WorkspaceSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_update_settings(
                workspace=workspace,
                actor=_user(request),
                **{f: form.cleaned_data[f] for f in services.WORKSPACE_SETTINGS_FIELDS},
            )
        except ValidationError as exc:
            for msg in _errors(exc):
                form.add_error(None, msg)
        else:
            messages.success(request, "Settings saved.")
            return redirect("workspace_settings", workspace_slug=workspace.slug)
    return render(
        request,
        "accounts/settings.html",
        {"form": form, "can_edit": can(membership, "workspace.settings")},
        status=400 if form.errors else 200,
    )


@login_required
def security(request: HttpRequest) -> HttpResponse:
    from allauth.mfa.models import Authenticator
    from allauth.usersessions.models import UserSession

    authenticators = Authenticator.objects.filter(user=request.user)
    sessions = UserSession.objects.filter(user=request.user).order_by("-last_seen_at")
    return render(
        request,
        "accounts/security.html",
        {
            "authenticators": authenticators,
            "mfa_enabled": authenticators.exists(),
            "sessions": sessions,
            "current_session_key": request.session.session_key,
        },
    )


@login_required
def mfa_required(request: HttpRequest, slug: str) -> HttpResponse:
    return render(request, "accounts/mfa_required.html", {"slug": slug, "setup_url": reverse("mfa_activate_totp")})


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    with db_scope(invitation_hash=services.sha256_hex(token)):
        invitation = selectors.invitation_by_token(token=token)
    if invitation is None or not invitation.is_pending:
        return render(request, "accounts/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        request.session["invitation_token"] = token
        return render(request, "accounts/invitation_landing.html", {"invitation": invitation})
    if request.method == "POST":
        try:
            with workspace_context(invitation.workspace, user_id=request.user.pk):
                services.invitation_accept(invitation=invitation, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(_errors(exc)))
            return render(request, "accounts/invitation_landing.html", {"invitation": invitation}, status=400)
        request.session.pop("invitation_token", None)
        messages.success(request, f"Welcome to {invitation.workspace.name}.")
        return redirect("dashboard", workspace_slug=invitation.workspace.slug)
    return render(request, "accounts/invitation_landing.html", {"invitation": invitation})
