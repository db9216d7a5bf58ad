"""The privacy desk under /w/<slug>/privacy/ (signed-in members), and the debt
page's "log a request" form. ``/w/<slug>/privacy/processing/`` (the record of
processing) is the shell's."""

from django.urls import URLPattern, URLResolver, path

from privacy_requests import desk_request_views as r
from privacy_requests import desk_views as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.desk, name="privacy_desk"),
    path("export.csv", v.desk_export, name="privacy_desk_export"),
    path("figures/", v.figures, name="privacy_desk_figures"),
    path("settings/", v.contact_settings, name="privacy_desk_settings"),
    path("debts/<uuid:debt_id>/requests/", v.request_log, name="privacy_desk_log"),
    path("requests/<uuid:request_id>/", r.request_detail, name="privacy_desk_request"),
    path("requests/<uuid:request_id>/verify/", r.request_verify, name="privacy_desk_verify"),
    path("requests/<uuid:request_id>/start/", r.request_start, name="privacy_desk_start"),
    path("requests/<uuid:request_id>/match/search/", r.request_match_search, name="privacy_desk_match_search"),
    path("requests/<uuid:request_id>/match/", r.request_match, name="privacy_desk_match"),
    path("requests/<uuid:request_id>/extend/", r.request_extend, name="privacy_desk_extend"),
    path("requests/<uuid:request_id>/close/", r.request_close, name="privacy_desk_close"),
    path(
        "requests/<uuid:request_id>/authorisation/review/",
        r.request_authorisation_review,
        name="privacy_desk_authorisation_review",
    ),
    path(
        "requests/<uuid:request_id>/authorisation/file/",
        r.request_authorisation_file,
        name="privacy_desk_authorisation_file",
    ),
    path("requests/<uuid:request_id>/export/", r.request_export, name="privacy_desk_build_copy"),
    path("requests/<uuid:request_id>/erasure/plan/", r.request_erasure_plan, name="privacy_desk_erasure_plan"),
    path(
        "requests/<uuid:request_id>/erasure/approve/",
        r.request_erasure_approve,
        name="privacy_desk_erasure_approve",
    ),
    path("requests/<uuid:request_id>/erasure/run/", r.request_erasure_run, name="privacy_desk_erasure_run"),
    path("requests/<uuid:request_id>/fulfil/", r.request_fulfil, name="privacy_desk_fulfil"),
    path("requests/<uuid:request_id>/rectify/", r.request_rectify, name="privacy_desk_rectify"),
]
