from django.apps import AppConfig


class PrivacyRequestsConfig(AppConfig):
    """Data-subject rights requests: intake, verification, deadlines, fulfilment
    (docs/privacy-requests.md)."""

    name = "privacy_requests"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from privacy_requests import personal_data  # noqa: F401  (registry declarations)
