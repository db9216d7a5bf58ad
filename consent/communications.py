"""Outbound communications: templates, rendering, sending through the rules.

Every email and SMS carries a working one-click opt-out link (12 CFR 1006.6(e));
email also carries RFC 8058 List-Unsubscribe headers. Sending always goes through
``contact_gate``: a refusal is recorded and nothing is sent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.template import Context, Engine
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from consent.models import MessageTemplate
from consent.services import contact_gate
from debtors.models import Communication, Debt
from debtors.services.ledger import debt_event
from debtors.services.money import from_minor

log = logging.getLogger(__name__)
OPT_OUT_SALT = "collectpro.optout"
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


def opt_out_token(*, workspace_id: int, debtor_id: str, channel: str) -> str:
    # Deterministic (no timestamp): an opt-out link must keep working for ever.
    return signing.Signer(salt=OPT_OUT_SALT).sign_object(
        {"w": workspace_id, "d": str(debtor_id), "c": channel}, compress=True
    )


def opt_out_url(*, workspace_id: int, debtor_id: str, channel: str) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(
        "opt_out", args=[opt_out_token(workspace_id=workspace_id, debtor_id=debtor_id, channel=channel)]
    )


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
    *, workspace: Any, name: str, channel: str, language: str, subject: str, body: str, actor: Any = None
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
            created_by=actor if getattr(actor, "pk", None) else None,
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
    actor: Any = None,
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
        from payments.services import payment_link_for_message

        payment_link = payment_link_for_message(debt=debt, actor=actor)
    subject, body, _ = render(template, debt, payment_link=payment_link)
    with transaction.atomic():
        comm = Communication(
            workspace_id=debt.workspace_id,
            debt=debt,
            debtor_id=debt.debtor_id,
            channel=channel,
            direction="outbound",
            status="queued",
            content=f"{subject}\n\n{body}" if subject else body,
            template=f"{template.name}@v{template.version}",
            occurred_at=at,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        comm.save(force_insert=True)
        Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(last_contact_at=at)
        debt_event(
            debt,
            f"communication.{channel}",
            f"{channel.title()} queued ({template.name} v{template.version})",
            obj=comm,
            actor=actor,
        )
        audit_record(
            action="communication.queued",
            workspace=debt.workspace_id,
            obj=comm,
            actor_user_id=getattr(actor, "pk", None),
            metadata={"channel": channel, "template": f"{template.name}@v{template.version}"},
        )
        from consent.tasks import deliver_communication

        queued_at = timezone.now().isoformat()
        transaction.on_commit(lambda: deliver_communication.delay(debt.workspace_id, str(comm.pk), queued_at))
    return comm


# Reasons decided once, when the message was queued: it already counts towards
# the caps, and a call's quiet period does not apply to messages.
_DECIDED_AT_QUEUEING = frozenset({"frequency_cap", "recent_conversation"})
# The debtor's clock: re-checked only when the hand-off is late (a retry, or a
# worker that was down), since the gate checked it a moment ago otherwise.
_TIME_OF_DAY = frozenset({"outside_hours", "weekend", "blackout"})
DELIVERY_GRACE = timedelta(minutes=5)


class DeliveryError(Exception):
    """The provider did not take the message. ``transient``: worth trying again
    (timeouts, connection errors, 429 and 5xx responses)."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


def _classify(exc: Exception) -> DeliveryError | None:
    """A send failure as a ``DeliveryError``; None for a bug of ours (not a provider's
    answer), which should surface as it is."""
    import smtplib

    from anymail.exceptions import AnymailAPIError, AnymailRecipientsRefused

    from consent.sms import SmsSendError

    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, SmsSendError):
        return DeliveryError(str(exc), transient=exc.transient)
    if isinstance(exc, AnymailRecipientsRefused | smtplib.SMTPRecipientsRefused):
        return DeliveryError("the provider refused the recipient", transient=False)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        transient = status is None or status == 429 or status >= 500
        return DeliveryError(f"the provider answered {status or 'nothing'}", transient=transient)
    if isinstance(exc, OSError):  # connection refused or reset, timeouts, SMTP errors
        return DeliveryError(f"{type(exc).__name__}: could not reach the provider", transient=True)
    return None


