from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """The dashboard, charts, client portal figures and remittance figures: reads only."""

    name = "reporting"
