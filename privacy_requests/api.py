"""REST API for rights requests a client relays (/api/v1/privacy-requests/).

A client that received a request from one of its customers relays it here; the
client checked who it was talking to, so the request counts as verified by that
client and its clock starts at ``received_at``. A client-scoped key sees, and may
relay, only requests about debtors with a debt its client placed; any other
debtor is "No such debtor." whether it exists or not."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import WorkspaceApiMixin
from debtors.selectors import debtor_get
from privacy_requests import selectors
from privacy_requests.models import PrivacyRequest, RequestChannel, RequestStatus, RequestType
from privacy_requests.services import privacy_request_create

TYPES = ", ".join(RequestType.values)


class PrivacyRequestInput(serializers.Serializer[Any]):
    type = serializers.ChoiceField(
        choices=RequestType.choices,
        help_text="What the person asks for.",
        error_messages={"invalid_choice": f'"{{input}}" is not a request type; use one of: {TYPES}.'},
    )
    debtor = serializers.UUIDField(
        help_text="The debtor the request is about: a debtor of this workspace (for a client-scoped key, one with "
        "a debt placed by its client)."
    )
    received_at = serializers.DateTimeField(
        required=False,
        help_text="When the client received the request (ISO 8601; without an offset it is read as UTC). "
        "Default: now. Not in the future. The deadline counts from this day.",
    )
    details = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=10_000,
        help_text="What the person wrote or said (stored encrypted; never returned by the API).",
    )


class PrivacyRequestOutput(serializers.Serializer[PrivacyRequest]):
    id = serializers.UUIDField()
    reference = serializers.CharField(help_text="Shown to the requester, e.g. PR-7K2M9Q")
    type = serializers.ChoiceField(choices=RequestType.choices)
    status = serializers.ChoiceField(choices=RequestStatus.choices)
    channel = serializers.ChoiceField(choices=RequestChannel.choices, help_text="`api` for relayed requests")
    debtor = serializers.UUIDField(source="debtor_id", allow_null=True)
    received_at = serializers.DateTimeField()
    due_at = serializers.DateTimeField(
        source="effective_due_at",
        allow_null=True,
        help_text="The deadline in force (the extended one once extended): the end of that day in the workspace's "
        "time zone. null while the clock waits for the person's identity to be confirmed.",
    )
    extended = serializers.SerializerMethodField(help_text="Whether the deadline was extended")
    days_left = serializers.SerializerMethodField(
        help_text="Whole days from today to due_at in the workspace's time zone (0 on the day, negative when "
        "overdue); null for a closed request or while the clock has not started."
    )
    closed_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(serializers.BooleanField())
    def get_extended(self, obj: PrivacyRequest) -> bool:
        return obj.extended_due_at is not None

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_days_left(self, obj: PrivacyRequest) -> int | None:
        now: datetime = self.context["now"]
        return selectors.days_left(obj, workspace=self.context["workspace"], now=now)


class _Filters(serializers.Serializer[Any]):
    type = serializers.ChoiceField(choices=RequestType.choices, required=False)
    status = serializers.ChoiceField(choices=RequestStatus.choices, required=False)


class PrivacyApiErrorBody(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        # "fields" is the error format's key, and also a Serializer attribute: added here.
        fields = super().get_fields()
        fields["fields"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="For `invalid`: each field (or `non_field_errors`) with its messages",
        )
        return fields


class PrivacyApiError(serializers.Serializer[Any]):
    """The API's one error format (docs/api.md)."""

    error = PrivacyApiErrorBody()


