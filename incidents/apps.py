from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """The breach register: incidents, their notification clocks, the affected people,
    the notices and the security alerts (docs/incidents.md)."""

    name = "incidents"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from incidents.panels import dashboard_breach_clocks
        from reporting.panels import DashboardPanel, register_dashboard_panel

        # The dashboard shows the breach clocks to the members who must act.
        register_dashboard_panel(
            DashboardPanel("breach_clocks", "incidents/_dashboard_panel.html", dashboard_breach_clocks, order=10)
        )
        from incidents import alert_hooks

        alert_hooks.connect()  # security alerts: API keys' networks and 404s, the dashboard's count, the beat task
