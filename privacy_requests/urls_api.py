"""The rights-request API under /api/v1/privacy-requests/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
