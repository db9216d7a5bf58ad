from django.apps import AppConfig


class KernelConfig(AppConfig):
    """The floor every app stands on: tenancy, crypto, the personal-data registry,
    base models, API bases. It imports no app (``make lint`` checks it).

    Its label stays ``collectpro`` — the label the data keys' tables, migrations and
    content types were created under before the kernel had a package of its own
    (ADR 0015), so no row moves."""

    name = "kernel"
    label = "collectpro"
    verbose_name = "CollectPro kernel"

    def ready(self) -> None:
        from kernel.privacy import checks  # noqa: F401  (registers system checks)
        from kernel.tenancy import rls

        rls.connect_signals()
