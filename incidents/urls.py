"""The breach register's pages, under /w/<slug>/incidents/ (collectpro/urls.py).

The finder's, the notices' and the alerts' routes come first: their fixed paths
(``alerts/``…) must win over an incident's ``<reference>/``.
"""

from django.urls import URLPattern, URLResolver, include, path

from incidents import duty_views, incident_views, register_views

app_name = "incidents"

urlpatterns: list[URLPattern | URLResolver] = [
    path("", include("incidents.urls_finder")),
    path("", include("incidents.urls_notices")),
    path("", include("incidents.urls_alerts")),
    path("", register_views.register, name="register"),
    path("export.csv", register_views.register_export, name="export"),
    path("new/", register_views.incident_new, name="new"),
    path("settings/", register_views.register_settings, name="settings"),
    path("<str:reference>/", incident_views.incident_detail, name="incident"),
    path("<str:reference>/edit/", incident_views.incident_edit_view, name="edit"),
    path("<str:reference>/status/", incident_views.incident_status, name="status"),
    path("<str:reference>/updates/", incident_views.incident_update_add, name="update_add"),
    path("<str:reference>/duties/<uuid:duty_id>/decision/", duty_views.duty_decision, name="duty_decision"),
    path("<str:reference>/duties/<uuid:duty_id>/done/", duty_views.duty_filed, name="duty_done"),
]
