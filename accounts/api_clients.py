"""Client (creditor) endpoints. Debtors and debts arrive with the ledger issue."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import services
from accounts.api_base import WorkspaceApiMixin
from accounts.models import Client
from accounts.selectors import client_get, clients_list


class ClientOutput(serializers.ModelSerializer[Client]):
    class Meta:
        model = Client
        fields = ["id", "name", "reference", "commission_rate_bps", "created_at"]


class ClientInput(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=200)
    reference = serializers.CharField(max_length=64)
    commission_rate_bps = serializers.IntegerField(min_value=0, max_value=10_000, default=0)


class ClientListCreateApi(WorkspaceApiMixin, GenericAPIView[Client]):
    serializer_class = ClientOutput
    tenant_model = Client

    def get_queryset(self) -> Any:
        return clients_list(workspace=self.workspace, client_scope=self.client_scope)

    @extend_schema(responses=ClientOutput(many=True), summary="List clients (creditors)")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ClientOutput(page, many=True).data)

    @extend_schema(
        request=ClientInput,
        responses={201: ClientOutput},
        summary="Create a client",
        examples=[
            OpenApiExample(
                "client",
                value={"name": "Acme Bank", "reference": "ACME", "commission_rate_bps": 1500},
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        self.forbid_client_scoped()
        data = ClientInput(data=request.data)
        data.is_valid(raise_exception=True)
        client = services.client_create(workspace=self.workspace, **data.validated_data)
        return Response(ClientOutput(client).data, status=status.HTTP_201_CREATED)


class ClientDetailApi(WorkspaceApiMixin, GenericAPIView[Client]):
    serializer_class = ClientOutput
    tenant_model = Client

    @extend_schema(responses=ClientOutput, summary="Get one client")
    def get(self, request: Request, id: str) -> Response:
        client = client_get(workspace=self.workspace, client_id=id, client_scope=self.client_scope)
        return Response(ClientOutput(client).data)
