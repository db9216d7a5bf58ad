"""Closing a workspace: only an owner, by typing its slug; it stops working at once for
members and API keys (410), other workspaces carry on, another workspace's member gets
404 on the closure pages, and an owner may cancel during the grace period."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.models import ApiKey, Invitation, Workspace
from accounts.roles import Role
from accounts.services import api_key_create, invitation_create
from accounts.tasking import fan_out
from audit import actions
from audit.models import AuditEvent
from kernel.tenancy import workspace_context
from payments.services import payment_link_create
from retention.closure import workspace_close, workspace_closure_cancel
from tests.conftest import add_member, api, login
from tests.cross_tenant import owner_membership
from tests.debtors.factories import make_debt
from tests.retention.closure_world import _fresh_cache, close, count, fresh  # noqa: F401

CLOSURE_ROUTES = [
    ("get", "/w/{slug}/closure/"),
    ("post", "/w/{slug}/closure/close/"),
    ("post", "/w/{slug}/closure/cancel/"),
    ("post", "/w/{slug}/closure/export/"),
    ("get", "/w/{slug}/closure/export/download/"),
]


def day_in_india(moment) -> str:
    local = moment.astimezone(zoneinfo.ZoneInfo("Asia/Kolkata"))  # Acme's time zone
    return f"{local.day} {local:%B %Y}"


def post_close(client, slug: str = "acme", confirm: str = "acme", reason: str = "leaving"):
    return client.post(f"/w/{slug}/closure/close/", {"confirm_slug": confirm, "reason": reason})


def events(workspace: Workspace, action: str) -> list[AuditEvent]:
    return list(AuditEvent.unscoped.filter(workspace_id=workspace.pk, action=action))


def test_the_owner_closes_and_the_workspace_stops_at_once(world, django_capture_on_commit_callbacks, private_storage):
    agent = add_member(world.a, "arjun-agent@example.com", Role.AGENT)
    alice = login(world.alice)
    assert alice.get("/w/acme/settings/").status_code == 200
    assert b"Close this workspace" in alice.get("/w/acme/settings/").content

    with django_capture_on_commit_callbacks(execute=True):
        response = post_close(alice)
    assert response.status_code == 302 and response["Location"] == "/w/acme/closure/"

    ws = fresh(world.a)
    assert ws.is_closed and ws.closed_by == world.alice
    assert ws.purge_after == ws.closed_at + timedelta(days=30)  # ACCOUNT_LIFETIME
    closed_on, purge_on = day_in_india(ws.closed_at), day_in_india(ws.purge_after)
    message = f"This workspace was closed on {closed_on}; its data will be purged on {purge_on}."

    # Every page of the workspace, for every member, says so with 410.
    for who, path in ((alice, "/w/acme/"), (alice, "/w/acme/debts/"), (login(agent), "/w/acme/settings/")):
        page = who.get(path)
        assert page.status_code == 410, path
        assert message in page.content.decode()
    # Writes too.
    assert login(agent).post("/w/acme/debts/saved-views/", {"name": "x"}).status_code == 410

    # Every API call with the workspace's key: the API's error format, code workspace_closed.
    for path in ("/api/v1/workspace/", "/api/v1/clients/"):
        response = api(world.key_a).get(path)
        assert response.status_code == 410
        assert response.json() == {"error": {"code": "workspace_closed", "message": message}}
    assert api(world.key_a).post("/api/v1/clients/", {"name": "X"}).status_code == 410

    # Its keys and pending invitations were revoked, and it was all audited.
    assert count(ApiKey, ws) == 1
    with workspace_context(ws):
        assert not ApiKey.objects.for_workspace(ws).filter(revoked_at__isnull=True).exists()
    closed = events(ws, actions.WORKSPACE_CLOSED)
    assert len(closed) == 1 and closed[0].actor_user_id == world.alice.pk
    assert closed[0].metadata["reason"] == "leaving" and closed[0].metadata["api_keys_revoked"] == 1
    assert len(events(ws, actions.API_KEY_REVOKED)) == 1
    # The owner is told, with the purge date and where to get the export.
    told = [m for m in mail.outbox if m.subject == "Acme Collections is closed"]
    assert len(told) == 1 and told[0].to == ["alice@example.com"]
    assert f"before {purge_on}." in told[0].body and "/w/acme/closure/" in told[0].body

    # The other workspace carries on.
    assert login(world.bob).get("/w/globex/").status_code == 200
    assert api(world.key_b).get("/api/v1/workspace/").status_code == 200


def test_the_owner_still_reaches_the_closure_page_and_no_one_else(world, django_capture_on_commit_callbacks):
    admin = add_member(world.a, "ada-admin@example.com", Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=False):
        close(world)
    page = login(world.alice).get("/w/acme/closure/")
    assert page.status_code == 200
    assert b"Acme Collections is closed" in page.content and b"Reopen the workspace" in page.content
    # Not the dashboard, and no menu that leads to pages answering 410.
    assert b'href="/w/acme/debts/"' not in page.content
    # An admin is a member but not an owner: the closed page, without the owner's link.
    gone = login(admin).get("/w/acme/closure/")
    assert gone.status_code == 410 and b'href="/w/acme/closure/"' not in gone.content


def test_only_an_owner_may_close(world):
    admin = add_member(world.a, "ada-admin@example.com", Role.ADMIN)
    manager = add_member(world.a, "mo-manager@example.com", Role.MANAGER)
    for user in (admin, manager):
        client = login(user)
        assert client.get("/w/acme/closure/").status_code == 403
        assert post_close(client).status_code == 403
    with pytest.raises(PermissionError):
        workspace_close(workspace=world.a, actor=admin, confirm_slug="acme", reason="leaving")
    assert not fresh(world.a).is_closed
    assert not events(world.a, actions.WORKSPACE_CLOSED)


@pytest.mark.parametrize("typed", ["", "globex", "ACME", "acm", "Acme Collections"])
def test_a_wrong_slug_is_refused(world, typed):
    response = post_close(login(world.alice), confirm=typed)
    assert response.status_code == 400
    assert b"to confirm" in response.content
    assert not fresh(world.a).is_closed
    assert login(world.alice).get("/w/acme/").status_code == 200


def test_a_reason_is_required_and_closing_twice_is_refused(world, django_capture_on_commit_callbacks):
    assert post_close(login(world.alice), reason="").status_code == 400
    assert not fresh(world.a).is_closed
    with django_capture_on_commit_callbacks(execute=False):
        close(world)
    with pytest.raises(ValidationError, match="already closed"):
        close(world)


@pytest.mark.parametrize(("method", "path"), CLOSURE_ROUTES)
@pytest.mark.parametrize("acme_closed", [False, True], ids=["open", "closed"])
def test_another_workspaces_owner_gets_404(world, django_capture_on_commit_callbacks, method, path, acme_closed):
    if acme_closed:
        with django_capture_on_commit_callbacks(execute=False):
            close(world)
    bob = login(world.bob)
    assert getattr(bob, method)(path.format(slug="acme")).status_code == 404
    assert not fresh(world.a).is_closed or acme_closed
    # Charlie belongs nowhere: 404 too.
    assert getattr(login(world.charlie), method)(path.format(slug="acme")).status_code == 404


def test_cancel_within_the_grace_period(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        close(world)
    alice = login(world.alice)
    response = alice.post("/w/acme/closure/cancel/")
    assert response.status_code == 302 and response["Location"] == "/w/acme/settings/"
    ws = fresh(world.a)
    assert not ws.is_closed and ws.purge_after is None
    assert alice.get("/w/acme/").status_code == 200
    # The old key stays revoked (a closure may answer a leak): a new one works.
    assert api(world.key_a).get("/api/v1/workspace/").status_code == 401
    with workspace_context(ws):
        secret = api_key_create(workspace=ws, name="After reopening").secret
    assert api(secret).get("/api/v1/workspace/").status_code == 200
    cancelled = events(ws, actions.WORKSPACE_CLOSURE_CANCELLED)
    assert len(cancelled) == 1 and cancelled[0].actor_user_id == world.alice.pk


def test_no_cancel_once_the_grace_period_is_over(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        ws = close(world)
    with pytest.raises(ValidationError, match="grace period has ended"):
        workspace_closure_cancel(workspace=ws, actor=world.alice, now=ws.purge_after + timedelta(seconds=1))
    admin = add_member(world.a, "ada-admin@example.com", Role.ADMIN)
    with pytest.raises(PermissionError):
        workspace_closure_cancel(workspace=ws, actor=admin)
    assert fresh(world.a).is_closed
    assert not events(ws, actions.WORKSPACE_CLOSURE_CANCELLED)


def test_a_pending_invitation_is_revoked_and_cannot_be_accepted(world, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        issued = invitation_create(acting=owner_membership(world.a), email="late@example.com", role=Role.AGENT)
    with django_capture_on_commit_callbacks(execute=False):
        close(world)
    with workspace_context(world.a):
        invitation = Invitation.objects.for_workspace(world.a).get(pk=issued.invitation.pk)
    assert invitation.revoked_at is not None and not invitation.is_pending


def test_nightly_jobs_skip_a_closed_workspace_but_retention_does_not(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        close(world)

    class Recorder:
        def __init__(self) -> None:
            self.ids: list[int] = []

        def delay(self, workspace_id: int) -> None:
            self.ids.append(workspace_id)

    nightly, purge = Recorder(), Recorder()
    assert fan_out(nightly) == 1 and nightly.ids == [world.b.pk]
    assert fan_out(purge, include_closed=True) == 2 and set(purge.ids) == {world.a.pk, world.b.pk}


def test_a_closed_workspaces_payment_links_stop_working(world, django_capture_on_commit_callbacks):
    with workspace_context(world.a):
        issued = payment_link_create(debt=make_debt(world.a, amount_minor=40_000))
    assert Client().get(f"/pay/{issued.token}/").status_code == 200
    with django_capture_on_commit_callbacks(execute=False):
        close(world)
    # The debtor's pages no longer know the link: a closed agency takes no payments.
    assert Client().get(f"/pay/{issued.token}/").status_code == 404
