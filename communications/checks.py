"""System checks of the communications app."""

from __future__ import annotations

from typing import Any

from django.core import checks

from communications.sms import SmsProvider
from kernel.privacy.checks import check_dotted_path


@checks.register()
def check_sms_provider(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """SMS_PROVIDER names an importable SmsProvider (checked at start-up, not at the first SMS)."""
    return check_dotted_path(
        "SMS_PROVIDER", SmsProvider, default="communications.sms.LoggingSmsProvider", id="communications.E001"
    )
