from django.apps import AppConfig


class CommunicationsConfig(AppConfig):
    """Messages, templates, sequences, delivery, tracking and SMS (docs/communications.md)."""

    name = "communications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from communications import (
            checks,  # noqa: F401  (system checks)
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
            tracking,  # noqa: F401  (connects the provider tracking receiver)
        )
        from communications.selectors import contacts_made
        from consent.rules import register_contact_history

        register_contact_history(contacts_made)
        from communications.forms import CallForm
        from communications.ui_debt import debt_consent_panel, log_contact
        from debtors.panels import DebtAction, DebtPanel, register_debt_action, register_debt_panel

        register_debt_panel(
            DebtPanel("consent", "consent_panel", "consent/_debt_consent.html", debt_consent_panel, order=20)
        )
        register_debt_action(DebtAction("call", CallForm, log_contact, "Contact logged.", after="payment"))
