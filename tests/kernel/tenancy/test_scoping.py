from __future__ import annotations

import pytest
from django.http import Http404

from accounts.models import ApiKey, Client, Membership
from accounts.selectors import api_key_get
from kernel.tenancy import WorkspaceNotSet, workspace_context


def test_scoped_manager_raises_without_a_workspace(world):
    with pytest.raises(WorkspaceNotSet):
        list(Client.objects.all())
    with pytest.raises(WorkspaceNotSet):
        Membership.objects.count()


def test_scoped_manager_sees_only_the_current_workspace(world):
    with workspace_context(world.a):
        assert list(Client.objects.values_list("reference", flat=True)) == ["SAHYADRI"]
    with workspace_context(world.b):
        assert list(Client.objects.values_list("reference", flat=True)) == ["LSCU"]


def test_lookup_of_another_workspaces_object_is_404(world):
    with workspace_context(world.b):
        b_key = ApiKey.objects.get()
    with workspace_context(world.a), pytest.raises(Http404):
        api_key_get(workspace=world.a, api_key_id=b_key.pk)
