"""Files encrypted at rest with a person's (or the workspace's) data key.

A blob is ``key id (36) | nonce (12) | AES-GCM(ciphertext + tag)``, bound to
``purpose`` (e.g. the file's storage name) so one file's bytes cannot be
swapped for another's. Shredding the subject's key makes the file unreadable,
like the fields encrypted under it (crypto-shredding)."""

from __future__ import annotations

import os

from kernel.crypto import keyring
from kernel.crypto.keys import NONCE_BYTES

_KEY_ID_BYTES = 36


def _aad(workspace_id: int, purpose: str) -> bytes:
    return f"blob|{workspace_id}|{purpose}".encode()


def blob_encrypt(data: bytes, *, workspace_id: int, subject_type: str, subject_id: str, purpose: str) -> bytes:
    key_id, key = keyring.subject_key_for(workspace_id, subject_type, str(subject_id))
    nonce = os.urandom(NONCE_BYTES)
    sealed = keyring.aead_for(key).encrypt(nonce, data, _aad(workspace_id, purpose))
    return key_id.encode().ljust(_KEY_ID_BYTES, b" ") + nonce + sealed


def blob_decrypt(blob: bytes, *, workspace_id: int, purpose: str) -> bytes:
    """The plaintext; raises ``keyring.SubjectKeyShredded`` once the key is shredded
    and ``cryptography.exceptions.InvalidTag`` for a blob of another file."""
    key_id = blob[:_KEY_ID_BYTES].decode().strip()
    nonce = blob[_KEY_ID_BYTES : _KEY_ID_BYTES + NONCE_BYTES]
    key = keyring.subject_key_by_id(workspace_id, key_id)
    return keyring.aead_for(key).decrypt(nonce, blob[_KEY_ID_BYTES + NONCE_BYTES :], _aad(workspace_id, purpose))
