"""Single-use download links for a request's files, under /privacy/<workspace-slug>/."""

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []
