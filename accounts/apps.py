from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from accounts import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
            signals,
        )

        signals.connect()
