"""The account pages: members and invitations, API keys, settings, security,
home, and the audit trail of signing in and out."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client as HttpClient

from accounts.models import ApiKey, Invitation, Membership, User
from accounts.roles import Role
from accounts.services import sha256_hex
from audit import actions
from audit.models import AuditEvent
from kernel.tenancy import workspace_context
from tests.conftest import PASSWORD, add_member, api, login

SECRET_RE = re.compile(r'id="new-secret">\s*([^<\s]+)\s*<')
LINK_RE = re.compile(r"https?://\S+?(/invitations/[^/\s]+/)")


def _events(workspace, action: str) -> list[AuditEvent]:
    with workspace_context(workspace):
        return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _global_events(action: str) -> list[AuditEvent]:
    # Outside any workspace the scoped manager reads the global chain.
    return list(AuditEvent.objects.filter(action=action).order_by("seq"))


def _membership(workspace, user) -> Membership | None:
    with workspace_context(workspace):
        return Membership.objects.filter(user=user).first()


# --- Members and invitations ---------------------------------------------------------


def test_members_page_lists_members(world):
    add_member(world.a, "agent@example.com", Role.AGENT)
    r = login(world.alice).get("/w/acme/members/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "alice@example.com" in html and "agent@example.com" in html
    assert "bob@example.com" not in html  # B's owner is not A's member


def test_owner_invites_and_the_invitee_signs_up_and_joins(world, django_capture_on_commit_callbacks):
    alice = login(world.alice)
    with django_capture_on_commit_callbacks(execute=True):
        r = alice.post("/w/acme/members/", {"email": "Dana@Example.com", "role": Role.MANAGER})
    assert r.status_code == 302 and r["Location"] == "/w/acme/members/"
    invite_mail = next(m for m in mail.outbox if "dana@example.com" in m.to)
    assert "Acme Collections" in invite_mail.subject
    path = LINK_RE.search(invite_mail.body)[1]  # type: ignore[index]
    assert "dana@example.com" in alice.get("/w/acme/members/").content.decode()  # pending

    dana = HttpClient()
    # Signup is closed to anyone without a pending invitation.
    closed = dana.get("/accounts/signup/")
    assert "Sign Up Closed" in closed.content.decode()
    stranger = {"email": "x@example.com", "password1": PASSWORD, "password2": PASSWORD}
    assert dana.post("/accounts/signup/", stranger).status_code != 302
    assert not User.objects.filter(email="x@example.com").exists()

    landing = dana.get(path)
    assert landing.status_code == 200 and "Join Acme Collections" in landing.content.decode()
    form = dana.get("/accounts/signup/")
    assert form.status_code == 200 and 'name="password1"' in form.content.decode()
    r = dana.post("/accounts/signup/", {"email": "dana@example.com", "password1": PASSWORD, "password2": PASSWORD})
    assert r.status_code == 302 and r["Location"] == path
    user = User.objects.get(email="dana@example.com")
    assert _membership(world.a, user) is None  # not until accepted

    assert "Accept invitation" in dana.get(path).content.decode()
    r = dana.post(path)
    assert r.status_code == 302 and r["Location"] == "/w/acme/"
    assert _membership(world.a, user).role == Role.MANAGER  # type: ignore[union-attr]
    assert dana.get("/w/acme/").status_code == 200
    assert dana.get("/w/globex/").status_code == 404
    assert [e.actor_user_id for e in _events(world.a, actions.INVITATION_ACCEPTED)] == [user.pk]
    # The link is spent.
    assert dana.get(path).status_code == 404
    assert HttpClient().get(path).status_code == 404


def test_invitation_for_someone_else_cannot_be_accepted(world):
    with workspace_context(world.a):
        owner = Membership.objects.get(user=world.alice)
    from accounts.services import invitation_create

    with workspace_context(world.a):
        issued = invitation_create(acting=owner, email="dana@example.com", role=Role.AGENT)
    path = issued.url.split("://", 1)[1].split("/", 1)[1]
    r = login(world.charlie).post(f"/{path}")
    assert r.status_code == 400
    assert _membership(world.a, world.charlie) is None


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/w/acme/members/", {"email": "eve@example.com", "role": Role.OWNER}),
        ("/w/acme/api-keys/", {"name": "sneaky"}),
    ],
)
def test_agent_cannot_manage_members_or_keys(world, path, data):
    agent = login(add_member(world.a, "agent@example.com", Role.AGENT))
    assert agent.post(path, data).status_code == 403
    with workspace_context(world.a):
        assert not Invitation.objects.exists()
        assert not ApiKey.objects.filter(name="sneaky").exists()


# --- API keys -----------------------------------------------------------------------


def _create_key(client: HttpClient, name: str = "ERP") -> str:
    r = client.post("/w/acme/api-keys/", {"name": name, "client": ""})
    assert r.status_code == 200, r.content[:500]
    assert r["Cache-Control"] == "no-store"
    match = SECRET_RE.search(r.content.decode())
    assert match, "the new key is shown on the page"
    return match[1]


def test_new_api_key_is_shown_once_and_never_cached(world):
    alice = login(world.alice)
    secret = _create_key(alice)
    assert api(secret).get("/api/v1/workspace/").json()["slug"] == "acme"
    again = alice.get("/w/acme/api-keys/")
    assert again.status_code == 200 and again["Cache-Control"] == "no-store"
    html = again.content.decode()
    assert secret not in html
    prefix = "_".join(secret.split("_")[:2])  # cp_<8 hex>; the rest may contain "_"
    assert f"{prefix}…" in html  # the prefix identifies it


def test_revoking_in_the_ui_makes_the_key_401(world):
    alice = login(world.alice)
    secret = _create_key(alice)
    with workspace_context(world.a):
        key = ApiKey.objects.get(key_hash=sha256_hex(secret))
    r = alice.post(f"/w/acme/api-keys/{key.pk}/revoke/")
    assert r.status_code == 302 and r["Location"] == "/w/acme/api-keys/"
    assert api(secret).get("/api/v1/workspace/").status_code == 401
    assert api(world.key_a).get("/api/v1/workspace/").status_code == 200
    assert [e.object_id for e in _events(world.a, actions.API_KEY_REVOKED)] == [str(key.pk)]


# --- Workspace settings ---------------------------------------------------------------


SETTINGS = {"name": "Acme Recoveries", "jurisdiction": "IN", "currency": "inr", "timezone": "Asia/Kolkata"}


def test_owner_changes_settings_and_it_is_audited(world):
    r = login(world.alice).post("/w/acme/settings/", SETTINGS)
    assert r.status_code == 302, r.content[:500]
    world.a.refresh_from_db()
    assert (world.a.name, world.a.currency) == ("Acme Recoveries", "INR")
    [event] = _events(world.a, actions.WORKSPACE_SETTINGS_CHANGED)
    assert event.actor_user_id == world.alice.pk
    assert event.metadata == {"fields": ["name"]}
    assert _events(world.b, actions.WORKSPACE_SETTINGS_CHANGED) == []


def test_auditor_reads_settings_but_cannot_change_them(world):
    auditor = login(add_member(world.a, "auditor@example.com", Role.AUDITOR))
    r = auditor.get("/w/acme/settings/")
    assert r.status_code == 200 and "Only owners and admins can change settings." in r.content.decode()
    assert auditor.post("/w/acme/settings/", SETTINGS).status_code == 403
    world.a.refresh_from_db()
    assert world.a.name == "Acme Collections"
    assert _events(world.a, actions.WORKSPACE_SETTINGS_CHANGED) == []


# --- Security, home ---------------------------------------------------------------------


def _sign_in(email: str, password: str = PASSWORD, **headers: str) -> tuple[HttpClient, int]:
    client = HttpClient(**headers)
    r = client.post("/accounts/login/", {"login": email, "password": password})
    return client, r.status_code


def test_security_page_lists_sessions(world):
    client, status = _sign_in("alice@example.com", HTTP_USER_AGENT="Mozilla/5.0 (X11) CollectProTestBrowser/1.0")
    assert status == 302
    r = client.get("/account/security/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "Active sessions" in html
    assert "CollectProTestBrowser/1.0" in html and "this session" in html
    assert HttpClient().get("/account/security/").status_code == 302  # login required


def test_home_sends_a_one_workspace_user_to_the_dashboard(world):
    r = login(world.alice).get("/")
    assert r.status_code == 302 and r["Location"] == "/w/acme/"


def test_home_shows_an_empty_state_to_a_user_without_workspaces(world):
    r = login(world.charlie).get("/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "not in any workspace yet" in html and "invite you" in html


def test_home_lists_every_workspace_of_a_member_of_several(world):
    add_member(world.b, "alice@example.com", Role.AUDITOR)
    r = login(world.alice).get("/")
    assert r.status_code == 200
    html = r.content.decode()
    assert "/w/acme/" in html and "/w/globex/" in html


# --- Signing in and out is audited ------------------------------------------------------


def test_login_is_audited_in_each_of_the_users_workspaces(world):
    add_member(world.b, "alice@example.com", Role.AUDITOR)
    client, status = _sign_in("alice@example.com")
    assert status == 302
    for ws in (world.a, world.b):
        [event] = _events(ws, actions.LOGIN)
        assert (event.actor_user_id, event.object_id) == (world.alice.pk, str(world.alice.pk))
    assert client.post("/accounts/logout/").status_code == 302
    assert [e.actor_user_id for e in _events(world.a, actions.LOGOUT)] == [world.alice.pk]
    assert len(_events(world.b, actions.LOGOUT)) == 1


def test_login_of_a_user_without_workspaces_goes_to_the_global_chain(world):
    _, status = _sign_in("charlie@example.com")
    assert status == 302
    assert [e.object_id for e in _global_events(actions.LOGIN)] == [str(world.charlie.pk)]
    assert _events(world.a, actions.LOGIN) == []


def test_failed_login_is_audited_without_the_attempted_address(world):
    _, status = _sign_in("alice@example.com", "wrong-password")
    assert status == 200  # the form again, with an error
    [event] = _events(world.a, actions.LOGIN_FAILED)
    assert event.metadata == {"known_account": True}
    assert _events(world.b, actions.LOGIN_FAILED) == []

    _, status = _sign_in("nobody@example.com", "wrong-password")
    assert status == 200
    [unknown] = _global_events(actions.LOGIN_FAILED)
    assert unknown.metadata == {"known_account": False}
    assert "nobody" not in str(unknown.metadata) + unknown.object_id
