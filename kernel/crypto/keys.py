"""Master keys: where the root of the key hierarchy lives.

``KeyProvider`` is the interface a KMS adapter implements (wrap/unwrap a data
key; the master key never leaves the provider). ``EnvKeyProvider`` reads
``FIELD_ENCRYPTION_KEYS="id2:<base64 32 bytes>,id1:<base64 32 bytes>"`` — several
keys at once so rotation needs no downtime; the first is primary.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from abc import ABC, abstractmethod
from functools import lru_cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

NONCE_BYTES = 12
KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyProvider(ABC):
    @property
    @abstractmethod
    def primary_key_id(self) -> str: ...

    @abstractmethod
    def key_ids(self) -> list[str]: ...

    @abstractmethod
    def wrap(self, plaintext_key: bytes, aad: bytes) -> tuple[str, bytes]:
        """Encrypt a data key under the primary master key; returns (master key id, blob)."""

    @abstractmethod
    def unwrap(self, key_id: str, blob: bytes, aad: bytes) -> bytes:
        """Decrypt a data key wrapped under master key ``key_id``."""


def parse_key_list(raw: str, *, variable: str = "FIELD_ENCRYPTION_KEYS") -> dict[str, bytes]:
    """Parse "id:base64,id:base64". Errors name the variable and the bad entry."""
    if not raw or not raw.strip():
        raise ImproperlyConfigured(
            f"Set the {variable} environment variable: 'keyid:<base64 of 32 random bytes>' "
            f"(generate one with: python -c \"import os,base64;print('k1:'+base64.b64encode(os.urandom(32)).decode())\")"
        )
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(raw.split(","), start=1):
        entry = entry.strip()
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                f"{variable}: entry {position} must look like 'keyid:<base64>' with a key id of letters, digits, '-' or '_'"
            )
        try:
            material = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(f"{variable}: key {key_id!r} is not valid base64") from exc
        if len(material) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"{variable}: key {key_id!r} is {len(material)} bytes; AES-256 needs exactly {KEY_BYTES}"
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"{variable}: key id {key_id!r} appears twice")
        keys[key_id] = material
    return keys


def parse_single_key(raw: str, *, variable: str) -> bytes:
    if not raw:
        raise ImproperlyConfigured(f"Set the {variable} environment variable (base64 of 32 random bytes)")
    try:
        material = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{variable} is not valid base64") from exc
    if len(material) < KEY_BYTES:
        raise ImproperlyConfigured(f"{variable} must decode to at least {KEY_BYTES} bytes")
    return material


class EnvKeyProvider(KeyProvider):
    def __init__(self, raw: str | None = None):
        self._keys = parse_key_list(settings.FIELD_ENCRYPTION_KEYS if raw is None else raw)
        self._primary = next(iter(self._keys))
        self._aead = {kid: AESGCM(material) for kid, material in self._keys.items()}

    @property
    def primary_key_id(self) -> str:
        return self._primary

    def key_ids(self) -> list[str]:
        return list(self._keys)

    def wrap(self, plaintext_key: bytes, aad: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return self._primary, nonce + self._aead[self._primary].encrypt(nonce, plaintext_key, aad)

    def unwrap(self, key_id: str, blob: bytes, aad: bytes) -> bytes:
        aead = self._aead.get(key_id)
        if aead is None:
            raise ImproperlyConfigured(
                f"Master key {key_id!r} is needed to read existing data but is not in FIELD_ENCRYPTION_KEYS. "
                f"Add it back (after the primary) until `manage.py rotate_keys` has finished."
            )
        return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


@lru_cache(maxsize=1)
def get_key_provider() -> KeyProvider:
    provider_cls = import_string(settings.FIELD_ENCRYPTION_KEY_PROVIDER)
    provider: KeyProvider = provider_cls()
    return provider


@lru_cache(maxsize=1)
def blind_index_root() -> bytes:
    return parse_single_key(settings.BLIND_INDEX_KEY, variable="BLIND_INDEX_KEY")