def deliver(*, communication: Communication, queued_at: datetime | None = None) -> str:
    """Hand a queued message to the email backend (Anymail/Brevo in production) or
    the SMS provider. Idempotent: only a queued message is sent.

    The rules are asked again first, at the time of sending: what changed since
    the message was queued — an opt-out, a dispute, a payment in full — withholds
    it (status ``refused``, with the reasons). The debtor's contact hours are
    asked again too when the hand-off is late (``queued_at`` more than
    ``DELIVERY_GRACE`` ago). A provider failure raises ``DeliveryError``."""
    if communication.status != "queued":
        return communication.status
    debt = communication.debt
    debtor = debt.debtor
    from consent.rules import can_contact

    now = timezone.now()
    ignored = _DECIDED_AT_QUEUEING
    if queued_at is None or now - queued_at <= DELIVERY_GRACE:
        ignored = ignored | _TIME_OF_DAY
    reasons = [r for r in can_contact(debt, communication.channel, now).reasons if r.code not in ignored]
    if reasons:
        communication_withheld(communication=communication, reasons=[r.as_dict() for r in reasons])
        return "refused"
    subject, _, body = (
        (communication.content or "").partition("\n\n")
        if communication.channel == "email"
        else ("", "", communication.content or "")
    )
    unsubscribe = opt_out_url(workspace_id=debt.workspace_id, debtor_id=str(debtor.pk), channel=communication.channel)
    message_id = ""
    try:
        if communication.channel == "email":
            from django.core.mail import EmailMessage

            message = EmailMessage(
                subject=subject,
                body=body,
                to=[debtor.email],
                headers={
                    "List-Unsubscribe": f"<{unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                },
            )
            message.extra_headers["X-CollectPro-Communication"] = str(communication.pk)
            message.send()
            status = getattr(message, "anymail_status", None)
            message_id = (getattr(status, "message_id", "") or "") if status is not None else ""
        elif communication.channel in ("sms", "whatsapp"):
            from consent.sms import get_sms_provider

            message_id = get_sms_provider().send(to=debtor.phone or "", body=body, channel=communication.channel)
    except Exception as exc:
        error = _classify(exc)
        if error is None:
            raise
        raise error from exc
    Communication.objects.for_workspace(debt.workspace_id).filter(pk=communication.pk, status="queued").update(
        status="sent", provider_message_id=str(message_id or "")[:200]
    )
    return "sent"


def communication_withheld(*, communication: Communication, reasons: list[dict[str, str]]) -> None:
    """A queued message the rules no longer allow: not sent, ``refused`` with the reasons."""
    debt = communication.debt
    with transaction.atomic():
        if (
            not Communication.objects.for_workspace(debt.workspace_id)
            .filter(pk=communication.pk, status="queued")
            .update(status="refused", refusal_reasons=reasons)
        ):
            return
        codes = [r["code"] for r in reasons]
        channel = communication.channel
        debt_event(
            debt, f"communication.{channel}", f"{channel.title()} withheld: " + ", ".join(codes), obj=communication
        )
        audit_record(
            action="communication.withheld",
            workspace=debt.workspace_id,
            obj=communication,
            metadata={"channel": channel, "reasons": codes},
        )


def communication_failed(*, communication: Communication, error: str, attempts: int) -> None:
    """The provider would not take a queued message (for good, or after every retry)."""
    debt = communication.debt
    with transaction.atomic():
        if (
            not Communication.objects.for_workspace(debt.workspace_id)
            .filter(pk=communication.pk, status="queued")
            .update(status="failed")
        ):
            return
        channel = communication.channel
        summary = f"{channel.title()} not sent after {attempts} attempt{'s' if attempts != 1 else ''}: {error}"
        debt_event(debt, f"communication.{channel}", summary[:200], obj=communication)
        audit_record(
            action="communication.failed",
            workspace=debt.workspace_id,
            obj=communication,
            metadata={"channel": channel, "error": error[:200], "attempts": attempts},
        )
