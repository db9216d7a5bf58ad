"""The keys that sign audit checkpoints (ADR 0016).

``AUDIT_CHECKPOINT_KEY`` is ``"<key id>:<base64 of a 32-byte Ed25519 private key>"``
from the environment; it signs new checkpoints and verifies them. Retired keys, or
an auditor's copy that holds no secret, are public keys in
``AUDIT_CHECKPOINT_PUBLIC_KEYS`` (``"<key id>:<base64 of 32 bytes>,…"``): they verify
but cannot sign. ``manage.py verify_audit_chain --public-key`` prints the current
key's public half to hand out.

Ed25519 rather than an HMAC: whoever verifies with a public key cannot forge a
checkpoint, so an auditor can check the trail without being trusted with the key.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from audit.models import AuditCheckpoint

KEY_BYTES = 32
_KEY_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
SIGNING_VARIABLE = "AUDIT_CHECKPOINT_KEY"
PUBLIC_VARIABLE = "AUDIT_CHECKPOINT_PUBLIC_KEYS"


def _parse(raw: str, *, variable: str) -> dict[str, bytes]:
    """ "id:base64,id:base64" → {id: 32 bytes}. Errors name the variable, never the key."""
    keys: dict[str, bytes] = {}
    for position, entry in enumerate(e.strip() for e in raw.split(",") if e.strip()):
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID.match(key_id):
            raise ImproperlyConfigured(
                f"{variable}: entry {position + 1} must look like 'keyid:<base64>' "
                f"with a key id of letters, digits, '-' or '_'"
            )
        try:
            material = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ImproperlyConfigured(f"{variable}: key {key_id!r} is not valid base64") from exc
        if len(material) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"{variable}: key {key_id!r} is {len(material)} bytes; Ed25519 needs {KEY_BYTES}"
            )
        if key_id in keys:
            raise ImproperlyConfigured(f"{variable}: key id {key_id!r} appears twice")
        keys[key_id] = material
    return keys


@lru_cache(maxsize=1)
def signing_key() -> tuple[str, Ed25519PrivateKey]:
    """The key new checkpoints are signed with; ImproperlyConfigured when it is not set."""
    raw = getattr(settings, SIGNING_VARIABLE, "") or ""
    keys = _parse(raw, variable=SIGNING_VARIABLE)
    if len(keys) != 1:
        raise ImproperlyConfigured(
            f"Set the {SIGNING_VARIABLE} environment variable to one 'keyid:<base64 of 32 random bytes>' "
            f"(generate one with: python -c \"import os,base64;print('a1:'+base64.b64encode(os.urandom(32)).decode())\")"
        )
    ((key_id, seed),) = keys.items()
    return key_id, Ed25519PrivateKey.from_private_bytes(seed)


@lru_cache(maxsize=1)
def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every key a checkpoint may be verified with: the public keys listed in
    ``AUDIT_CHECKPOINT_PUBLIC_KEYS`` and the signing key's own (when it is set)."""
    found = {
        key_id: Ed25519PublicKey.from_public_bytes(raw)
        for key_id, raw in _parse(getattr(settings, PUBLIC_VARIABLE, "") or "", variable=PUBLIC_VARIABLE).items()
    }
    if getattr(settings, SIGNING_VARIABLE, ""):
        key_id, private = signing_key()
        found[key_id] = private.public_key()
    return found


def reset_signing_caches() -> None:
    """Forget the parsed keys (tests that change the settings)."""
    signing_key.cache_clear()
    public_keys.cache_clear()


def public_key_line() -> str:
    """``"<key id>:<base64 public key>"`` of the signing key, for AUDIT_CHECKPOINT_PUBLIC_KEYS."""
    key_id, private = signing_key()
    raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return f"{key_id}:{base64.b64encode(raw).decode()}"


def _message(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_signature(checkpoint: AuditCheckpoint) -> tuple[str, str]:
    """(key id, hex signature) over the checkpoint's content, with the current key.
    Sets ``checkpoint.key_id`` first: the key id is part of what is signed."""
    key_id, private = signing_key()
    checkpoint.key_id = key_id
    return key_id, private.sign(_message(checkpoint.content())).hex()


def checkpoint_signature_problem(checkpoint: AuditCheckpoint) -> str | None:
    """Why the checkpoint's signature does not hold, or None when it does."""
    public = public_keys().get(checkpoint.key_id)
    if public is None:
        return (
            f"is signed with key {checkpoint.key_id!r}, which is not configured "
            f"(add its public key to {PUBLIC_VARIABLE})"
        )
    try:
        public.verify(bytes.fromhex(checkpoint.signature), _message(checkpoint.content()))
    except (InvalidSignature, ValueError):
        return "has a signature that does not verify (checkpoint forged or altered)"
    return None


@checks.register()
def check_checkpoint_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The signing key must load, or the nightly purge cannot prune the audit trail."""
    errors: list[checks.CheckMessage] = []
    try:
        signing_key.__wrapped__()
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="audit.E001"))
    try:
        _parse(getattr(settings, PUBLIC_VARIABLE, "") or "", variable=PUBLIC_VARIABLE)
    except ImproperlyConfigured as exc:
        errors.append(checks.Error(str(exc), id="audit.E002"))
    return errors
