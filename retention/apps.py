from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "retention"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from kernel.retention import set_period_provider
        from retention import panels, stores  # noqa: F401  (the debt page's holds panel; closure stores)
        from retention.schedules import period_days_for

        set_period_provider(period_days_for)
