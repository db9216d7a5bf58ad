from django.apps import AppConfig


class ReportingConfig(AppConfig):
    """The dashboard, charts, client portal figures and remittance figures: reads only."""

    name = "reporting"

    def ready(self) -> None:
        from debtors.signals import ledger_changed
        from reporting.figure_cache import on_ledger_changed

        ledger_changed.connect(on_ledger_changed, dispatch_uid="reporting_figures_changed")
