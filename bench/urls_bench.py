"""URLs of the benchmark server (``bench.settings_bench``): CollectPro's own, plus the
baseline ``bench/api_list.py`` compares the debt list API with.

``/api/bench/plain-debts/`` is the plainest DRF way to list the same table: a
``ModelViewSet`` (read-only methods) with a ``ModelSerializer`` of every ``Debt`` field
and ``PageNumberPagination`` (50 a page, so ``COUNT(*)`` and ``OFFSET``), filtered to the
API key's workspace and ordered like CollectPro's list (newest id first).

It lives under ``/api/`` on purpose: ``TenancyMiddleware`` resolves the bearer key (and
opens the workspace's transaction) only for paths under ``/api/``, and the view uses the
same authentication, permission and throttle classes as CollectPro's API. So both sides
do the same authentication work and differ only in the view, query and serializer.
"""

from __future__ import annotations

from typing import Any, cast

from django.db.models import QuerySet
from django.urls import URLPattern, URLResolver, include, path
from rest_framework import pagination, routers, serializers, viewsets

from accounts.api_auth import ApiKeyAuthentication, ApiKeyRateThrottle, HasWorkspaceApiKey
from collectpro.urls import urlpatterns as collectpro_urlpatterns
from debtors.models import Debt


class PlainDebtSerializer(serializers.ModelSerializer[Debt]):
    class Meta:
        model = Debt
        fields = "__all__"


class PlainPagination(pagination.PageNumberPagination):
    page_size = 50


class PlainDebtViewSet(viewsets.ModelViewSet[Debt]):
    serializer_class = PlainDebtSerializer
    pagination_class = PlainPagination
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasWorkspaceApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[Debt]:
        auth: Any = self.request.auth
        qs = Debt.objects.for_workspace(auth.workspace_id).order_by("-id")
        status = self.request.query_params.get("status")
        if status:
            qs = qs.filter(status=status)
        return qs


router = routers.SimpleRouter()
router.register("plain-debts", PlainDebtViewSet, basename="bench-plain-debts")

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/bench/", include(router.urls)),
    *cast(list[URLPattern | URLResolver], collectpro_urlpatterns),
]
