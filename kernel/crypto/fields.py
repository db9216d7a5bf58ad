"""``EncryptedField``: a model field stored as AES-GCM ciphertext.

* Stored form: ``enc:v1:<subject key id>:<base64(nonce || ciphertext+tag)>``.
* Associated data binds each value to ``workspace | app.model | field | row pk``,
  so a ciphertext copied to another row, field or workspace fails to decrypt.
  The row pk must be known before saving: tenant models use client-generated UUIDs.
* Values are decrypted lazily, on first attribute access, through a descriptor:
  loading 10,000 rows to count them decrypts nothing.
* ``blind_index="email_bidx"`` names a sibling CharField that receives the keyed
  hash of the normalised value whenever the value is set.
* Once the person's data key is shredded, a value reads as ``ERASED``: the text
  ``"[erased]"``, false in a boolean context (so ``if debtor.email`` treats it as
  missing and nothing is sent to it). The stored ciphertext stays on the instance,
  so saving the row writes it back unchanged instead of failing.
* ``field_erase`` applies what erasure decided for one stored field (delete,
  replace, re-seal under another key) with its blind index; the app that owns the
  model saves the row.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping
from dataclasses import dataclass
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


class Erased(str):
    """What a value reads as once its data key was shredded: ``"[erased]"`` on a page,
    but false when code asks whether there is a value (no email to write to)."""

    def __new__(cls) -> Erased:
        return super().__new__(cls, "[erased]")

    def __bool__(self) -> bool:
        return False


ERASED = Erased()
_ERASED_ON = "_collectpro_erased_fields"  # instance.__dict__ key: attnames known to be shredded


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
        attname = self.field.attname
        value = instance.__dict__.get(attname)
        if isinstance(value, Ciphertext):
            erased_on: dict[str, str] | None = instance.__dict__.get(_ERASED_ON)
            if erased_on is not None and erased_on.get(attname) is value:
                return ERASED
            try:
                value = decrypt_value(value, workspace_id=instance.workspace_id, aad=aad_for(instance, self.field.name))  # type: ignore[attr-defined]
            except keyring.SubjectKeyShredded:
                # Keep the ciphertext (save() writes it back as it is); remember, so
                # the next read asks no database.
                instance.__dict__.setdefault(_ERASED_ON, {})[attname] = instance.__dict__[attname]
                return ERASED
            instance.__dict__[attname] = value
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


# --- Erasure ------------------------------------------------------------------------------


def stored_key_id(value: object) -> str | None:
    """The id of the data key a stored value is sealed under (None: not a ciphertext)."""
    if not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    return value[len(PREFIX) :].partition(":")[0]


def seal_under(instance: models.Model, name: str, plaintext: str, *, subject_type: str, subject_id: str) -> None:
    """Store ``plaintext`` in encrypted field ``name`` under another subject's key (the
    workspace's, a retention key) instead of the field's own subject's. The value is
    bound to its row and field as usual; reading it works the same way."""
    field = instance._meta.get_field(name)
    assert isinstance(field, EncryptedField)
    key_id, key = keyring.subject_key_for(instance.workspace_id, subject_type, str(subject_id))  # type: ignore[attr-defined]
    instance.__dict__[field.attname] = Ciphertext(
        encrypt_value(plaintext, key_id=key_id, key=key, aad=aad_for(instance, name))
    )


@dataclass(frozen=True)
class FieldErasure:
    """What erasure does to one stored field of one row.

    - ``delete``: the value becomes empty (NULL, or the field's default) and its
      blind index is wiped;
    - ``replace``: the value becomes ``text`` (a pseudonym, a text with the person's
      details cut out), sealed under ``subject``'s key for an encrypted field; its
      blind index is wiped (a pseudonym is nobody's name to search for);
    - ``reseal``: the value is kept as it is, moved under ``subject``'s key (kept
      data, before its person's key is shredded); its blind index stays.
    """

    action: str  # "delete" | "replace" | "reseal"
    text: str = ""
    subject: tuple[str, str] | None = None  # (subject type, subject id)

    def __post_init__(self) -> None:
        if self.action not in ("delete", "replace", "reseal"):
            raise ValueError(f"unknown erasure action {self.action!r}")
        if self.action == "reseal" and self.subject is None:
            raise ValueError("reseal needs the subject whose key keeps the value")


def _empty(field: models.Field) -> Any:  # type: ignore[type-arg]
    if field.null:
        return None
    return field.get_default()


def field_erase(instance: models.Model, name: str, erasure: FieldErasure) -> list[str]:
    """Apply ``erasure`` to field ``name`` of ``instance`` (not saved) and return the
    attnames that changed, blind index included: nothing when the field is already
    as erasure wants it, so applying the same erasure twice writes nothing."""
    field = instance._meta.get_field(name)
    assert isinstance(field, models.Field)
    attname = field.attname
    before = instance.__dict__.get(attname)
    changed: list[str] = []
    index = field.blind_index if isinstance(field, EncryptedField) else None
    if erasure.action == "delete":
        if before != _empty(field):
            instance.__dict__[attname] = _empty(field)
            changed.append(attname)
    elif erasure.action == "replace":
        if isinstance(field, EncryptedField):
            current = getattr(instance, name)
            subject = erasure.subject or field.subject_of(instance)
            if (
                isinstance(current, Erased)
                or current != erasure.text
                or stored_key_id(before) != _key_id(instance, subject)
            ):
                seal_under(instance, name, erasure.text, subject_type=subject[0], subject_id=subject[1])
                changed.append(attname)
        elif before != erasure.text:
            instance.__dict__[attname] = erasure.text
            changed.append(attname)
    elif isinstance(field, EncryptedField) and isinstance(before, str):
        assert erasure.subject is not None
        current = getattr(instance, name)
        if not isinstance(current, Erased) and stored_key_id(before) != _key_id(instance, erasure.subject):
            seal_under(instance, name, current, subject_type=erasure.subject[0], subject_id=erasure.subject[1])
            changed.append(attname)
        index = None  # kept: so is its index
    else:
        index = None  # a plain value is kept where it is
    if index and erasure.action != "reseal" and getattr(instance, index) != "":
        setattr(instance, index, "")
        changed.append(index)
    return changed


def _key_id(instance: models.Model, subject: tuple[str, str]) -> str:
    return keyring.subject_key_for(instance.workspace_id, subject[0], str(subject[1]))[0]  # type: ignore[attr-defined]
