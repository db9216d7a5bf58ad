"""REST API for debtors, debts and everything on a debt.

Every view gets the workspace (and client scope) from the API key and reads
through selectors that take them, so another workspace's id is always a 404.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db.models import QuerySet
from django.http import FileResponse, Http404
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import WorkspaceApiMixin
from accounts.selectors import client_get
from accounts.services import client_default
from audit import actions
from audit.services import record_personal_data_access
from debtors import selectors
from debtors.api import serializers as s
from debtors.models import (
    Debt,
    Debtor,
    Dispute,
    Document,
    LedgerEntry,
    Note,
    PaymentPlan,
    PromiseToPay,
    SettlementOffer,
)
from debtors.services import debtors as debtor_services
from debtors.services import debts as debt_services
from debtors.services import disputes, ledger, offers, plans, promises, records
from debtors.services.data_access import debtors_read_record
from debtors.services.debtors import ERASED_MESSAGE, PersonErased
from kernel.crypto.keyring import SubjectKeyShredded

DEBTOR_FIELDS = ["full_name", "email", "phone", "address", "date_of_birth", "national_id"]


class ErasedConflict(exceptions.APIException):
    """409 in the API's error format: ``{"error": {"code": "erased", "message": …}}``
    (like ``contact_refused``): the person's data was erased, nothing was recorded."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "erased"
    default_detail = ERASED_MESSAGE


