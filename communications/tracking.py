"""Delivery and bounce webhooks from the email provider (django-anymail's
normalised tracking events) update the message and the debt's timeline."""

from __future__ import annotations

from typing import Any

from anymail.signals import tracking
from django.dispatch import receiver

from communications.log import contact_not_made
from communications.models import Communication
from debtors.services.ledger import debt_event
from kernel.tenancy import workspace_context
from kernel.tenancy.context import db_scope

STATUS = {
    "delivered": "delivered",
    "bounced": "bounced",
    "rejected": "failed",
    "failed": "failed",
    "complained": "delivered",
}


@receiver(tracking, dispatch_uid="collectpro_email_tracking")
def on_tracking(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    status = STATUS.get(event.event_type)
    if not status or not event.message_id:
        return
    with db_scope(provider_ref=str(event.message_id)):
        comm = (
            Communication.unscoped.select_related("workspace").filter(provider_message_id=str(event.message_id)).first()
        )
    if comm is None:
        return
    with workspace_context(comm.workspace):
        if Communication.objects.filter(pk=comm.pk).exclude(status=status).update(status=status):
            debt = comm.debt
            debt_event(debt, f"communication.{comm.channel}", f"{comm.channel.title()} {status}", obj=comm)
            if status in ("bounced", "failed"):
                contact_not_made(debt=debt)  # it never reached the debtor
