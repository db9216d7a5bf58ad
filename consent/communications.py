"""Outbound communications: templates, rendering, sending through the rules.

Every email and SMS carries a working one-click opt-out link (12 CFR 1006.6(e));
email also carries RFC 8058 List-Unsubscribe headers. Sending always goes through
``contact_gate``: a refusal is recorded and nothing is sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.template import Context, Engine
from django.urls import reverse
from django.utils import timezone

from audit.services import audit_record
from consent.models import MessageTemplate
from consent.services import contact_gate
from debtors.models import Communication, Debt
from debtors.services.ledger import debt_event
from debtors.services.money import from_minor
from debtors.services.priority import rescore

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
        rescore(debt)
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
    """The provider did not take the message. ``transient``: it certainly did not
    send it and trying again later may work (connection refused, no such host,
    an answer of 429 or 5xx); otherwise the message fails for good — including
    when there was no answer at all, since the provider may have sent it and a
    retry could send it twice."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


NO_ANSWER = "no answer from the provider; it may have been sent, so it is not sent again"


def _classify(exc: Exception) -> DeliveryError | None:
    """A send failure as a ``DeliveryError``; None for a bug of ours (not a
    provider's answer), which should surface as it is."""
    import smtplib

    from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused

    from consent.sms import SmsSendError

    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, SmsSendError):
        return DeliveryError(str(exc), transient=exc.transient)
    if isinstance(exc, AnymailRecipientsRefused | smtplib.SMTPRecipientsRefused):
        return DeliveryError("the provider refused the recipient", transient=False)
    if _never_connected(exc):  # refused, unknown host, connect timeout: the request never left
        return DeliveryError(f"{type(exc).__name__}: could not reach the provider", transient=True)
    if isinstance(exc, AnymailAPIError):
        status = getattr(exc, "status_code", None)
        if status is None or status == 504:  # no answer, or a gateway that got none
            return DeliveryError(NO_ANSWER, transient=False)
        return DeliveryError(f"the provider answered {status}", transient=status == 429 or status >= 500)
    if isinstance(exc, AnymailError):  # e.g. an invalid address: the message cannot be sent
        return DeliveryError(f"the message was refused before sending ({type(exc).__name__})", transient=False)
    if isinstance(exc, smtplib.SMTPResponseException):  # the mail server answered with a code
        code = exc.smtp_code
        return DeliveryError(f"the mail server answered {code}", transient=400 <= code < 500)
    if isinstance(exc, OSError):  # a timeout or a dropped connection mid-request
        return DeliveryError(NO_ANSWER, transient=False)
    return None


def _never_connected(exc: BaseException) -> bool:
    """Did the failure happen before a connection was made (so the provider cannot
    have the message)? Looks through the chain of causes, including what requests
    and urllib3 wrap (``MaxRetryError.reason``)."""
    import smtplib
    import socket

    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        names = {cls.__name__ for cls in type(item).__mro__}
        if isinstance(item, ConnectionRefusedError | socket.gaierror | smtplib.SMTPConnectError) or names & {
            "NewConnectionError",
            "NameResolutionError",
            "ConnectTimeoutError",
            "ConnectTimeout",
        }:
            return True
        pending += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return False


@dataclass(frozen=True)
class Outgoing:
    """A claimed message, ready to hand over (plain text: kept in memory only)."""

    communication_id: str
    channel: str
    to: str
    subject: str
    body: str
    unsubscribe: str


def delivery_claim(*, communication: Communication, queued_at: datetime | None = None) -> Outgoing | str:
    """Ask the rules again, at the time of sending: what changed since the message
    was queued — an opt-out, a dispute, a payment in full — withholds it (status
    ``refused``, with the reasons); the debtor's contact hours are asked again too
    when the hand-off is late (``queued_at`` more than ``DELIVERY_GRACE`` ago).
    Otherwise claim it (``queued`` → ``sending``) and return what to send. A
    message that is not ``queued`` returns its status: it is sent at most once."""
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
    if not (
        Communication.objects.for_workspace(debt.workspace_id)
        .filter(pk=communication.pk, status="queued")
        .update(status="sending")
    ):
        return "sending"  # claimed by another run meanwhile
    subject, _, body = (
        (communication.content or "").partition("\n\n")
        if communication.channel == "email"
        else ("", "", communication.content or "")
    )
    return Outgoing(
        communication_id=str(communication.pk),
        channel=communication.channel,
        to=(debtor.email if communication.channel == "email" else debtor.phone) or "",
        subject=subject,
        body=body,
        unsubscribe=opt_out_url(
            workspace_id=debt.workspace_id, debtor_id=str(debtor.pk), channel=communication.channel
        ),
    )


