from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from audit import (
            personal_data,  # noqa: F401  (registry declarations)
            retention,  # noqa: F401  (retention stores)
            signing,  # noqa: F401  (the checkpoint key's system check)
        )
        from audit.services import audit_record
        from kernel.audit_port import register_audit_recorder

        register_audit_recorder(audit_record)
