from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from consent import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
        )
