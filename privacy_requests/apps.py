from django.apps import AppConfig


class PrivacyRequestsConfig(AppConfig):
    """Data-subject rights requests: intake, verification, deadlines, fulfilment
    (docs/privacy-requests.md)."""

    name = "privacy_requests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from debtors.panels import DebtPanel, register_debt_panel
        from privacy_requests import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
        )
        from privacy_requests.panels import debt_privacy_panel

        # The debt page lists the debtor's requests; agents log one there (privacy.log).
        register_debt_panel(
            DebtPanel("privacy", "privacy_panel", "privacy_requests/_debt_privacy.html", debt_privacy_panel, order=30)
        )
