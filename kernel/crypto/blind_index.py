"""Blind indexes: keyed hashes of normalised values for exact-match search.

The key is derived per workspace and per index scope (HKDF), so equal values in two
workspaces — or an email and a phone that happen to match — give unrelated digests.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from functools import lru_cache

import phonenumbers
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import region_code_for_country_code

from kernel.crypto.keys import blind_index_root

DIGEST_CHARS = 32  # 128 bits, hex


def normalise_text(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def normalise_email(value: str) -> str:
    return str(value).strip().casefold()


def normalise_identifier(value: str) -> str:
    """National ids, references: case- and separator-insensitive."""
    return "".join(ch for ch in str(value).casefold() if ch.isalnum())


_INTERNATIONAL = re.compile(r"^\+[\d \-.()]+$")
_SEPARATORS = str.maketrans("", "", " -.()")


def _fast_international(value: str) -> str | None:
    """E.164 for the common case of a number written in international form
    (``+91 98123-45678``), without ``phonenumbers.parse`` (a placement import checks
    a million of these). Returns None whenever ``parse`` might do more than strip
    separators and split off the country code — a national prefix or leading zero
    after the code, a region whose prefix pattern matches, an unusual length — and
    the caller then takes the full path. ``tests/crypto`` checks the two agree."""
    if not _INTERNATIONAL.match(value):
        return None
    digits = value[1:].translate(_SEPARATORS)
    if not digits.isdigit() or digits[0] == "0":
        return None
    for length in (1, 2, 3):  # the first prefix that is a country code, as parse does
        code = int(digits[:length])
        if code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    national = digits[length:]
    if not 2 <= len(national) <= 17 or national[0] == "0":
        return None
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, region_code_for_country_code(code))
    if metadata is None:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and re.match(prefix, national):
        return None
    if not phonenumbers.is_possible_number(phonenumbers.PhoneNumber(country_code=code, national_number=int(national))):
        raise ValueError("not a possible phone number")
    return f"+{code}{national}"


def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164 (+919812345678). Raises ValueError for a number that cannot be parsed."""
    value = str(value).strip()
    fast = _fast_international(value)
    if fast is not None:
        return fast
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def _phone_or_text(value: str) -> str:
    # Stored phones are already E.164 (normalised on entry): don't parse them twice.
    if _E164.match(value):
        return value
    try:
        return normalise_phone(value)
    except ValueError:
        return normalise_identifier(value)


NORMALISERS: dict[str, Callable[[str], str]] = {
    "text": normalise_text,
    "email": normalise_email,
    "phone": _phone_or_text,
    "identifier": normalise_identifier,
}


@lru_cache(maxsize=4096)
def _scope_key(workspace_id: int, scope: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=b"collectpro-blind-index-v1",
        info=f"{workspace_id}|{scope}".encode(),
    ).derive(blind_index_root())


def blind_index(workspace_id: int, scope: str, value: str | None, normaliser: str = "text") -> str:
    """Digest of ``value`` for exact lookups; '' for an empty value."""
    if value is None or str(value).strip() == "":
        return ""
    normalised = NORMALISERS[normaliser](value)
    digest = hmac.new(_scope_key(workspace_id, scope), normalised.encode(), hashlib.sha256).hexdigest()
    return digest[:DIGEST_CHARS]


def clear_cache() -> None:
    _scope_key.cache_clear()
