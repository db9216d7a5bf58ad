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

from collectpro.crypto.keys import blind_index_root

DIGEST_CHARS = 32  # 128 bits, hex


def normalise_text(value: str) -> str:
    return " ".join(str(value).split()).casefold()


def normalise_email(value: str) -> str:
    return str(value).strip().casefold()


def normalise_identifier(value: str) -> str:
    """National ids, references: case- and separator-insensitive."""
    return "".join(ch for ch in str(value).casefold() if ch.isalnum())


def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164 (+919812345678). Raises ValueError for a number that cannot be parsed."""
    try:
        parsed = phonenumbers.parse(str(value), region)
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
