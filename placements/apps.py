from django.apps import AppConfig


class PlacementsConfig(AppConfig):
    """Placement imports: CSV files from the page, the API or `import_placements` (docs/placements.md)."""

    name = "placements"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from placements import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
        )
