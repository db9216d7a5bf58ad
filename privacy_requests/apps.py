from django.apps import AppConfig


class PrivacyRequestsConfig(AppConfig):
    """Data-subject rights requests: intake, verification, deadlines, fulfilment
    (docs/privacy-requests.md)."""

    name = "privacy_requests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts.roles import register_permission_grant
        from debtors.panels import DebtPanel, register_debt_panel
        from privacy_requests import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
        )
        from privacy_requests.models import PrivacyContact
        from privacy_requests.panels import debt_privacy_panel

        # The debt page lists the debtor's requests; agents log one there (privacy.log).
        register_debt_panel(
            DebtPanel("privacy", "privacy_panel", "privacy_requests/_debt_privacy.html", debt_privacy_panel, order=30)
        )
        # The privacy contact runs the breach register whatever their role (issue 14;
        # incidents cannot import this app, so accounts.roles asks through this grant).
        register_permission_grant(
            "privacy_contact",
            perms=("incidents.view", "incidents.manage"),
            users=lambda workspace_id: (
                PrivacyContact.objects.for_workspace(workspace_id)
                .exclude(contact_user=None)
                .values_list("contact_user_id", flat=True)
            ),
        )
