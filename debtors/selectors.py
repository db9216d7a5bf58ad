from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.models import Workspace
from debtors.models import Client


def clients_list(*, workspace: Workspace, client_scope: Client | None = None) -> QuerySet[Client]:
    qs = Client.objects.for_workspace(workspace)
    if client_scope is not None:
        qs = qs.filter(pk=client_scope.pk)
    return qs


def client_get(*, workspace: Workspace, client_id: object, client_scope: Client | None = None) -> Client:
    client = clients_list(workspace=workspace, client_scope=client_scope).filter(pk=client_id).first()
    if client is None:
        raise Http404("No such client")
    return client


def client_get_by_reference(*, workspace: Workspace, reference: str) -> Client | None:
    return Client.objects.for_workspace(workspace).filter(reference=reference).first()
