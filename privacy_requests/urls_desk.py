"""The privacy desk under /w/<slug>/privacy/ (signed-in members)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
