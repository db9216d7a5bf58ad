"""The placements API: upload a file, follow its job, download its rejects."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api_base import WorkspaceApiMixin
from accounts.selectors import client_get_by_reference
from placements import imports
from placements.imports import rejects_download
from placements.models import PlacementImport
from placements.selectors import placement_import_get


class PlacementInput(serializers.Serializer[Any]):
    file = serializers.FileField()
    client = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="Client reference used when a row has no client_ref",
    )
    strict = serializers.BooleanField(default=False)
    header_map = serializers.JSONField(required=False, default=dict, help_text='{"our_column": "their_column", …}')


class PlacementOutput(serializers.ModelSerializer[PlacementImport]):
    progress = serializers.IntegerField(source="progress_percent", read_only=True)
    rejects_url = serializers.SerializerMethodField()

    class Meta:
        model = PlacementImport
        fields = [
            "id",
            "status",
            "progress",
            "file_name",
            "strict",
            "total_rows",
            "processed_rows",
            "created_count",
            "updated_count",
            "unchanged_count",
            "rejected_count",
            "error",
            "created_at",
            "started_at",
            "finished_at",
            "rejects_url",
        ]

    def get_rejects_url(self, job: PlacementImport) -> str | None:
        if not job.rejects_storage_name:
            return None
        return f"/api/v1/placements/{job.pk}/rejects.csv"


class PlacementCreateApi(WorkspaceApiMixin, GenericAPIView[PlacementImport]):
    tenant_model = PlacementImport
    serializer_class = PlacementInput
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        summary="Upload a placement file (CSV); returns the import job",
        request={"multipart/form-data": PlacementInput},
        responses={202: PlacementOutput},
    )
    def post(self, request: Request) -> Response:
        data = PlacementInput(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        client = self.client_scope
        if v["client"]:
            client = client_get_by_reference(workspace=self.workspace, reference=v["client"])
            if client is None or (self.client_scope is not None and client.pk != self.client_scope.pk):
                raise serializers.ValidationError({"client": ["No such client."]})
        upload = v["file"]
        job = imports.placement_import_create(
            workspace=self.workspace,
            file_obj=upload,
            file_name=upload.name,
            client=client,
            strict=v["strict"],
            header_map=v["header_map"] or None,
        )
        imports.placement_import_enqueue(job)
        return Response(PlacementOutput(job).data, status=status.HTTP_202_ACCEPTED)


class PlacementDetailApi(WorkspaceApiMixin, GenericAPIView[PlacementImport]):
    tenant_model = PlacementImport
    serializer_class = PlacementOutput

    def job(self, id: str) -> PlacementImport:
        return placement_import_get(workspace=self.workspace, import_id=id, client_scope=self.client_scope)

    @extend_schema(summary="An import job's status and progress", responses=PlacementOutput)
    def get(self, request: Request, id: str) -> Response:
        return Response(PlacementOutput(self.job(id)).data)


class PlacementRejectsApi(PlacementDetailApi):
    @extend_schema(
        summary="Download the rejected rows as CSV (line number, reason, original values)",
        responses={(200, "text/csv"): bytes},
    )
    def get(self, request: Request, id: str) -> FileResponse:  # type: ignore[override]
        return rejects_download(self.job(id))  # type: ignore[no-any-return]