def delivery_send(outgoing: Outgoing) -> str:
    """Hand the message to the email backend (Anymail/Brevo in production) or the
    SMS provider; the provider's message id. Call it outside a transaction: a
    message the provider took must not be rolled back to ``queued``. A provider
    failure raises ``DeliveryError``."""
    try:
        if outgoing.channel == "email":
            from django.core.mail import EmailMessage

            message = EmailMessage(
                subject=outgoing.subject,
                body=outgoing.body,
                to=[outgoing.to],
                headers={
                    "List-Unsubscribe": f"<{outgoing.unsubscribe}>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "X-CollectPro-Communication": outgoing.communication_id,
                },
            )
            message.send()
            status = getattr(message, "anymail_status", None)
            return str((getattr(status, "message_id", "") or "") if status is not None else "")
        if outgoing.channel in ("sms", "whatsapp"):
            from consent.sms import get_sms_provider

            return str(get_sms_provider().send(to=outgoing.to, body=outgoing.body, channel=outgoing.channel) or "")
        return ""
    except Exception as exc:
        error = _classify(exc)
        if error is None:
            raise
        raise error from exc


def delivery_sent(*, communication_id: str, workspace_id: int, message_id: str) -> None:
    Communication.objects.for_workspace(workspace_id).filter(pk=communication_id, status="sending").update(
        status="sent", provider_message_id=message_id[:200]
    )


def delivery_release(*, communication_id: str, workspace_id: int) -> None:
    """Back to ``queued`` for another try (the provider certainly did not take it)."""
    Communication.objects.for_workspace(workspace_id).filter(pk=communication_id, status="sending").update(
        status="queued"
    )


def deliver(*, communication: Communication, queued_at: datetime | None = None) -> str:
    """Claim, send and mark in one go (the task splits these steps around its
    transactions; see ``consent.tasks.deliver_communication``)."""
    claimed = delivery_claim(communication=communication, queued_at=queued_at)
    if isinstance(claimed, str):
        return claimed
    message_id = delivery_send(claimed)
    delivery_sent(
        communication_id=claimed.communication_id, workspace_id=communication.workspace_id, message_id=message_id
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
        _contact_not_made(debt)
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
            .filter(pk=communication.pk, status__in=["queued", "sending"])
            .update(status="failed")
        ):
            return
        _contact_not_made(debt)
        channel = communication.channel
        summary = f"{channel.title()} not sent after {attempts} attempt{'s' if attempts != 1 else ''}: {error}"
        debt_event(debt, f"communication.{channel}", summary[:200], obj=communication)
        audit_record(
            action="communication.failed",
            workspace=debt.workspace_id,
            obj=communication,
            metadata={"channel": channel, "error": error[:200], "attempts": attempts},
        )


def _contact_not_made(debt: Debt) -> None:
    """A message that never reached the debtor is no contact: the debt's last
    contact is its latest communication that was not refused, failed or bounced
    (and its priority follows)."""
    Debt.objects.for_workspace(debt.workspace_id).select_for_update().filter(pk=debt.pk).first()  # vs. a new contact
    last = (
        Communication.objects.for_workspace(debt.workspace_id)
        .filter(debt_id=debt.pk)
        .exclude(status__in=["refused", "failed", "bounced"])
        .aggregate(last=Max("occurred_at"))["last"]
    )
    Debt.objects.for_workspace(debt.workspace_id).filter(pk=debt.pk).update(last_contact_at=last)
    rescore(debt)


STUCK_AFTER = timedelta(hours=2)  # longer than every retry of a message together


def communications_unstick(*, workspace_id: int, now: datetime | None = None) -> int:
    """Messages left ``sending`` by a worker that died during the hand-off (queued
    more than ``STUCK_AFTER`` ago): ``failed``, saying they may have been sent, so
    a person can check rather than the system guess. Returns how many."""
    cutoff = (now or timezone.now()) - STUCK_AFTER
    stuck = (
        Communication.objects.for_workspace(workspace_id)
        .filter(status="sending", occurred_at__lt=cutoff)
        .select_related("debt", "debt__debtor")
    )
    count = 0
    for comm in stuck:
        communication_failed(
            communication=comm, error=f"the worker stopped during the hand-off; {NO_ANSWER}", attempts=1
        )
        count += 1
    return count
