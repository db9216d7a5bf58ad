from __future__ import annotations

from typing import Any

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import WorkspaceApiMixin
from accounts.selectors import client_get
from debtors import selectors
from debtors.api.fields import MoneyField
from payments import services
from payments.models import PaymentLink
from reporting.remittance import remittance_statement


class PaymentLinkInput(serializers.Serializer[Any]):
    debt = serializers.UUIDField()
    amount = MoneyField(required=False, allow_null=True, default=None, help_text="Omit for the full balance")
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class PaymentLinkOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    url = serializers.CharField()
    status = serializers.CharField()
    purpose = serializers.CharField()
    expires_at = serializers.DateTimeField()


class PaymentLinkCreateApi(WorkspaceApiMixin, GenericAPIView[PaymentLink]):
    tenant_model = PaymentLink
    serializer_class = PaymentLinkInput

    @extend_schema(
        summary="Create a payment link for a debt",
        request=PaymentLinkInput,
        responses={201: PaymentLinkOutput},
        examples=[
            OpenApiExample("full balance", request_only=True, value={"debt": "0190c3a4-…"}),
            OpenApiExample(
                "custom",
                request_only=True,
                value={"debt": "0190c3a4-…", "amount": "500.00", "expires_at": "2026-12-31T23:59:00Z"},
            ),
        ],
    )
    def post(self, request: Request) -> Response:
        raw_debt = request.data.get("debt") if hasattr(request.data, "get") else None
        currency = ""
        if raw_debt:
            try:
                currency = selectors.debt_get(
                    workspace=self.workspace, debt_id=raw_debt, client_scope=self.client_scope
                ).currency
            except (Http404, ValueError, Exception):
                currency = ""
        data = PaymentLinkInput(data=request.data, context={"currency": currency or self.workspace.currency})
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            debt = selectors.debt_get(workspace=self.workspace, debt_id=v["debt"], client_scope=self.client_scope)
        except Http404:
            raise serializers.ValidationError({"debt": ["No such debt."]}) from None
        purpose = "custom" if v["amount"] is not None else "full_balance"
        issued = services.payment_link_create(
            debt=debt, purpose=purpose, amount_minor=v["amount"], expires_at=v["expires_at"]
        )
        link = issued.link
        return Response(
            PaymentLinkOutput(
                {
                    "id": link.pk,
                    "url": issued.url,
                    "status": link.status,
                    "purpose": link.purpose,
                    "expires_at": link.expires_at,
                }
            ).data,
            status=status.HTTP_201_CREATED,
        )


class RemittanceApi(WorkspaceApiMixin, GenericAPIView[Any]):
    """Collected minus commission, per client and month. A client-scoped key sees
    only its own statement."""

    tenant_model = PaymentLink
    pagination_class = None

    @extend_schema(
        summary="Remittance statement for a month",
        parameters=[
            OpenApiParameter("period", str, description="YYYY-MM (default: this month)"),
            OpenApiParameter("client", str, description="Client id (workspace keys)"),
        ],
        responses={200: dict},
    )
    def get(self, request: Request) -> Response:
        period = request.query_params.get("period") or ""
        client = self.client_scope
        if client is None and request.query_params.get("client"):
            try:
                client = client_get(workspace=self.workspace, client_id=request.query_params["client"])
            except (Http404, ValueError, Exception):
                raise serializers.ValidationError({"client": ["No such client."]}) from None
        try:
            statement = remittance_statement(workspace=self.workspace, period=period, client=client)
        except ValueError as exc:
            raise serializers.ValidationError({"period": [str(exc)]}) from None
        return Response(statement)
