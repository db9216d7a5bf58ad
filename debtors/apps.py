from django.apps import AppConfig


class DebtorsConfig(AppConfig):
    name = "debtors"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from debtors import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
        )
