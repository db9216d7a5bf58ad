"""A signed-in user's own rights requests, under /account/privacy/ (linked from
account settings)."""

from django.urls import URLPattern, URLResolver, path

from privacy_requests import account_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", account_views.account_privacy, name="account_privacy"),
    path("download/", account_views.account_data_request, name="account_data_request"),
    path("my-data.json", account_views.account_data_download, name="account_data_download"),
    path(
        "requests/<slug:workspace>/<str:reference>/download/",
        account_views.account_request_download,
        name="account_request_download",
    ),
    path("delete/", account_views.account_delete, name="account_delete"),
]
