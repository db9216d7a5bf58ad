"""Routes under /w/<slug>/incidents/ (included from incidents/urls.py): the security
alerts, their thresholds, and each alert's actions."""

from django.urls import URLPattern, URLResolver, path

from incidents import alert_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("alerts/", alert_views.alerts, name="alerts"),
    path("alerts/settings/", alert_views.alert_settings, name="alert_settings"),
    path("alerts/<uuid:alert_id>/", alert_views.alert_detail, name="alert"),
    path("alerts/<uuid:alert_id>/dismiss/", alert_views.alert_dismiss_view, name="alert_dismiss"),
    path("alerts/<uuid:alert_id>/incident/", alert_views.alert_incident_view, name="alert_incident"),
]
