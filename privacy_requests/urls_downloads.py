"""Single-use download links for a request's files, under /privacy/<workspace-slug>/."""

from django.urls import URLPattern, URLResolver, path

from privacy_requests import download_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("requests/<str:reference>/download/", download_views.request_download, name="privacy_request_download"),
    path("downloads/<str:token>/", download_views.download, name="privacy_download"),
]