class DebtorListCreateApi(WorkspaceApiMixin, GenericAPIView[Debtor]):
    tenant_model = Debtor
    serializer_class = s.DebtorOutput

    @extend_schema(
        summary="List debtors",
        parameters=[
            OpenApiParameter(
                "search", str, description="Exact email, phone, national id, full name or external reference"
            )
        ],
        responses=s.DebtorOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        qs = selectors.debtors_list(workspace=self.workspace, client_scope=self.client_scope)
        search = request.query_params.get("search")
        if search:
            qs = qs.filter(selectors.exact_search_filter(self.workspace, search))
        page = self.paginate_queryset(qs)
        data = s.DebtorOutput(page, many=True).data
        if page:
            debtors_read_record(workspace=self.workspace, debtors=page, fields=DEBTOR_FIELDS, purpose="api list")
        return self.get_paginated_response(data)

    @extend_schema(
        summary="Create a debtor",
        request=s.DebtorInput,
        responses={201: s.DebtorOutput},
        examples=[
            OpenApiExample(
                "minimal",
                request_only=True,
                value={
                    "full_name": "Asha Rao",
                    "email": "asha@example.com",
                    "phone": "+91 98123 45678",
                    "external_ref": "CUST-1001",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.DebtorInput(data=request.data)
        data.is_valid(raise_exception=True)
        debtor = debtor_services.debtor_create(
            workspace=self.workspace, data=debtor_services.DebtorInput(**data.validated_data)
        )
        return Response(s.DebtorOutput(debtor).data, status=status.HTTP_201_CREATED)


class DebtorDetailApi(WorkspaceApiMixin, GenericAPIView[Debtor]):
    tenant_model = Debtor
    serializer_class = s.DebtorOutput

    def _get(self, id: str) -> Debtor:
        return selectors.debtor_get(workspace=self.workspace, debtor_id=id, client_scope=self.client_scope)

    @extend_schema(summary="Get a debtor (the read is audited)", responses=s.DebtorOutput)
    def get(self, request: Request, id: str) -> Response:
        debtor = self._get(id)
        data = s.DebtorOutput(debtor).data
        record_personal_data_access(subject=debtor, fields=DEBTOR_FIELDS, purpose="api detail")
        return Response(data)

    @extend_schema(summary="Update a debtor's details", request=s.DebtorUpdateInput, responses=s.DebtorOutput)
    def patch(self, request: Request, id: str) -> Response:
        debtor = self._get(id)
        data = s.DebtorUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        try:
            debtor = debtor_services.debtor_update(debtor=debtor, **data.validated_data)
        except PersonErased as exc:
            raise ErasedConflict(exc.user_message) from None
        return Response(s.DebtorOutput(debtor).data)


class DebtListCreateApi(WorkspaceApiMixin, GenericAPIView[Debt]):
    tenant_model = Debt
    serializer_class = s.DebtOutput

    @extend_schema(
        summary="List debts",
        parameters=[
            OpenApiParameter("status", str),
            OpenApiParameter("client", str, description="Client id"),
            OpenApiParameter("agent", int, description="Assigned agent's user id"),
            OpenApiParameter("due_from", str, description="YYYY-MM-DD"),
            OpenApiParameter("due_to", str, description="YYYY-MM-DD"),
            OpenApiParameter(
                "search",
                str,
                description="Exact: debtor email, phone, national id, name, external ref, or debt reference",
            ),
        ],
        responses=s.DebtOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        params = _DebtFilters(data=request.query_params)
        params.is_valid(raise_exception=True)
        qs = selectors.debts_list(workspace=self.workspace, client_scope=self.client_scope, **params.validated_data)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.DebtOutput(page, many=True).data)

    @extend_schema(
        summary="Place a debt",
        request=s.DebtInput,
        responses={201: s.DebtOutput},
        examples=[
            OpenApiExample(
                "minimal",
                request_only=True,
                value={
                    "debtor": "0190c3a4-…",
                    "reference": "LN-2024-0042",
                    "original_amount": "1250.00",
                    "currency": "INR",
                    "due_date": "2026-12-01",
                },
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = s.DebtInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        try:
            debtor = selectors.debtor_get(workspace=self.workspace, debtor_id=v.pop("debtor"))
        except Http404:
            raise serializers.ValidationError({"debtor": ["No such debtor."]}) from None
        client_id = v.pop("client")
        if self.client_scope is not None:
            if client_id and str(client_id) != str(self.client_scope.pk):
                raise serializers.ValidationError({"client": ["This key may only place debts for its own client."]})
            client = self.client_scope
        elif client_id:
            try:
                client = client_get(workspace=self.workspace, client_id=client_id)
            except Http404:
                raise serializers.ValidationError({"client": ["No such client."]}) from None
        else:
            client = client_default(workspace=self.workspace)
        amount = v.pop("original_amount")
        debt = debt_services.debt_create(
            workspace=self.workspace,
            client=client,
            debtor=debtor,
            data=debt_services.DebtInput(original_amount_minor=amount, **v),
        )
        return Response(s.DebtOutput(debt).data, status=status.HTTP_201_CREATED)


class _DebtFilters(serializers.Serializer[Any]):
    status = serializers.CharField(required=False)
    client = serializers.UUIDField(required=False, source="client_id")
    agent = serializers.IntegerField(required=False, source="agent_id")
    due_from = serializers.DateField(required=False)
    due_to = serializers.DateField(required=False)
    search = serializers.CharField(required=False, max_length=200)


class DebtScopedMixin(WorkspaceApiMixin):
    """Views under /debts/{id}/…: the debt is looked up once, scoped."""

    kwargs: dict[str, Any]

    def debt(self) -> Debt:
        if not hasattr(self, "_debt"):
            self._debt = selectors.debt_get(
                workspace=self.workspace, debt_id=self.kwargs["id"], client_scope=self.client_scope
            )
        return self._debt

    def context_for(self, debt: Debt) -> dict[str, Any]:
        return {"currency": debt.currency}


class DebtDetailApi(DebtScopedMixin, GenericAPIView[Debt]):
    tenant_model = Debt
    serializer_class = s.DebtOutput

    @extend_schema(summary="Get a debt", responses=s.DebtOutput)
    def get(self, request: Request, id: str) -> Response:
        return Response(s.DebtOutput(self.debt()).data)


class DebtStatusApi(DebtScopedMixin, GenericAPIView[Debt]):
    tenant_model = Debt
    serializer_class = s.StatusInput

    @extend_schema(
        summary="Change a debt's status (allowed transitions only)", request=s.StatusInput, responses=s.DebtOutput
    )
    def post(self, request: Request, id: str) -> Response:
        debt = self.debt()  # 404 for someone else's debt before looking at the body
        data = s.StatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        debt = debt_services.debt_change_status(debt=debt, **data.validated_data)
        return Response(s.DebtOutput(debt).data)


class LedgerApi(DebtScopedMixin, GenericAPIView[LedgerEntry]):
    tenant_model = Debt
    serializer_class = s.LedgerEntryOutput
    pagination_class = None

    @extend_schema(summary="The debt's ledger, oldest first", responses=s.LedgerEntryOutput(many=True))
    def get(self, request: Request, id: str) -> Response:
        debt = self.debt()
        entries = selectors.ledger_for_debt(debt=debt)
        return Response(
            {
                "currency": debt.currency,
                "balance": s.DebtOutput(debt).data["balance"],
                "entries": s.LedgerEntryOutput(entries, many=True).data,
            }
        )


class PaymentCreateApi(DebtScopedMixin, GenericAPIView[LedgerEntry]):
    tenant_model = Debt
    serializer_class = s.PaymentInput

    @extend_schema(
        summary="Record a manual payment",
        request=s.PaymentInput,
        responses={201: s.LedgerEntryOutput},
        examples=[
            OpenApiExample(
                "payment",
                request_only=True,
                value={"amount": "250.00", "paid_at": "2026-11-20", "method": "bank_transfer", "reference": "UTR1234"},
            )
        ],
    )
    def post(self, request: Request, id: str) -> Response:
        debt = self.debt()
        data = s.PaymentInput(data=request.data, context=self.context_for(debt))
        data.is_valid(raise_exception=True)
        v = data.validated_data
        # An Idempotency-Key header makes a retried POST return the first payment.
        idem = (request.headers.get("Idempotency-Key") or "").strip()[:80]
        entry, created = ledger.payment_record(
            debt=debt,
            amount_minor=v["amount"],
            paid_on=v["paid_at"],
            method=v["method"],
            reference=v["reference"],
            external_id=f"manual:{debt.pk}:{idem}" if idem else None,
        )
        return Response(
            s.LedgerEntryOutput(entry).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class AdjustmentCreateApi(DebtScopedMixin, GenericAPIView[LedgerEntry]):
    tenant_model = Debt
    serializer_class = s.AdjustmentInput

    @extend_schema(summary="Post a signed adjustment", request=s.AdjustmentInput, responses={201: s.LedgerEntryOutput})
    def post(self, request: Request, id: str) -> Response:
        self.forbid_client_scoped()
        debt = self.debt()
        data = s.AdjustmentInput(data=request.data, context=self.context_for(debt))
        data.is_valid(raise_exception=True)
        entry = ledger.adjustment_post(
            debt=debt, amount_minor=data.validated_data["amount"], memo=data.validated_data["memo"]
        )
        return Response(s.LedgerEntryOutput(entry).data, status=status.HTTP_201_CREATED)


class ReversalCreateApi(DebtScopedMixin, GenericAPIView[LedgerEntry]):
    tenant_model = Debt
    serializer_class = s.ReversalInput

    @extend_schema(summary="Reverse a ledger entry", request=s.ReversalInput, responses={201: s.LedgerEntryOutput})
    def post(self, request: Request, id: str) -> Response:
        self.forbid_client_scoped()
        debt = self.debt()
        data = s.ReversalInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = selectors.ledger_for_debt(debt=debt).filter(pk=data.validated_data["entry"]).first()
        if entry is None:
            raise serializers.ValidationError({"entry": ["No such entry on this debt."]})
        reversal = ledger.entry_reverse(entry=entry, memo=data.validated_data["memo"])
        return Response(s.LedgerEntryOutput(reversal).data, status=status.HTTP_201_CREATED)


class SubResourceApi(DebtScopedMixin, GenericAPIView[Any]):
    """GET lists the debt's objects; POST creates one through ``create_object``,
    which each subclass implements by calling its service."""

    tenant_model = Debt
    model: ClassVar[Any]
    output: ClassVar[type[serializers.Serializer[Any]]]
    input: ClassVar[type[serializers.Serializer[Any]]]
    pagination_class = None

    def rows(self, debt: Debt) -> QuerySet[Any]:
        return self.model.objects.for_workspace(debt.workspace_id).filter(debt=debt).order_by("-pk")

    def create_object(self, debt: Debt, data: dict[str, Any]) -> Any:
        raise NotImplementedError

    def get(self, request: Request, id: str) -> Response:
        debt = self.debt()
        return Response(self.output(self.rows(debt), many=True, context=self.context_for(debt)).data)

    def post(self, request: Request, id: str) -> Response:
        debt = self.debt()
        data = self.input(data=request.data, context=self.context_for(debt))
        data.is_valid(raise_exception=True)
        try:
            obj = self.create_object(debt, dict(data.validated_data))
        except PersonErased as exc:  # a note, document, dispute… about an erased person
            raise ErasedConflict(exc.user_message) from None
        except SubjectKeyShredded:  # a sub-resource of another app writing under an erased person's key
            raise ErasedConflict() from None
        return Response(self.output(obj, context=self.context_for(debt)).data, status=status.HTTP_201_CREATED)


def _own_method(cls: type[SubResourceApi], name: str) -> Any:
    """``cls``'s own ``get``/``post``: an inherited one is wrapped first, because the
    schema is attached to the function object — decorating the shared base method
    would give every sub-resource the description of the last one decorated."""
    if name in cls.__dict__:
        return cls.__dict__[name]
    inherited = getattr(cls, name)

    def delegate(self: Any, request: Request, id: str) -> Response:
        return inherited(self, request, id)

    delegate.__name__ = delegate.__qualname__ = name
    return delegate


def sub_resource_schema(cls: type[SubResourceApi], noun: str) -> type[SubResourceApi]:
    list_schema = extend_schema(summary=f"List the debt's {noun}", responses=cls.output(many=True))
    cls.get = list_schema(_own_method(cls, "get"))  # type: ignore[method-assign]
    create_schema = extend_schema(
        summary=f"Create a {noun.rstrip('s')}", request=cls.input, responses={201: cls.output}
    )
    cls.post = create_schema(_own_method(cls, "post"))  # type: ignore[method-assign]
    return cls


class PlanApi(SubResourceApi):
    model, output, input = PaymentPlan, s.PlanOutput, s.PlanInput

    def rows(self, debt: Debt) -> QuerySet[Any]:
        return super().rows(debt).prefetch_related("installments").select_related("debt")

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        return plans.plan_create(
            debt=debt,
            total_minor=v["total"],
            count=v["installments"],
            frequency=v["frequency"],
            first_due=v["first_due"],
        )


class PromiseApi(SubResourceApi):
    model, output, input = PromiseToPay, s.PromiseOutput, s.PromiseInput

    def rows(self, debt: Debt) -> QuerySet[Any]:
        return super().rows(debt).select_related("debt")

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        return promises.promise_create(debt=debt, amount_minor=v["amount"], due_on=v["due_on"])


class OfferApi(SubResourceApi):
    model, output, input = SettlementOffer, s.OfferOutput, s.OfferInput

    def rows(self, debt: Debt) -> QuerySet[Any]:
        return super().rows(debt).select_related("debt")

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        self.forbid_client_scoped()
        return offers.offer_create(debt=debt, amount_minor=v["amount"], expires_at=v["expires_at"])


class DisputeApi(SubResourceApi):
    model, output, input = Dispute, s.DisputeOutput, s.DisputeInput

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        return disputes.dispute_open(debt=debt, reason=v["reason"], details=v["details"], source="api")


class NoteApi(SubResourceApi):
    model, output, input = Note, s.NoteOutput, s.NoteInput

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        return records.note_add(debt=debt, body=v["body"])


class DocumentApi(SubResourceApi):
    model, output, input = Document, s.DocumentOutput, s.DocumentInput
    parser_classes = [MultiPartParser, FormParser]

    def create_object(self, debt: Debt, v: dict[str, Any]) -> Any:
        upload = v["file"]
        return records.document_upload(debt=debt, upload=upload, file_name=upload.name)


for _cls, _noun in (
    (PlanApi, "payment plans"),
    (PromiseApi, "promises"),
    (OfferApi, "settlement offers"),
    (DisputeApi, "disputes"),
    (NoteApi, "notes"),
    (DocumentApi, "documents"),
):
    sub_resource_schema(_cls, _noun)


class DisputeResolveApi(DebtScopedMixin, GenericAPIView[Dispute]):
    tenant_model = Debt
    serializer_class = s.DisputeResolveInput

    @extend_schema(summary="Resolve a dispute", request=s.DisputeResolveInput, responses=s.DisputeOutput)
    def post(self, request: Request, id: str, dispute_id: str) -> Response:
        self.forbid_client_scoped()
        dispute = selectors.related_get(Dispute, debt=self.debt(), object_id=dispute_id)
        data = s.DisputeResolveInput(data=request.data)
        data.is_valid(raise_exception=True)
        dispute = disputes.dispute_resolve(dispute=dispute, **data.validated_data)
        return Response(s.DisputeOutput(dispute).data)


class DocumentDownloadApi(DebtScopedMixin, GenericAPIView[Document]):
    tenant_model = Debt

    @extend_schema(summary="Download a document (audited)", responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, id: str, document_id: str) -> FileResponse:
        doc = selectors.related_get(Document, debt=self.debt(), object_id=document_id)
        record_personal_data_access(
            subject=doc, fields=["file"], purpose="api download", kind=actions.PERSONAL_DATA_DOWNLOAD
        )
        return FileResponse(
            records.document_file(doc),
            content_type=doc.content_type,
            as_attachment=True,
            filename=f"document-{doc.pk}",
        )


class TimelineApi(DebtScopedMixin, GenericAPIView[Any]):
    tenant_model = Debt
    serializer_class = s.TimelineOutput
    pagination_class = None

    @extend_schema(summary="Everything that happened on the debt, newest first", responses=s.TimelineOutput(many=True))
    def get(self, request: Request, id: str) -> Response:
        debt = self.debt()
        events = selectors.timeline_for_debt(debt=debt)
        return Response(s.TimelineOutput(events, many=True, context=self.context_for(debt)).data)
