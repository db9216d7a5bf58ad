"""The communications API: contacts on a debt (send, log, list) and a debt's sequences."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import WorkspaceApiMixin
from communications.log import communication_log
from communications.models import Communication, DebtSequence, Sequence
from communications.sequences import sequence_enrol, sequence_preview
from communications.services import communication_send
from consent.services import ContactRefused
from debtors import selectors
from debtors.api.views import SubResourceApi, sub_resource_schema
from debtors.models import Debt


class CommunicationInput(serializers.Serializer[Any]):
    channel = serializers.ChoiceField(choices=["email", "sms", "call", "whatsapp", "letter"])
    direction = serializers.ChoiceField(choices=["outbound", "inbound"], default="outbound")
    outcome = serializers.CharField(max_length=32, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    template = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")


class CommunicationOutput(serializers.ModelSerializer[Communication]):
    notes = serializers.CharField(source="content", read_only=True)

    class Meta:
        model = Communication
        fields = [
            "id",
            "channel",
            "direction",
            "status",
            "outcome",
            "notes",
            "template",
            "refusal_reasons",
            "occurred_at",
        ]


class EnrolInput(serializers.Serializer[Any]):
    sequence = serializers.UUIDField()


class StepPreviewOutput(serializers.Serializer[Any]):
    step = serializers.DictField(
        allow_null=True, help_text='{"day": 3, "channel": "sms", "template": "nudge"}, or null when finished'
    )
    due_at = serializers.DateTimeField(allow_null=True)
    allowed_now = serializers.BooleanField()
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Why the next step could not run now")


class EnrolmentOutput(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    sequence = serializers.UUIDField(source="sequence_id")
    sequence_name = serializers.CharField(source="sequence.name")
    started_at = serializers.DateTimeField()
    next_step = serializers.IntegerField(help_text="0-based index into the sequence's steps")
    next_due_at = serializers.DateTimeField(allow_null=True)
    paused = serializers.BooleanField()
    finished_at = serializers.DateTimeField(allow_null=True)
    last_result = serializers.DictField()
    preview = serializers.SerializerMethodField()

    def get_preview(self, obj: DebtSequence) -> dict[str, Any]:
        return dict(StepPreviewOutput(sequence_preview(enrolment=obj)).data)


class CommunicationApi(SubResourceApi):
    """POST sends (email/SMS through a template) or logs (calls, letters) a contact.
    201 when sent or logged; 409 with every reason when the contact rules refuse it
    (the refusal is recorded and nothing is sent)."""

    model, output, input = Communication, CommunicationOutput, CommunicationInput

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        if v["direction"] == "outbound" and v["channel"] in ("email", "sms", "whatsapp") and v.get("template"):
            return communication_send(debt=debt, channel=v["channel"], template_name=v["template"])
        return communication_log(
            debt=debt,
            channel=v["channel"],
            direction=v["direction"],
            outcome=v["outcome"],
            content=v["notes"],
            template=v.get("template", ""),
        )

    def post(self, request: Request, id: str) -> Response:
        try:
            return super().post(request, id)
        except ContactRefused as exc:
            return Response(
                {
                    "error": {
                        "code": "contact_refused",
                        "message": "The contact rules refuse this contact; nothing was sent.",
                        "reasons": [r.as_dict() for r in exc.decision.reasons],
                        "debtor_local_time": exc.decision.local_time.isoformat(),
                    }
                },
                status=status.HTTP_409_CONFLICT,
            )


sub_resource_schema(CommunicationApi, "communications")


class DebtSequencesApi(WorkspaceApiMixin, GenericAPIView[DebtSequence]):
    """A debt's sequence enrolments (with what comes next and why not), and enrolling
    the debt in a sequence. Every step goes through the contact rules."""

    tenant_model = Debt
    serializer_class = EnrolInput
    pagination_class = None

    def _debt(self, id: str) -> Debt:
        return selectors.debt_get(workspace=self.workspace, debt_id=id, client_scope=self.client_scope)

    @extend_schema(summary="The debt's sequence enrolments", responses=EnrolmentOutput(many=True))
    def get(self, request: Request, id: str) -> Response:
        debt = self._debt(id)
        rows = (
            DebtSequence.objects.for_workspace(self.workspace)
            .filter(debt=debt)
            .select_related("sequence")
            .order_by("started_at")
        )
        return Response(EnrolmentOutput(rows, many=True).data)

    @extend_schema(
        summary="Enrol the debt in a sequence",
        description="201 with the new enrolment; 200 with the existing one when the debt is already enrolled.",
        request=EnrolInput,
        responses={201: EnrolmentOutput, 200: OpenApiResponse(EnrolmentOutput, description="Already enrolled")},
        examples=[
            OpenApiExample("enrol", request_only=True, value={"sequence": "0190c3a6-…"}),
            OpenApiExample(
                "enrolled",
                response_only=True,
                status_codes=["201"],
                value={
                    "id": "0190c3a7-…",
                    "sequence": "0190c3a6-…",
                    "sequence_name": "Standard",
                    "started_at": "2026-11-23T11:00:00+05:30",
                    "next_step": 0,
                    "next_due_at": "2026-11-23T11:00:00+05:30",
                    "paused": False,
                    "finished_at": None,
                    "last_result": {},
                    "preview": {
                        "step": {"day": 0, "channel": "email", "template": "first-reminder"},
                        "due_at": "2026-11-23T11:00:00+05:30",
                        "allowed_now": True,
                        "reasons": [],
                    },
                },
            ),
        ],
    )
    def post(self, request: Request, id: str) -> Response:
        debt = self._debt(id)  # 404 for someone else's debt before looking at the body
        data = EnrolInput(data=request.data)
        data.is_valid(raise_exception=True)
        seq = (
            Sequence.objects.for_workspace(self.workspace)
            .filter(pk=data.validated_data["sequence"], is_active=True)
            .first()
        )
        if seq is None:
            raise serializers.ValidationError({"sequence": ["No such active sequence."]})
        existing = (
            DebtSequence.objects.for_workspace(self.workspace)
            .filter(debt=debt, sequence=seq)
            .select_related("sequence")
            .first()
        )
        if existing is not None:
            return Response(EnrolmentOutput(existing).data, status=status.HTTP_200_OK)
        enrolment = sequence_enrol(debt=debt, sequence=seq)
        return Response(EnrolmentOutput(enrolment).data, status=status.HTTP_201_CREATED)
