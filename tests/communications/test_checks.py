"""Settings that name a class by its dotted path are checked at start-up: a path
from before the apps were layered is refused with the class's new home."""

from __future__ import annotations

from communications.checks import check_sms_provider
from kernel.privacy.checks import check_encryption_keys


def test_the_default_sms_provider_passes(settings):
    settings.SMS_PROVIDER = "communications.sms.LoggingSmsProvider"
    assert check_sms_provider() == []


def test_an_sms_provider_at_its_old_path_is_refused_with_the_new_one(settings):
    settings.SMS_PROVIDER = "consent.sms.LoggingSmsProvider"
    (error,) = check_sms_provider()
    assert error.id == "communications.E001"
    assert "communications.sms.LoggingSmsProvider" in error.hint


def test_a_class_that_is_no_sms_provider_is_refused(settings):
    settings.SMS_PROVIDER = "communications.sms.SmsSendError"
    (error,) = check_sms_provider()
    assert "is not a SmsProvider" in error.msg


def test_a_key_provider_at_its_old_path_is_refused_with_the_new_one(settings):
    settings.FIELD_ENCRYPTION_KEY_PROVIDER = "collectpro.crypto.keys.EnvKeyProvider"
    errors = [e for e in check_encryption_keys() if e.id == "collectpro.E012"]
    assert len(errors) == 1 and "kernel.crypto.keys.EnvKeyProvider" in errors[0].hint
