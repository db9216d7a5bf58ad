"""``EncryptedField``: a model field stored as AES-GCM ciphertext.

* Stored form: ``enc:v1:<subject key id>:<base64(nonce || ciphertext+tag)>``.
* Associated data binds each value to ``workspace | app.model | field | row pk``,
  so a ciphertext copied to another row, field or workspace fails to decrypt.
  The row pk must be known before saving: tenant models use client-generated UUIDs.
* Values are decrypted lazily, on first attribute access, through a descriptor:
  loading 10,000 rows to count them decrypts nothing.
* ``blind_index="email_bidx"`` names a sibling CharField that receives the keyed
  hash of the normalised value whenever the value is set.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from functools import cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.core.exceptions import FieldError
from django.db import models

from kernel.crypto import keyring
from kernel.crypto.blind_index import blind_index
from kernel.crypto.keys import NONCE_BYTES
from kernel.models import stable_label

PREFIX = "enc:v1:"

# Lookups that can only ever compare with a ciphertext or NULL (plaintext is refused
# by get_prep_value). Pattern lookups (iexact, icontains, startswith…) do not pass
# their value through get_prep_value, so they would send plaintext to SQL.
SAFE_LOOKUPS = frozenset({"exact", "in", "isnull"})


class DecryptionError(Exception):
    """A stored value could not be decrypted (moved, tampered with, or shredded)."""


class Ciphertext(str):
    """A value as it came from the database, not yet decrypted."""


def aad_for(instance: models.Model, field_name: str) -> bytes:
    return f"{instance.workspace_id}|{stable_label(instance)}|{field_name}|{instance.pk}".encode()  # type: ignore[attr-defined]


def encrypt_value(plaintext: str, *, key_id: str, key: bytes, aad: bytes, aead: AESGCM | None = None) -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = (aead or keyring.aead_for(key)).encrypt(nonce, plaintext.encode(), aad)
    return f"{PREFIX}{key_id}:{base64.b64encode(nonce + sealed).decode()}"


def seal_new_row(
    model: type[models.Model], workspace_id: int, pk: object, key_id: str, key: bytes, values: Mapping[str, str]
) -> dict[str, str | None]:
    """{attname: stored value} of every encrypted field of a new ``model`` row (and
    of their blind index siblings), exactly as ``save()`` would store them, for code
    that writes rows without model instances (a placement import's millions).
    ``values``: plaintext by field name; a missing or empty one is stored as NULL."""
    aead = AESGCM(key)  # one row, one subject: not worth the shared cache
    label = stable_label(model)
    out: dict[str, str | None] = {}
    for f in _encrypted_fields(model):
        value = values.get(f.name)
        if not value:
            out[f.attname] = None
            if f.blind_index:
                out[f.blind_index] = ""
            continue
        aad = f"{workspace_id}|{label}|{f.name}|{pk}".encode()
        out[f.attname] = Ciphertext(encrypt_value(value, key_id=key_id, key=key, aad=aad, aead=aead))
        if f.blind_index:
            scope = f.blind_index_scope or f"{label}.{f.name}"
            out[f.blind_index] = blind_index(workspace_id, scope, value, f.normaliser)
    return out


def sealed_columns(model: type[models.Model]) -> tuple[str, ...]:
    """The attnames ``seal_new_row`` fills, in a fixed order."""
    return tuple(c for f in _encrypted_fields(model) for c in (f.attname, *((f.blind_index,) if f.blind_index else ())))


@cache
def _encrypted_fields(model: type[models.Model]) -> tuple[EncryptedField, ...]:
    return tuple(f for f in model._meta.concrete_fields if isinstance(f, EncryptedField))


def parse_ciphertext(value: str) -> tuple[str, bytes]:
    if not value.startswith(PREFIX):
        raise DecryptionError("not a CollectPro ciphertext")
    key_id, _, payload = value[len(PREFIX) :].partition(":")
    try:
        blob = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecryptionError("ciphertext is damaged (not valid base64)") from exc
    if len(blob) <= NONCE_BYTES:
        raise DecryptionError("ciphertext is damaged (too short)")
    return key_id, blob


def decrypt_value(value: str, *, workspace_id: int, aad: bytes) -> str:
    key_id, blob = parse_ciphertext(value)
    try:
        key = keyring.subject_key_by_id(workspace_id, key_id)
    except keyring.UnknownSubjectKey as exc:
        # A value copied from another workspace names a data key that is not here.
        raise DecryptionError("ciphertext does not belong to this workspace") from exc
    try:
        return keyring.aead_for(key).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad).decode()
    except (InvalidTag, ValueError) as exc:
        raise DecryptionError("ciphertext does not belong to this row, field or workspace") from exc


class _EncryptedDescriptor:
    def __init__(self, field: EncryptedField):
        self.field = field

    def __get__(self, instance: models.Model | None, owner: type) -> Any:
        if instance is None:
            return self
        value = instance.__dict__.get(self.field.attname)
        if isinstance(value, Ciphertext):
            value = decrypt_value(value, workspace_id=instance.workspace_id, aad=aad_for(instance, self.field.name))  # type: ignore[attr-defined]
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        if value is not None and not isinstance(value, Ciphertext):
            value = str(value)
        instance.__dict__[self.field.attname] = value
        if self.field.blind_index and not isinstance(value, Ciphertext) and getattr(instance, "workspace_id", None):
            setattr(instance, self.field.blind_index, self.field.digest(instance, value))


class EncryptedField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted under the subject's data key.

    ``subject``: how to find whose data this is — ``"self"`` (the row is the person)
    or the attname of a foreign key to the person (``"debtor_id"``).
    ``subject_type``: the kind of person (``"debtor"``, ``"user"``, ``"workspace"``).
    """

    # For django-stubs: what may be assigned and what is read back.
    _pyi_private_set_type: str | None  # type: ignore[assignment]
    _pyi_private_get_type: str | None  # type: ignore[assignment]

    def __init__(
        self,
        *args: Any,
        subject: str = "self",
        subject_type: str = "debtor",
        blind_index: str | None = None,
        blind_index_scope: str | None = None,
        normaliser: str = "text",
        **kwargs: Any,
    ):
        self.subject = subject
        self.subject_type = subject_type
        self.blind_index = blind_index
        self.blind_index_scope = blind_index_scope
        self.normaliser = normaliser
        kwargs.setdefault("blank", True)
        kwargs.setdefault("null", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.update(subject=self.subject, subject_type=self.subject_type, normaliser=self.normaliser)
        if self.blind_index:
            kwargs["blind_index"] = self.blind_index
        if self.blind_index_scope:
            kwargs["blind_index_scope"] = self.blind_index_scope
        return name, path, args, kwargs

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only)
        setattr(cls, self.attname, _EncryptedDescriptor(self))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return None if value is None else Ciphertext(value)

    def subject_of(self, instance: models.Model) -> tuple[str, str]:
        if self.subject == "self":
            return self.subject_type, str(instance.pk)
        if self.subject == "workspace":
            return "workspace", str(instance.workspace_id)  # type: ignore[attr-defined]
        return self.subject_type, str(getattr(instance, self.subject))

    def digest(self, instance: models.Model, value: str | None) -> str:
        scope = self.blind_index_scope or f"{stable_label(instance)}.{self.name}"
        return blind_index(instance.workspace_id, scope, value, self.normaliser)  # type: ignore[attr-defined]

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = model_instance.__dict__.get(self.attname)
        if value is None or isinstance(value, Ciphertext):
            if value is None and self.blind_index:
                setattr(model_instance, self.blind_index, "")
            return value
        if self.blind_index:
            # Also set here (not only on assignment): Model.__init__ may have reset the
            # sibling to its default after this field was assigned.
            setattr(model_instance, self.blind_index, self.digest(model_instance, value))
        return self.encrypt_for(model_instance, value)

    def encrypt_for(self, instance: models.Model, value: str) -> Ciphertext:
        if instance.pk is None:
            raise ValueError(f"{instance._meta.label}: encrypted fields need the primary key set before saving")
        subject_type, subject_id = self.subject_of(instance)
        key_id, key = keyring.subject_key_for(instance.workspace_id, subject_type, subject_id)  # type: ignore[attr-defined]
        return Ciphertext(encrypt_value(value, key_id=key_id, key=key, aad=aad_for(instance, self.name)))

    def get_prep_value(self, value: Any) -> Any:
        if value is not None and not isinstance(value, Ciphertext) and not str(value).startswith(PREFIX):
            # Plain text must never reach the database through this field.
            raise ValueError(
                "EncryptedField refuses plaintext: assign values on a model instance to store them, "
                "and search with the blind index field (e.g. email_bidx), never the plaintext"
            )
        return value

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name not in SAFE_LOOKUPS:
            raise FieldError(
                f"{self.model._meta.label}.{self.name} is encrypted: '{lookup_name}' would compare plaintext in SQL. "
                f"Search with the blind index{f' ({self.blind_index})' if self.blind_index else ''} instead."
            )
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        raise FieldError(f"{self.model._meta.label}.{self.name} is encrypted: '{lookup_name}' cannot run in SQL.")
