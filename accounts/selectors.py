from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import ApiKey, Client, Invitation, Membership, User, Workspace
from accounts.services import sha256_hex


def memberships_for_user(*, user: User) -> QuerySet[Membership]:
    """A user's memberships across workspaces (readable under RLS by ``app.user_id``)."""
    return Membership.unscoped.filter(user=user).select_related("workspace").order_by("workspace__name")


def membership_for(*, workspace: Workspace, user: User) -> Membership | None:
    if not user.is_authenticated:
        return None
    return Membership.objects.for_workspace(workspace).select_related("client").filter(user=user).first()


def workspace_get_by_slug(*, slug: str) -> Workspace:
    ws = Workspace.objects.filter(slug=slug).first()
    if ws is None:
        raise Http404("No such workspace")
    return ws


def member_get(*, workspace: Workspace, membership_id: object) -> Membership:
    m = Membership.objects.for_workspace(workspace).select_related("user", "workspace").filter(pk=membership_id).first()
    if m is None:
        raise Http404("No such member")
    return m


def members_list(*, workspace: Workspace) -> QuerySet[Membership]:
    return Membership.objects.for_workspace(workspace).select_related("user", "client").order_by("user__email")


def api_keys_list(*, workspace: Workspace) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_workspace(workspace).select_related("created_by", "client").order_by("-created_at")


def api_key_get(*, workspace: Workspace, api_key_id: object) -> ApiKey:
    key = ApiKey.objects.for_workspace(workspace).filter(pk=api_key_id).first()
    if key is None:
        raise Http404("No such API key")
    return key


def api_key_by_secret(*, secret: str) -> ApiKey | None:
    """Find an active key by the secret presented. Runs before any workspace is
    known; under RLS the row is readable only through ``app.api_key_hash``."""
    # Not select_related("client"): under RLS the client row is invisible until the
    # workspace is set, and a NULL join would silently widen a client-scoped key.
    return (
        ApiKey.unscoped.select_related("workspace").filter(key_hash=sha256_hex(secret), revoked_at__isnull=True).first()
    )


def closed_workspace_of_key(*, secret: str) -> Workspace | None:
    """The closed workspace whose key this is, revoked (as closing revokes them) or
    not: its calls are told the workspace is closed rather than that the key is
    wrong. Runs where ``api_key_by_secret`` runs."""
    key = ApiKey.unscoped.select_related("workspace").filter(key_hash=sha256_hex(secret)).first()
    return key.workspace if key is not None and key.workspace.is_closed else None


def invitations_pending(*, workspace: Workspace) -> QuerySet[Invitation]:
    from django.utils import timezone

    return (
        Invitation.objects.for_workspace(workspace)
        .filter(accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .order_by("-created_at")
    )


def invitation_get(*, workspace: Workspace, invitation_id: object) -> Invitation:
    inv = Invitation.objects.for_workspace(workspace).filter(pk=invitation_id).first()
    if inv is None:
        raise Http404("No such invitation")
    return inv


def invitation_by_token(*, token: str) -> Invitation | None:
    return Invitation.unscoped.select_related("workspace").filter(token_hash=sha256_hex(token)).first()


# --- Clients -----------------------------------------------------------------


def clients_list(*, workspace: Workspace, client_scope: Client | None = None) -> QuerySet[Client]:
    qs = Client.objects.for_workspace(workspace)
    if client_scope is not None:
        qs = qs.filter(pk=client_scope.pk)
    return qs


def client_get(*, workspace: Workspace, client_id: Any, client_scope: Client | None = None) -> Client:
    client = clients_list(workspace=workspace, client_scope=client_scope).filter(pk=client_id).first()
    if client is None:
        raise Http404("No such client")
    return client


def client_get_by_reference(*, workspace: Workspace, reference: str) -> Client | None:
    return Client.objects.for_workspace(workspace).filter(reference=reference).first()
