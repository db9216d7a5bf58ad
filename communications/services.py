"""Outbound communications: templates, rendering, sending through the rules.

Every email and SMS carries a working one-click opt-out link (12 CFR 1006.6(e));
email also carries RFC 8058 List-Unsubscribe headers. Sending always goes through
``contact_gate``: a refusal is recorded and nothing is sent.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template import Context, Engine
from django.utils import timezone

from accounts.types import Actor, actor_user
from communications import hooks
from communications.log import communication_queued, contact_gate, legal_notice_queued
from communications.models import Communication, MessageTemplate
from communications.tasks import deliver_communication
from consent.optout import opt_out_url
from debtors.models import Debt
from debtors.services.money import from_minor

log = logging.getLogger(__name__)
# A template sees only these plain strings — never model objects.
VARIABLES = (
    "first_name",
    "full_name",
    "agency",
    "creditor",
    "reference",
    "balance",
    "currency",
    "payment_link",
    "opt_out_url",
)
_engine = Engine(autoescape=False)


def template_for(*, workspace_id: int, name: str, channel: str, language: str) -> MessageTemplate:
    qs = MessageTemplate.objects.for_workspace(workspace_id).filter(name=name, channel=channel, is_active=True)
    template = (
        qs.filter(language=language).order_by("-version").first()
        or qs.filter(language="en").order_by("-version").first()
    )
    if template is None:
        raise ValidationError({"template": f"No active {channel} template named {name!r}."})
    return template


def template_save(
    *, workspace: Any, name: str, channel: str, language: str, subject: str, body: str, actor: Actor = None
) -> MessageTemplate:
    """Save a new version (older versions stay for the record)."""
    try:
        _engine.from_string(subject + body)
    except Exception as exc:
        raise ValidationError({"body": f"Template error: {exc}"}) from None
    previous = (
        MessageTemplate.objects.for_workspace(workspace)
        .filter(name=name, channel=channel, language=language)
        .order_by("-version")
        .first()
    )
    with transaction.atomic():
        MessageTemplate.objects.for_workspace(workspace).filter(name=name, channel=channel, language=language).update(
            is_active=False
        )
        return MessageTemplate.objects.for_workspace(workspace).create(
            workspace_id=getattr(workspace, "pk", workspace),
            name=name,
            channel=channel,
            language=language,
            version=(previous.version + 1) if previous else 1,
            subject=subject,
            body=body,
            created_by=actor_user(actor),
        )


def render(template: MessageTemplate, debt: Debt, *, payment_link: str = "") -> tuple[str, str, str]:
    """(subject, body, opt-out url). The opt-out line is always appended to email
    and SMS, whatever the template says."""
    debtor = debt.debtor
    unsubscribe = opt_out_url(workspace_id=debt.workspace_id, debtor_id=str(debtor.pk), channel=template.channel)
    values = {
        "first_name": (debtor.full_name or "").split(" ")[0],
        "full_name": debtor.full_name or "",
        "agency": debt.workspace.name,
        "creditor": debt.client.name,
        "reference": debt.reference,
        "balance": from_minor(debt.balance_minor, debt.currency),
        "currency": debt.currency,
        "payment_link": payment_link,
        "opt_out_url": unsubscribe,
    }
    ctx = Context(values)
    subject = _engine.from_string(template.subject).render(ctx).strip()
    body = _engine.from_string(template.body).render(ctx).strip()
    if template.channel == "email":
        body += f"\n\n--\nTo stop emails from {debt.workspace.name} about this account: {unsubscribe}"
    elif template.channel in ("sms", "whatsapp"):
        body += f"\nStop: {unsubscribe}"
    return subject, body, unsubscribe


def communication_send(
    *,
    debt: Debt,
    channel: str,
    template_name: str,
    at: datetime | None = None,
    actor: Actor = None,
    payment_link: str = "",
) -> Communication:
    """Send a templated message if, and only if, the contact rules allow it now."""
    at = at or timezone.now()
    debt = Debt.objects.for_workspace(debt.workspace_id).select_related("debtor", "client", "workspace").get(pk=debt.pk)
    contact_gate(debt=debt, channel=channel, at=at, actor=actor, template=template_name)
    template = template_for(
        workspace_id=debt.workspace_id,
        name=template_name,
        channel=channel,
        language=debt.debtor.preferred_language or "en",
    )
    if not payment_link and "payment_link" in template.body:
        payment_link = hooks.payment_link_for_message(debt=debt, actor=actor)
    subject, body, _ = render(template, debt, payment_link=payment_link)
    with transaction.atomic():
        comm = communication_queued(
            debt=debt,
            channel=channel,
            content=f"{subject}\n\n{body}" if subject else body,
            template=f"{template.name}@v{template.version}",
            template_label=f"{template.name} v{template.version}",
            at=at,
            actor=actor,
        )
        queued_at = timezone.now().isoformat()
        transaction.on_commit(lambda: deliver_communication.delay(debt.workspace_id, str(comm.pk), queued_at))
    return comm


def legal_notice_send(
    *,
    debt: Debt,
    channel: str,
    subject: str,
    body: str,
    template: str,
    template_label: str,
    at: datetime | None = None,
    actor: Actor = None,
) -> Communication:
    """Send a notice the law requires about the person's data (e.g. before erasure for
    inactivity) to the email or phone on file, through the same log and delivery as
    every message. It is not collection contact: the contact rules are not asked (an
    opt-out or a cease-communication request does not stop it), it carries no opt-out
    line, and it does not count as the debt's last contact."""
    if channel not in ("email", "sms"):
        raise ValidationError({"channel": "A notice goes by email or SMS."})
    with transaction.atomic():
        comm = legal_notice_queued(
            debt=debt,
            channel=channel,
            content=f"{subject}\n\n{body}" if channel == "email" else body,
            template=template,
            template_label=template_label,
            at=at,
            actor=actor,
        )
        queued_at = timezone.now().isoformat()
        transaction.on_commit(lambda: deliver_communication.delay(debt.workspace_id, str(comm.pk), queued_at))
    return comm
