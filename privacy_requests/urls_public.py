"""Public rights-request pages under /privacy/<workspace-slug>/ (no sign-in)."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
