"""Delivery of queued messages, at most once (ADR 0013).

A message is claimed (``queued`` → ``sending``, committed), handed to the email
backend or SMS provider outside any transaction, then marked ``sent``. Failures
that certainly did not send are retried with backoff by the task; the others
fail at once, since the provider may have sent it. The rules are asked again at
sending time (opt-outs, disputes; the debtor's clock when the hand-off is late).
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

from anymail.exceptions import AnymailAPIError, AnymailError, AnymailRecipientsRefused
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone

from accounts.models import Workspace
from audit import actions
from audit.services import audit_record
from communications.log import LEGAL_NOTICE, contact_not_made
from communications.models import Communication
from communications.sms import SmsSendError, get_sms_provider
from consent.optout import opt_out_url
from consent.rules import can_contact
from debtors.services.ledger import debt_event
from kernel.tenancy import workspace_context

log = logging.getLogger(__name__)


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
    when the hand-off is late (``queued_at`` more than ``DELIVERY_GRACE`` ago). A
    notice the law requires (``LEGAL_NOTICE``) is not collection contact: no rule is asked.
    Otherwise claim it (``queued`` → ``sending``) and return what to send. A
    message that is not ``queued`` returns its status: it is sent at most once."""
    if communication.status != "queued":
        return communication.status
    debt = communication.debt
    debtor = debt.debtor
    now = timezone.now()
    ignored = _DECIDED_AT_QUEUEING
    if queued_at is None or now - queued_at <= DELIVERY_GRACE:
        ignored = ignored | _TIME_OF_DAY
    reasons = (
        []
        if communication.outcome == LEGAL_NOTICE
        else [r for r in can_contact(debt, communication.channel, now).reasons if r.code not in ignored]
    )
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
        contact_not_made(debt=debt)
        codes = [r["code"] for r in reasons]
        channel = communication.channel
        debt_event(
            debt, f"communication.{channel}", f"{channel.title()} withheld: " + ", ".join(codes), obj=communication
        )
        audit_record(
            action=actions.COMMUNICATION_WITHHELD,
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
        contact_not_made(debt=debt)
        channel = communication.channel
        summary = f"{channel.title()} not sent after {attempts} attempt{'s' if attempts != 1 else ''}: {error}"
        debt_event(debt, f"communication.{channel}", summary[:200], obj=communication)
        audit_record(
            action=actions.COMMUNICATION_FAILED,
            workspace=debt.workspace_id,
            obj=communication,
            metadata={"channel": channel, "error": error[:200], "attempts": attempts},
        )


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


# A provider that fails for a moment gets five more tries over about half an hour
# (1, 2, 4, 8 and 16 minutes apart); then the message is marked failed.
DELIVERY_RETRIES = 5
DELIVERY_FIRST_RETRY_SECONDS = 60


def delivery_attempt(
    *, workspace: Workspace, communication_id: str, since: datetime | None, attempt: int
) -> str | None:
    """Try once; the outcome, or None to try again later. The claim and the
    outcome are committed on their own; the hand-off to the provider happens
    between them, outside any transaction."""
    workspace_id = workspace.pk
    with workspace_context(workspace):
        comm = (
            Communication.objects.select_related("debt", "debt__debtor", "debt__workspace")
            .filter(pk=communication_id)
            .first()
        )
        if comm is None:
            return "missing"
        claimed = delivery_claim(communication=comm, queued_at=since)
    if isinstance(claimed, str):
        return claimed
    bug: Exception | None = None
    try:
        message_id = delivery_send(claimed)
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # ours, not the provider's: record it, then let it surface
        error, bug = DeliveryError(f"{type(exc).__name__} during the hand-off; {NO_ANSWER}", transient=False), exc
    else:
        with workspace_context(workspace):
            delivery_sent(communication_id=communication_id, workspace_id=workspace_id, message_id=message_id)
        return "sent"
    with workspace_context(workspace):
        if error.transient and attempt <= DELIVERY_RETRIES:
            delivery_release(communication_id=communication_id, workspace_id=workspace_id)
            log.warning("communication %s: %s; trying again (attempt %d)", communication_id, error, attempt)
            return None
        communication_failed(communication=comm, error=str(error), attempts=attempt)
    if bug is not None:
        raise bug
    return "failed"
