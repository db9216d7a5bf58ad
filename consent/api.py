"""REST API for consent, the contact rules and collection sequences.

Every view finds its debtor or debt through the debtors selectors with the key's
workspace and client scope, so another workspace's id — or, for a creditor's key,
another client's debtor — is a 404 before the request body is looked at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import WorkspaceApiMixin
from audit.services import record_personal_data_access
from consent.models import (
    CHANNEL_PURPOSE,
    ConsentAction,
    ConsentRecord,
    ConsentSource,
    PolicyKind,
    PolicyVersion,
    Purpose,
)
from consent.rules import can_contact
from consent.services import consent_current, consent_record
from debtors import selectors
from debtors.models import Debt, Debtor

# Sources an integration may claim; the others (debtor page, opt-out link, cookie
# banner) are recorded by CollectPro itself when the debtor acts there.
API_SOURCES = [ConsentSource.API, ConsentSource.AGENT_CALL, ConsentSource.IMPORT]
API_SOURCE_CHOICES = [(s.value, s.label) for s in API_SOURCES]
SOURCE_HELP = "Where the debtor said it: api (default), agent_call or import"
CHANNELS = list(CHANNEL_PURPOSE)

DEBTOR_ID = "0190c3a4-5b6e-7d10-8a2f-3c4d5e6f7a8b"
NOTICE_SHA = "9f2c…e41a"


# --- Serializers -------------------------------------------------------------------------


class ConsentInput(serializers.Serializer[Any]):
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    action = serializers.ChoiceField(choices=ConsentAction.choices)
    # A field named "source" shadows DRF's Field.source only for the type checker.
    source = serializers.ChoiceField(choices=API_SOURCE_CHOICES, default=ConsentSource.API, help_text=SOURCE_HELP)  # type: ignore[assignment]
    notice_version = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=20,
        help_text="The notice version the debtor was shown (default: the current one)",
    )


class ConsentRecordOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    time = serializers.DateTimeField(source="created_at")
    purpose = serializers.CharField()
    action = serializers.CharField()
    lawful_basis = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]
    notice_version = serializers.CharField()
    notice_sha256 = serializers.CharField(source="notice_hash")
    ip = serializers.IPAddressField(allow_null=True)
    user_agent = serializers.CharField()
    recorded_by_user_id = serializers.IntegerField(source="actor_user_id", allow_null=True)


class ConsentStateOutput(serializers.Serializer[Any]):
    debtor = serializers.UUIDField()
    state = serializers.DictField(
        child=serializers.ChoiceField(choices=ConsentAction.choices),
        help_text="Purpose → the latest action recorded (purposes never recorded are absent)",
    )
    records = ConsentRecordOutput(many=True, help_text="Every record, oldest first: the proof of consent")


class ReasonOutput(serializers.Serializer[Any]):
    code = serializers.CharField()
    message = serializers.CharField()
    source = serializers.CharField()  # type: ignore[assignment]


class DecisionOutput(serializers.Serializer[Any]):
    allowed = serializers.BooleanField()
    channel = serializers.CharField()
    debtor_local_time = serializers.DateTimeField()
    reasons = ReasonOutput(many=True)


class DecisionsOutput(serializers.Serializer[Any]):
    decisions = DecisionOutput(many=True)


class _ContactCheckQuery(serializers.Serializer[Any]):
    channel = serializers.ChoiceField(choices=CHANNELS, required=False)
    at = serializers.CharField(required=False)

    def validate_at(self, value: str) -> datetime:
        parsed = parse_datetime(value)
        if parsed is None:
            raise serializers.ValidationError("Use an ISO 8601 date and time, e.g. 2026-11-23T08:00:00+05:30.")
        if timezone.is_naive(parsed):
            raise serializers.ValidationError("Include the UTC offset (e.g. +05:30 or Z): contact hours depend on it.")
        return parsed


# --- Views -------------------------------------------------------------------------------


class DebtorConsentApi(WorkspaceApiMixin, GenericAPIView[Debtor]):
    """A debtor's consent: the current state per purpose, the proof records, and
    new grants or withdrawals (a withdrawal of a contact purpose stops that channel
    at once; ``all_contact`` withdrawn is a cease-communication request)."""

    tenant_model = Debtor
    serializer_class = ConsentInput
    pagination_class = None

    def _debtor(self, id: str) -> Debtor:
        return selectors.debtor_get(workspace=self.workspace, debtor_id=id, client_scope=self.client_scope)

    @extend_schema(
        summary="A debtor's consent state and proof records",
        responses=ConsentStateOutput,
        examples=[
            OpenApiExample(
                "opted out of SMS",
                response_only=True,
                value={
                    "debtor": DEBTOR_ID,
                    "state": {"contact_sms": "withdraw", "contact_email": "grant"},
                    "records": [
                        {
                            "id": "0190c3a4-…",
                            "time": "2026-11-20T10:04:11+05:30",
                            "purpose": "contact_email",
                            "action": "grant",
                            "lawful_basis": "consent",
                            "source": "debtor_page",
                            "notice_version": "1.4",
                            "notice_sha256": NOTICE_SHA,
                            "ip": "203.0.113.7",
                            "user_agent": "Mozilla/5.0 …",
                            "recorded_by_user_id": None,
                        },
                        {
                            "id": "0190c3a5-…",
                            "time": "2026-11-23T11:00:00+05:30",
                            "purpose": "contact_sms",
                            "action": "withdraw",
                            "lawful_basis": "consent",
                            "source": "agent_call",
                            "notice_version": "1.4",
                            "notice_sha256": NOTICE_SHA,
                            "ip": None,
                            "user_agent": "",
                            "recorded_by_user_id": 7,
                        },
                    ],
                },
            )
        ],
    )
    def get(self, request: Request, id: str) -> Response:
        debtor = self._debtor(id)
        subject = str(debtor.pk)
        records = (
            ConsentRecord.objects.for_workspace(self.workspace)
            .filter(subject_type="debtor", subject_id=subject)
            .order_by("created_at", "id")
        )
        data = {
            "debtor": debtor.pk,
            "state": consent_current(workspace=self.workspace, subject_type="debtor", subject_id=subject),
            "records": records,
        }
        body = ConsentStateOutput(data).data
        record_personal_data_access(subject=debtor, fields=["consent records"], purpose="api consent read")
        return Response(body)

    @extend_schema(
        summary="Record a grant or withdrawal of consent",
        request=ConsentInput,
        responses={201: ConsentRecordOutput},
        examples=[
            OpenApiExample("withdraw SMS", request_only=True, value={"purpose": "contact_sms", "action": "withdraw"}),
            OpenApiExample(
                "cease all communication",
                request_only=True,
                value={"purpose": "all_contact", "action": "withdraw", "source": "agent_call"},
            ),
            OpenApiExample(
                "grant email, with the notice shown",
                request_only=True,
                value={"purpose": "contact_email", "action": "grant", "notice_version": "1.4"},
            ),
            OpenApiExample(
                "recorded",
                response_only=True,
                status_codes=["201"],
                value={
                    "id": "0190c3a5-…",
                    "time": "2026-11-23T11:00:00+05:30",
                    "purpose": "contact_sms",
                    "action": "withdraw",
                    "lawful_basis": "consent",
                    "source": "api",
                    "notice_version": "1.4",
                    "notice_sha256": NOTICE_SHA,
                    "ip": "198.51.100.4",
                    "user_agent": "integration/1.0",
                    "recorded_by_user_id": None,
                },
            ),
        ],
    )
    def post(self, request: Request, id: str) -> Response:
        debtor = self._debtor(id)  # 404 for someone else's debtor before looking at the body
        data = ConsentInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        notice = None
        if v.get("notice_version"):
            kind = PolicyKind.COOKIES if v["purpose"] == Purpose.ANALYTICS_COOKIES else PolicyKind.COLLECTION_NOTICE
            notice = PolicyVersion.objects.filter(kind=kind, version=v["notice_version"]).first()
            if notice is None:
                raise serializers.ValidationError(
                    {"notice_version": [f"No {PolicyKind(kind).label.lower()} version {v['notice_version']!r}."]}
                )
        record = consent_record(
            workspace=self.workspace,
            subject_type="debtor",
            subject_id=str(debtor.pk),
            purpose=v["purpose"],
            action=v["action"],
            source=v["source"],
            notice=notice,
        )
        return Response(ConsentRecordOutput(record).data, status=status.HTTP_201_CREATED)


class ContactCheckApi(WorkspaceApiMixin, GenericAPIView[Debt]):
    """May we contact this debt's debtor on a channel at a time? The contact rules'
    decision with every reason; nothing is recorded or sent."""

    tenant_model = Debt
    pagination_class = None

    @extend_schema(
        summary="Ask the contact rules (read-only)",
        parameters=[
            OpenApiParameter("channel", str, enum=CHANNELS, description="One channel; omit it for every channel"),
            OpenApiParameter(
                "at", str, description="ISO 8601 with a UTC offset (default: now), e.g. 2026-11-23T08:00:00+05:30"
            ),
        ],
        responses={
            200: PolymorphicProxySerializer(
                component_name="ContactCheck",
                serializers=[DecisionOutput, DecisionsOutput],
                resource_type_field_name=None,
            ),
        },
        examples=[
            OpenApiExample(
                "allowed",
                response_only=True,
                value={
                    "allowed": True,
                    "channel": "sms",
                    "debtor_local_time": "2026-11-23T08:00:00+05:30",
                    "reasons": [],
                },
            ),
            OpenApiExample(
                "refused",
                response_only=True,
                value={
                    "allowed": False,
                    "channel": "sms",
                    "debtor_local_time": "2026-11-23T07:59:00+05:30",
                    "reasons": [
                        {
                            "code": "outside_hours",
                            "message": "It is 07:59 for the debtor (Asia/Kolkata); contact is allowed 08:00–19:00.",
                            "source": "RBI circular on recovery agents, 12 Aug 2022",
                        }
                    ],
                },
            ),
            OpenApiExample(
                "every channel (no channel given)",
                response_only=True,
                value={
                    "decisions": [
                        {
                            "allowed": True,
                            "channel": "call",
                            "debtor_local_time": "2026-11-23T11:00:00+05:30",
                            "reasons": [],
                        },
                        "…",
                    ]
                },
            ),
        ],
    )
    def get(self, request: Request, id: str) -> Response:
        debt = selectors.debt_get(workspace=self.workspace, debt_id=id, client_scope=self.client_scope)
        query = _ContactCheckQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        at = query.validated_data.get("at") or timezone.now()
        channel = query.validated_data.get("channel")
        if channel:
            return Response(can_contact(debt, channel, at).as_dict())
        return Response({"decisions": [can_contact(debt, c, at).as_dict() for c in CHANNELS]})
