from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from communications.hooks import register_payment_link_maker
        from debtors.panels import DebtPanel, register_debt_panel
        from payments import retention  # noqa: F401  (retention stores)
        from payments.pages import debt_payment_links
        from payments.services import payment_link_for_message

        register_payment_link_maker(payment_link_for_message)
        register_debt_panel(
            DebtPanel("payment_links", "payment_links", "payments/_debt_links.html", debt_payment_links, order=10)
        )
