from django.apps import AppConfig


class ShellConfig(AppConfig):
    """The shell: root URLs, settings, Celery, the operator commands that join
    several apps (``seed_demo``, ``rotate_keys``, ``verify_audit_chain``)."""

    name = "collectpro"
    label = "shell"
    verbose_name = "CollectPro"
