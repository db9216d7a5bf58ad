"""SMS / WhatsApp providers behind one interface (settings.SMS_PROVIDER)."""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod

from django.conf import settings
from django.utils.module_loading import import_string

log = logging.getLogger("collectpro.sms")


class SmsSendError(Exception):
    """What a provider raises when it could not send: ``transient`` when trying
    again later may work (timeouts, throttling, the provider's 5xx), otherwise
    (a number it will not text, a blocked account) the message fails for good.
    Connection errors (``OSError``) count as transient without wrapping."""

    def __init__(self, message: str, *, transient: bool):
        super().__init__(message)
        self.transient = transient


class SmsProvider(ABC):
    @abstractmethod
    def send(self, *, to: str, body: str, channel: str = "sms") -> str:
        """Send and return the provider's message id; raise ``SmsSendError``."""


class LoggingSmsProvider(SmsProvider):
    """Writes messages to the log (demo, tests, until a real provider is configured).
    Keeps the last messages in memory so tests can read them."""

    outbox: list[dict[str, str]] = []

    def send(self, *, to: str, body: str, channel: str = "sms") -> str:
        message_id = f"log-{uuid.uuid4().hex[:16]}"
        LoggingSmsProvider.outbox.append({"to": to, "body": body, "channel": channel, "id": message_id})
        del LoggingSmsProvider.outbox[:-100]
        log.info("%s to …%s (%d chars) id=%s", channel, to[-4:], len(body), message_id)
        return message_id


def get_sms_provider() -> SmsProvider:
    provider: SmsProvider = import_string(settings.SMS_PROVIDER)()
    return provider
