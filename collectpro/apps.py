from django.apps import AppConfig


class ShellConfig(AppConfig):
    """The shell: root URLs, settings, Celery, the operator commands that join
    several apps (``seed_demo``, ``rotate_keys``, ``verify_audit_chain``)."""

    name = "collectpro"
    label = "shell"
    verbose_name = "CollectPro"

    def ready(self) -> None:
        from incidents.contact import ContactPoint, set_contact_source
        from privacy_requests.services import privacy_contact_for

        # The breach register names the workspace's privacy contact in its notices and
        # reports; incidents cannot import privacy_requests, so the shell joins them.
        set_contact_source(
            lambda workspace: (
                ContactPoint(found.contact_name, found.contact_email, found.contact_phone)
                if (found := privacy_contact_for(workspace)) is not None
                else None
            )
        )
