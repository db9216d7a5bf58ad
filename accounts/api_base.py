from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import ApiKey, Client, Workspace


class WorkspaceApiMixin:
    """Gives API views the key's workspace and client scope. Lookups must go
    through selectors that take ``workspace`` (and ``client_scope``)."""

    @property
    def api_key(self) -> ApiKey:
        request: Request = self.request  # type: ignore[attr-defined]
        assert isinstance(request.auth, ApiKey)
        return request.auth

    @property
    def workspace(self) -> Workspace:
        return self.api_key.workspace

    @property
    def client_scope(self) -> Any:
        """The key's client, or None for a whole-workspace key. Fails closed: a
        client-scoped key whose client cannot be read gets no access at all."""
        if self.api_key.client_id is None:
            return None
        if not hasattr(self, "_client_scope"):
            client = Client.objects.for_workspace(self.workspace).filter(pk=self.api_key.client_id).first()
            if client is None:
                raise PermissionDenied("This key's client no longer exists.")
            self._client_scope = client
        return self._client_scope

    def forbid_client_scoped(self) -> None:
        if self.api_key.client_id is not None:
            raise PermissionDenied("A client-scoped key cannot do this.")


class WorkspaceOutput(serializers.Serializer[Any]):
    slug = serializers.CharField()
    name = serializers.CharField()
    jurisdiction = serializers.CharField()
    currency = serializers.CharField()
    timezone = serializers.CharField()
    client_scope = serializers.CharField(allow_null=True)


class WorkspaceApi(WorkspaceApiMixin, APIView):
    @extend_schema(responses=WorkspaceOutput, summary="The API key's workspace")
    def get(self, request: Request) -> Response:
        ws = self.workspace
        data = {
            "slug": ws.slug,
            "name": ws.name,
            "jurisdiction": ws.jurisdiction,
            "currency": ws.currency,
            "timezone": ws.timezone,
            "client_scope": self.client_scope.reference if self.client_scope else None,
        }
        return Response(WorkspaceOutput(data).data)
