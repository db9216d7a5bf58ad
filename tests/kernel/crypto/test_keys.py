"""Master-key configuration: an operator's mistake stops the app with a message
that names the variable and the key, instead of corrupting or losing data."""

from __future__ import annotations

import base64

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from kernel.crypto.keyring import reset_key_caches
from kernel.crypto.keys import EnvKeyProvider, parse_key_list

K1 = base64.b64encode(b"1" * 32).decode()
K2 = base64.b64encode(b"2" * 32).decode()
SHORT = base64.b64encode(b"3" * 16).decode()


def test_a_valid_list_keeps_the_order_and_the_first_key_is_primary():
    keys = parse_key_list(f"new:{K2}, old:{K1}")
    assert list(keys) == ["new", "old"]
    assert keys["old"] == b"1" * 32
    assert EnvKeyProvider(f"new:{K2},old:{K1}").primary_key_id == "new"


@pytest.mark.parametrize("raw", ["", "   "])
def test_missing_keys_name_the_variable_and_how_to_make_one(raw):
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS") as exc:
        parse_key_list(raw)
    assert "base64" in str(exc.value)


@pytest.mark.parametrize(
    ("raw", "key_id", "problem"),
    [
        (f"k1:{K1},k2:not*base64!", "k2", "not valid base64"),
        (f"k1:{K1},short:{SHORT}", "short", "16 bytes"),
        (f"dup:{K1},dup:{K2}", "dup", "appears twice"),
    ],
)
def test_bad_keys_name_the_variable_and_the_key_id(raw, key_id, problem):
    with pytest.raises(ImproperlyConfigured) as exc:
        parse_key_list(raw)
    message = str(exc.value)
    assert "FIELD_ENCRYPTION_KEYS" in message
    assert repr(key_id) in message
    assert problem in message
    assert K1 not in message and K2 not in message  # never echo key material


def test_an_entry_without_a_key_id_names_its_position():
    with pytest.raises(ImproperlyConfigured, match=r"FIELD_ENCRYPTION_KEYS: entry 2 must look like 'keyid:<base64>'"):
        parse_key_list(f"k1:{K1},{K2}")


@pytest.mark.parametrize("raw", ["", f"k1:{K1},k1:{K2}", "k1:@@@", f"k1:{SHORT}"])
def test_the_system_check_reports_bad_keys_as_E010(raw):
    with override_settings(FIELD_ENCRYPTION_KEYS=raw):
        errors = [e for e in checks.run_checks() if e.id == "collectpro.E010"]
    assert len(errors) == 1
    assert "FIELD_ENCRYPTION_KEYS" in errors[0].msg


def test_the_system_check_is_quiet_with_good_keys():
    with override_settings(FIELD_ENCRYPTION_KEYS=f"new:{K2},old:{K1}"):
        assert not [e for e in checks.run_checks() if e.id in ("collectpro.E010", "collectpro.E011")]


def test_unwrapping_with_a_removed_master_key_says_to_add_it_back():
    old = EnvKeyProvider(f"old:{K1}")
    key_id, blob = old.wrap(b"k" * 32, b"aad")
    assert EnvKeyProvider(f"new:{K2},old:{K1}").unwrap(key_id, blob, b"aad") == b"k" * 32
    with pytest.raises(ImproperlyConfigured) as exc:
        EnvKeyProvider(f"new:{K2}").unwrap(key_id, blob, b"aad")
    message = str(exc.value)
    assert "'old'" in message and "FIELD_ENCRYPTION_KEYS" in message and "Add it back" in message


def test_the_provider_reads_settings_and_reset_forgets_them():
    from kernel.crypto.keys import get_key_provider

    with override_settings(FIELD_ENCRYPTION_KEYS=f"old:{K1}"):
        reset_key_caches()
        assert get_key_provider().primary_key_id == "old"
    with override_settings(FIELD_ENCRYPTION_KEYS=f"new:{K2},old:{K1}"):
        assert get_key_provider().primary_key_id == "old"  # cached until reset
        reset_key_caches()
        assert get_key_provider().primary_key_id == "new"
