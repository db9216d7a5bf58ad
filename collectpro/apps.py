from django.apps import AppConfig


class CollectproConfig(AppConfig):
    name = "collectpro"
    verbose_name = "CollectPro platform"

    def ready(self) -> None:
        from collectpro.privacy import checks  # noqa: F401  (registers system checks)
        from collectpro.tenancy import rls

        rls.connect_signals()
