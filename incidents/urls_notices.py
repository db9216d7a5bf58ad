"""Routes under /w/<slug>/incidents/ (included from incidents/urls.py): the notices to
the people affected and to the clients, and the authority reports."""

from django.urls import URLPattern, URLResolver, path

from incidents import notice_views, report_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("<str:reference>/notices/start/", notice_views.notices_start, name="notices_start"),
    path("<str:reference>/notices/progress/", notice_views.notices_progress_view, name="notices_progress"),
    path("<str:reference>/notices/clients/<uuid:duty_id>/", notice_views.client_notice, name="client_notice"),
    path("<str:reference>/reports/<uuid:duty_id>/", report_views.report_page, name="report"),
    path("<str:reference>/reports/<uuid:duty_id>/pdf/", report_views.report_download, name="report_pdf"),
]
