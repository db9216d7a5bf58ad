"""The rights-request API under /api/v1/privacy-requests/."""

from django.urls import URLPattern, URLResolver, path

from privacy_requests import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("", api.PrivacyRequestListCreateApi.as_view(), name="api_privacy_requests"),
    path("<uuid:id>/", api.PrivacyRequestDetailApi.as_view(), name="api_privacy_request_detail"),
]
