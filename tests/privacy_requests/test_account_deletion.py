"""Deleting an account (account settings → "Delete my account"): the account is
really deleted at once — logins, sessions, two-factor devices, email addresses,
memberships — while the user row stays pseudonymised for the audit trail, which is
kept with the security logs and the policy acceptances, as the statement says."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.usersessions.models import UserSession
from django.apps import apps
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test import Client as HttpClient

from accounts.models import ApiKey, Membership, User
from accounts.roles import Role
from accounts.services import (
    ACCOUNT_DELETION_HANDLES,
    api_key_create,
    invitation_accept,
    invitation_create,
    membership_change_role,
    user_account_delete,
)
from audit import actions
from audit.models import AuditEvent
from kernel.privacy.registry import SECURITY_LOGS, Erasure, declarations
from kernel.tenancy import workspace_context
from privacy_requests.models import PrivacyRequest, RequestStatus
from tests.conftest import PASSWORD, add_member, login

DAVE = "dave@example.com"
# Tables of the account and of allauth, where no trace of the address may stay.
ACCOUNT_APPS = ("accounts", "account", "mfa", "usersessions")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def dave(world):
    """An agent of Acme who joined by invitation, with a name, a verified address,
    two-factor, a signed-in browser and an API key he created (audited)."""
    with workspace_context(world.a):
        owner = Membership.objects.get(user=world.alice)
        issued = invitation_create(acting=owner, email=DAVE, role=Role.AGENT)
    user = User.objects.create_user(email=DAVE, password=PASSWORD, full_name="Dave Mehta")
    with workspace_context(world.a):
        invitation_accept(invitation=issued.invitation, user=user)
        api_key_create(workspace=world.a, name="Dave's import", created_by=user)
    EmailAddress.objects.create(user=user, email=DAVE, verified=True, primary=True)
    Authenticator.objects.create(user=user, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "x"})
    return user


def _sign_in(email: str, password: str = PASSWORD) -> HttpClient:
    client = HttpClient()
    client.post("/accounts/login/", {"login": email, "password": password})
    return client


def _signed_in(client: HttpClient) -> bool:
    return "_auth_user_id" in client.session


def _rows_mentioning(text: str) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for label in ACCOUNT_APPS:
            for model in apps.get_app_config(label).get_models():
                table = model._meta.db_table
                cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (table names from models)
                found += [table for row in cursor.fetchall() if text.lower() in str(row).lower()]
    return found


def _requests(workspace):
    with workspace_context(workspace):
        return list(PrivacyRequest.objects.all())


def test_deleting_an_account_erases_it_and_keeps_what_the_law_requires(world, dave, django_capture_on_commit_callbacks):
    browser = _sign_in(DAVE)  # another signed-in browser
    assert _signed_in(browser) and UserSession.objects.filter(user=dave).exists()
    other_session = browser.session.session_key
    assert _rows_mentioning(DAVE)  # the scan does see him before

    http = login(dave)
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Your account has been deleted" in html and "What we keep, why, and until when" in html
    assert "audit trail" in html and str(SECURITY_LOGS) in html

    # The account: pseudonymised, no password, inactive; no other trace of the address.
    dave.refresh_from_db()
    assert dave.email == f"erased-{dave.pk}@erased.invalid" and dave.full_name == ""
    assert not dave.has_usable_password() and not dave.is_active and dave.last_login is None
    assert _rows_mentioning(DAVE) == []
    assert _rows_mentioning("Dave Mehta") == []
    assert not Membership.unscoped.filter(user=dave).exists()
    assert not Authenticator.objects.filter(user=dave).exists()
    assert not EmailAddress.objects.filter(user=dave).exists()
    assert not UserSession.objects.filter(user=dave).exists()
    assert not Session.objects.filter(session_key=other_session).exists()

    # Signed out here and everywhere; the old address and password open nothing.
    assert not _signed_in(http)
    assert http.get("/account/privacy/").status_code == 302
    assert browser.get("/account/privacy/").status_code == 302
    assert not _signed_in(_sign_in(DAVE))

    # What he made stays the workspace's, pointing at the erased user; the trail verifies.
    with workspace_context(world.a):
        assert ApiKey.objects.get(name="Dave's import").created_by_id == dave.pk
        assert AuditEvent.objects.filter(action=actions.API_KEY_CREATED, actor_user_id=dave.pk).exists()
        removed = AuditEvent.objects.get(action=actions.MEMBER_REMOVED, actor_user_id=dave.pk)
        assert removed.metadata["account_deleted"] is True
    deleted = AuditEvent.unscoped.get(action=actions.USER_ACCOUNT_DELETED, object_id=str(dave.pk))
    assert deleted.workspace_id is None and deleted.actor_user_id == dave.pk
    assert "dave" not in str(deleted.metadata).lower()
    call_command("verify_audit_chain")

    # One verified erasure request in his workspace, the record that the right was used, closed.
    (made,) = _requests(world.a)
    assert made.type == "erasure" and made.user_id == dave.pk and made.status == RequestStatus.FULFILLED
    assert made.reference in html
    assert _requests(world.b) == []

    # The statement, emailed to the address he had.
    (sent,) = [m for m in mail.outbox if m.subject == "Your CollectPro account has been deleted"]
    assert all("erased.invalid" not in ",".join(m.to) for m in mail.outbox)  # no notice to the placeholder
    assert sent.to == [DAVE] and "What we keep" in sent.body and "audit trail" in sent.body
    assert made.reference in sent.body


def test_the_statement_lists_what_is_kept_from_the_registry(world):
    statement = user_account_delete(user=world.charlie)
    kept = {k["what"]: k for k in statement["kept"]}
    trail = next(k for what, k in kept.items() if what.startswith("The audit trail"))
    assert "IP address and browser" in trail["what"] and trail["until"] == str(SECURITY_LOGS)
    assert "GDPR Art. 5(2)" in trail["why"]
    assert any("sign-in attempts" in what and k["until"] == str(SECURITY_LOGS) for what, k in kept.items())
    assert any("GDPR Art. 7(1)" in k["why"] for k in kept.values())  # policy acceptances
    for k in statement["kept"]:
        assert k["what"] and k["why"] and k["until"]
    erased = " ".join(f"{e['what']}: {e['how']}" for e in statement["erased"])
    assert "password deleted" in erased and "email, full_name replaced by a placeholder" in erased


def test_every_registry_declaration_about_users_is_handled():
    """A new kind of record about users must be erased by the service (or kept, by
    declaring it "keep until"), or the statement would claim what was not done."""
    for decl in declarations():
        if decl.subject_type == "user" and any(pd.erasure != Erasure.KEEP_UNTIL for pd in decl.fields.values()):
            assert decl.model._meta.label_lower in ACCOUNT_DELETION_HANDLES


def test_the_only_owner_of_a_workspace_is_refused_and_nothing_changes(world):
    http = login(world.alice)
    response = http.post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "only owner of Acme Collections" in html and "make another member an owner" in html
    world.alice.refresh_from_db()
    assert world.alice.email == "alice@example.com" and world.alice.is_active and world.alice.has_usable_password()
    assert Membership.unscoped.filter(user=world.alice).exists()
    assert _requests(world.a) == []
    assert not AuditEvent.unscoped.filter(action=actions.USER_ACCOUNT_DELETED).exists()
    assert _signed_in(http)
    with pytest.raises(ValidationError, match="only owner"):
        user_account_delete(user=world.alice)


def test_an_owner_who_handed_over_can_delete(world):
    partner = add_member(world.a, "partner@example.com", Role.ADMIN)
    with workspace_context(world.a):
        owner = Membership.objects.get(user=world.alice)
        membership_change_role(acting=owner, membership=Membership.objects.get(user=partner), role=Role.OWNER)
    response = login(world.alice).post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    with workspace_context(world.a):
        assert list(Membership.objects.values_list("user__email", "role")) == [("partner@example.com", Role.OWNER)]


def test_deleting_needs_a_sign_in_and_the_password(world, dave):
    anonymous = HttpClient()
    assert anonymous.get("/account/privacy/delete/").status_code == 302
    response = anonymous.post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

    http = login(dave)
    response = http.post("/account/privacy/delete/", {"password": "wrong-password", "confirm": "on"})
    assert response.status_code == 400 and "That is not your password." in response.content.decode()
    assert http.post("/account/privacy/delete/", {"password": PASSWORD}).status_code == 400  # not confirmed
    dave.refresh_from_db()
    assert dave.email == DAVE and dave.is_active
    assert Membership.unscoped.filter(user=dave).exists()
    assert _requests(world.a) == []


def test_a_user_in_no_workspace_deletes_at_once(world, django_capture_on_commit_callbacks):
    http = login(world.charlie)
    assert 'data-testid="delete-account"' in http.get("/account/privacy/delete/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = http.post("/account/privacy/delete/", {"password": PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    world.charlie.refresh_from_db()
    assert not world.charlie.is_active and world.charlie.email.endswith("@erased.invalid")
    assert mail.outbox[-1].to == ["charlie@example.com"]


def test_the_service_refuses_twice_and_free_text_reasons(world):
    with pytest.raises(ValueError, match="short code"):
        user_account_delete(user=world.charlie, reason="Asked by phone, Charlie Brown")
    user_account_delete(user=world.charlie, actor=world.bob, reason="operator")
    event = AuditEvent.unscoped.get(action=actions.USER_ACCOUNT_DELETED)
    assert event.actor_user_id == world.bob.pk and event.metadata["by_self"] is False
    with pytest.raises(ValidationError, match="already been deleted"):
        user_account_delete(user=world.charlie)
