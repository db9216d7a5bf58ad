"""Public rights-request pages under /privacy/<workspace-slug>/ (no sign-in)."""

from django.urls import URLPattern, URLResolver, path

from privacy_requests import public_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("requests/new/", public_views.request_new, name="privacy_request_new"),
    path("requests/<str:reference>/", public_views.request_status, name="privacy_request_status"),
    path("requests/<str:reference>/verify/", public_views.request_verify, name="privacy_request_verify"),
    path("requests/<str:reference>/new-code/", public_views.request_code_resend, name="privacy_request_code_resend"),
]
