from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from accounts.models import ApiKey, Membership, User, Workspace
from accounts.roles import Role
from accounts.selectors import api_key_by_secret, member_get
from accounts.services import (
    api_key_create,
    api_key_revoke,
    membership_change_role,
    membership_remove,
    sha256_hex,
    workspace_create,
)
from audit.models import AuditEvent
from kernel.tenancy import workspace_context
from tests.conftest import PASSWORD, add_member


def test_workspace_create_uses_the_jurisdiction_defaults(db):
    ws = workspace_create(
        slug="zulu", name="Zulu", owner_email="Owner@Example.com", owner_password=PASSWORD, jurisdiction="ZA"
    )
    assert (ws.currency, ws.timezone, ws.data_region) == ("ZAR", "Africa/Johannesburg", "za")
    owner = User.objects.get(email="owner@example.com")
    with workspace_context(ws):
        assert Membership.objects.get(user=owner).role == Role.OWNER
        assert AuditEvent.objects.filter(action="workspace.created").count() == 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"owner_password": "short"}, "password"),
        ({"owner_password": "password12345"}, "password"),  # common password
        ({"slug": "Bad Slug!"}, "slug"),
        ({"jurisdiction": "XX"}, "jurisdiction"),
        ({"owner_email": "not-an-email"}, "email"),
    ],
)
def test_workspace_create_rejects_bad_input_and_writes_nothing(db, kwargs, field):
    args = {"slug": "ok", "name": "OK", "owner_email": "o@example.com", "owner_password": PASSWORD, **kwargs}
    with pytest.raises(ValidationError) as exc:
        workspace_create(**args)
    assert field in str(exc.value) or field in getattr(exc.value, "message_dict", {})
    assert not Workspace.objects.exists()
    assert not User.objects.exists()


def test_api_key_is_stored_hashed_and_shown_once(world):
    with workspace_context(world.a):
        issued = api_key_create(workspace=world.a, name="ERP", created_by=world.alice)
        row = ApiKey.objects.get(pk=issued.api_key.pk)
    assert issued.secret.startswith(row.prefix + "_")
    assert row.key_hash == sha256_hex(issued.secret)
    assert issued.secret not in str(row.__dict__.values())
    assert api_key_by_secret(secret=issued.secret) == row
    with workspace_context(world.a):
        api_key_revoke(api_key=row, actor=world.alice)
        actions = list(AuditEvent.objects.values_list("action", flat=True))
    assert api_key_by_secret(secret=issued.secret) is None
    assert "api_key.created" in actions and "api_key.revoked" in actions


def test_role_changes_follow_the_matrix(world):
    manager = add_member(world.a, "manager@example.com", Role.MANAGER)
    admin = add_member(world.a, "admin@example.com", Role.ADMIN)
    with workspace_context(world.a):
        m_manager = Membership.objects.get(user=manager)
        m_admin = Membership.objects.get(user=admin)
        m_alice = Membership.objects.get(user=world.alice)
        with pytest.raises(PermissionError):
            membership_change_role(acting=m_manager, membership=m_admin, role=Role.AGENT)
        with pytest.raises(PermissionError):  # an admin cannot make owners
            membership_change_role(acting=m_admin, membership=m_manager, role=Role.OWNER)
        with pytest.raises(ValidationError):  # the last owner stays
            membership_change_role(acting=m_alice, membership=m_alice, role=Role.AGENT)
        membership_change_role(acting=m_admin, membership=m_manager, role=Role.AUDITOR)
        assert member_get(workspace=world.a, membership_id=m_manager.pk).role == Role.AUDITOR
        event = AuditEvent.objects.filter(action="member.role_changed").get()
        assert event.metadata == {"user_id": manager.pk, "from": "manager", "to": "auditor"}
        membership_remove(acting=m_alice, membership=m_admin)
        assert not Membership.objects.filter(user=admin).exists()