_BAD_REQUEST = OpenApiResponse(
    PrivacyApiError,
    description="A field is invalid",
    examples=[
        OpenApiExample(
            "unknown type",
            value={
                "error": {
                    "code": "invalid",
                    "message": "Some fields are invalid.",
                    "fields": {"type": [f'"delete_me" is not a request type; use one of: {TYPES}.']},
                }
            },
            status_codes=["400"],
        ),
        OpenApiExample(
            "debtor not found",
            value={
                "error": {
                    "code": "invalid",
                    "message": "Some fields are invalid.",
                    "fields": {"debtor": ["No such debtor."]},
                }
            },
            status_codes=["400"],
        ),
        OpenApiExample(
            "received in the future",
            value={
                "error": {
                    "code": "invalid",
                    "message": "Some fields are invalid.",
                    "fields": {"received_at": ["A request cannot be received in the future."]},
                }
            },
            status_codes=["400"],
        ),
    ],
)
_NOT_FOUND = OpenApiResponse(
    PrivacyApiError,
    description="No such request in this key's workspace (or client scope)",
    examples=[
        OpenApiExample(
            "not found", value={"error": {"code": "not_found", "message": "No such request"}}, status_codes=["404"]
        )
    ],
)
_CREATED_EXAMPLE = OpenApiExample(
    "relayed erasure request",
    value={
        "id": "0193a1f2-7c4e-7b2a-9d1e-3f5a6b7c8d9e",
        "reference": "PR-7K2M9Q",
        "type": "erasure",
        "status": "verified",
        "channel": "api",
        "debtor": "0190c3a4-1b2c-7d3e-8f40-5a6b7c8d9e0f",
        "received_at": "2026-11-20T09:30:00Z",
        "due_at": "2026-12-20T23:59:59+05:30",
        "extended": False,
        "days_left": 30,
        "closed_at": None,
    },
    response_only=True,
    status_codes=["201", "200"],
)


class PrivacyRequestListCreateApi(WorkspaceApiMixin, GenericAPIView[PrivacyRequest]):
    tenant_model = PrivacyRequest
    serializer_class = PrivacyRequestOutput

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "workspace": self.workspace, "now": timezone.now()}

    @extend_schema(
        summary="List rights requests",
        description="Requests about debtors, newest first, cursor-paginated. A client-scoped key sees only "
        "requests about debtors with a debt its client placed.",
        parameters=[
            OpenApiParameter("type", str, enum=RequestType.values, description="Only this type"),
            OpenApiParameter("status", str, enum=RequestStatus.values, description="Only this status"),
        ],
        responses={200: PrivacyRequestOutput(many=True), 400: _BAD_REQUEST},
    )
    def get(self, request: Request) -> Response:
        params = _Filters(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = selectors.requests_for_api(
            workspace=self.workspace, client_scope=self.client_scope, **params.validated_data
        )
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        summary="Relay a rights request",
        description="Record a request a client received from a debtor. The client vouches for the person's "
        "identity, so the request is verified at once and its deadline counts from `received_at` under the "
        "workspace's jurisdiction profile. The workspace's privacy desk answers it.",
        request=PrivacyRequestInput,
        responses={201: PrivacyRequestOutput, 400: _BAD_REQUEST},
        examples=[
            OpenApiExample(
                "erasure",
                request_only=True,
                value={
                    "type": "erasure",
                    "debtor": "0190c3a4-1b2c-7d3e-8f40-5a6b7c8d9e0f",
                    "received_at": "2026-11-20T09:30:00Z",
                    "details": "Customer asked by email on 20 Nov to delete their data.",
                },
            ),
            OpenApiExample("minimal", request_only=True, value={"type": "access", "debtor": "0190c3a4-…"}),
            _CREATED_EXAMPLE,
        ],
    )
    def post(self, request: Request) -> Response:
        data = PrivacyRequestInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        client = self.client_scope
        try:
            debtor = debtor_get(workspace=self.workspace, debtor_id=v["debtor"], client_scope=client)
        except Http404:
            raise serializers.ValidationError({"debtor": ["No such debtor."]}) from None
        relayed = (
            f"relayed by client {client.reference}"
            if client is not None
            else f"relayed through API key {self.api_key.name}"
        )
        created = privacy_request_create(
            workspace=self.workspace,
            type=v["type"],
            channel=RequestChannel.API,
            received_at=v.get("received_at"),
            debtor=debtor,
            client=client,
            details=v.get("details", ""),
            verified_by=relayed,
            actor=self.api_key,
            actor_label=f"API key {self.api_key.name}",
        )
        return Response(self.get_serializer(created).data, status=status.HTTP_201_CREATED)


class PrivacyRequestDetailApi(WorkspaceApiMixin, GenericAPIView[PrivacyRequest]):
    tenant_model = PrivacyRequest
    serializer_class = PrivacyRequestOutput

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "workspace": self.workspace, "now": timezone.now()}

    @extend_schema(
        summary="Get one rights request",
        responses={200: PrivacyRequestOutput, 404: _NOT_FOUND},
        examples=[_CREATED_EXAMPLE],
    )
    def get(self, request: Request, id: str) -> Response:
        found = selectors.request_get_for_api(workspace=self.workspace, request_id=id, client_scope=self.client_scope)
        return Response(self.get_serializer(found).data)
