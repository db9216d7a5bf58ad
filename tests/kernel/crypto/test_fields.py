"""Field encryption as an operator sees it: no plaintext anywhere in the database,
values bound to their row/field/workspace, exact search through blind indexes only,
and crypto-shredding that erases one person without touching another."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import FieldError
from django.db import connection

from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, debtor_create
from kernel.crypto import fields as crypto_fields
from kernel.crypto.blind_index import blind_index
from kernel.crypto.fields import DecryptionError, Erased
from kernel.crypto.keyring import reset_key_caches, subject_key_shred
from kernel.tenancy import workspace_context

EMAIL = "Rahul.Verma.7731@Mailbox.Example"
PHONE = "+91 98123 45678"
PHONE_E164 = "+919812345678"
NATIONAL_ID = "QZXPV4821K"


def _create(workspace, *, full_name="Rahul Verma", email=EMAIL, phone=PHONE, national_id=NATIONAL_ID, **extra):
    with workspace_context(workspace):
        return debtor_create(
            workspace=workspace,
            data=DebtorInput(full_name=full_name, email=email, phone=phone, national_id=national_id, **extra),
        )


def _reload(workspace, pk) -> Debtor:
    """A fresh instance with cold key caches, as another process would read it."""
    reset_key_caches()
    with workspace_context(workspace):
        return Debtor.objects.get(pk=pk)


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="ignore") + value.decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _database_text() -> dict[str, str]:
    """Every value of every column of every table, lower-cased, per table."""
    qn = connection.ops.quote_name
    dump: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {qn(table)}")  # noqa: S608  (table names from introspection)
            dump[table] = "\n".join(_as_text(v) for row in cursor.fetchall() for v in row).casefold()
    return dump


def _db_pk(pk) -> Any:
    return Debtor._meta.pk.get_db_prep_value(pk, connection)


def _raw_column(column: str, pk) -> str:
    """Read a debtor column as stored, bypassing the model."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name(column)} FROM debtors_debtor WHERE id = %s", [_db_pk(pk)])  # noqa: S608
        return cursor.fetchone()[0]


def _raw_set(column: str, pk, value: str) -> None:
    """Overwrite a debtor column behind the model's back (an attacker with SQL access)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE debtors_debtor SET {connection.ops.quote_name(column)} = %s WHERE id = %s",  # noqa: S608
            [value, _db_pk(pk)],
        )
        assert cursor.rowcount == 1


def test_no_plaintext_anywhere_in_the_database_but_the_model_reads_it_back(world):
    debtor = _create(world.a)
    needles = {
        EMAIL.casefold(),  # as typed and as normalised (the service lower-cases)
        PHONE.casefold(),
        PHONE_E164,
        PHONE_E164.removeprefix("+91"),
        NATIONAL_ID.casefold(),
        "rahul verma",
    }
    dump = _database_text()
    assert dump.get("debtors_debtor"), "the scan must see the debtor row"
    leaks = {(table, needle) for table, text in dump.items() for needle in needles if needle in text}
    assert not leaks, f"plaintext personal data found in the database: {sorted(leaks)}"

    stored = _raw_column("email", debtor.pk)
    assert stored.startswith(crypto_fields.PREFIX)

    again = _reload(world.a, debtor.pk)
    assert (again.email, again.phone, again.national_id) == (EMAIL.lower(), PHONE_E164, NATIONAL_ID)
    assert again.full_name == "Rahul Verma"


def test_exact_lookup_uses_the_blind_index_without_decrypting(world, monkeypatch):
    debtor = _create(world.a)
    _create(world.a, full_name="Someone Else", email="other@example.com", phone="+91 99000 11111", national_id="X1")

    def refuse(*args, **kwargs):
        raise AssertionError("a lookup must not decrypt anything")

    monkeypatch.setattr(crypto_fields, "decrypt_value", refuse)
    ws = world.a.pk
    with workspace_context(world.a):
        by_email = Debtor.objects.filter(
            email_bidx=blind_index(ws, "email", "  RAHUL.verma.7731@mailbox.example ", "email")
        )
        assert [d.pk for d in by_email] == [debtor.pk]
        by_phone = Debtor.objects.filter(phone_bidx=blind_index(ws, "phone", "+919812345678", "phone"))
        assert [d.pk for d in by_phone] == [debtor.pk]
        by_id = Debtor.objects.filter(national_id_bidx=blind_index(ws, "national_id", "qzxpv-4821-k", "identifier"))
        assert [d.pk for d in by_id] == [debtor.pk]
        assert not Debtor.objects.filter(email_bidx=blind_index(ws, "email", "nobody@example.com", "email")).exists()


def test_blind_index_is_normalisation_insensitive():
    ws = 1
    assert blind_index(ws, "email", "Rahul@Example.com", "email") == blind_index(
        ws, "email", "  rahul@example.COM  ", "email"
    )
    assert blind_index(ws, "phone", "+91 98123 45678", "phone") == blind_index(ws, "phone", "+919812345678", "phone")
    assert blind_index(ws, "phone", "+91 98123 45678", "phone") != blind_index(ws, "phone", "+91 98123 45679", "phone")
    # Scopes are separate: the same text as an email and as a phone digest differently.
    assert blind_index(ws, "email", "x@example.com", "email") != blind_index(ws, "phone", "x@example.com", "email")


def test_the_same_value_in_two_workspaces_gives_different_blind_indexes(world):
    in_a = _create(world.a)
    in_b = _create(world.b)
    assert in_a.email_bidx and in_b.email_bidx
    assert in_a.email_bidx != in_b.email_bidx
    assert in_a.phone_bidx != in_b.phone_bidx
    assert blind_index(world.a.pk, "email", EMAIL, "email") != blind_index(world.b.pk, "email", EMAIL, "email")
    # A's digest finds nothing in B.
    with workspace_context(world.b):
        assert not Debtor.objects.filter(email_bidx=in_a.email_bidx).exists()


@pytest.mark.parametrize(
    "lookup", ["email", "email__iexact", "email__icontains", "email__startswith", "email__in", "email__gt"]
)
def test_filtering_an_encrypted_field_by_plaintext_is_refused(world, lookup):
    _create(world.a)
    value = [EMAIL] if lookup.endswith("__in") else "rahul"
    with workspace_context(world.a), pytest.raises((ValueError, FieldError)):
        list(Debtor.objects.filter(**{lookup: value}))


def test_ciphertext_copied_to_another_row_of_the_same_workspace_does_not_decrypt(world):
    first = _create(world.a)
    second = _create(
        world.a, full_name="Meera Iyer", email="meera@example.com", phone="+91 99000 11111", national_id="M1"
    )
    _raw_set("email", second.pk, _raw_column("email", first.pk))
    victim = _reload(world.a, second.pk)
    with pytest.raises(DecryptionError):
        _ = victim.email
    # With warm caches too (the key is in memory; only the binding stops it).
    with workspace_context(world.a):
        warm = Debtor.objects.get(pk=second.pk)
        _ = Debtor.objects.get(pk=first.pk).email
        with pytest.raises(DecryptionError):
            _ = warm.email


def test_ciphertext_copied_to_another_field_of_the_same_row_does_not_decrypt(world):
    debtor = _create(world.a)
    _raw_set("national_id", debtor.pk, _raw_column("email", debtor.pk))
    again = _reload(world.a, debtor.pk)
    assert again.email == EMAIL.lower()
    with pytest.raises(DecryptionError):
        _ = again.national_id


@pytest.mark.parametrize("warm_cache", [False, True])
def test_ciphertext_copied_to_a_row_of_another_workspace_does_not_decrypt(world, warm_cache):
    in_a = _create(world.a)
    in_b = _create(world.b, full_name="John Smith", email="john@example.com", phone="+1 415 555 0100", national_id="J1")
    _raw_set("email", in_b.pk, _raw_column("email", in_a.pk))
    victim = _reload(world.b, in_b.pk)
    if warm_cache:
        with workspace_context(world.a):
            assert Debtor.objects.get(pk=in_a.pk).email == EMAIL.lower()  # A's data key now cached
    with workspace_context(world.b), pytest.raises(DecryptionError):
        _ = victim.email


def test_tampered_ciphertext_does_not_decrypt(world):
    debtor = _create(world.a)
    stored = _raw_column("email", debtor.pk)
    _raw_set("email", debtor.pk, stored[:-6] + ("AAAA==" if not stored.endswith("AAAA==") else "BBBB=="))
    _raw_set("phone", debtor.pk, stored[:-3] + "!!!")
    again = _reload(world.a, debtor.pk)
    with pytest.raises(DecryptionError):
        _ = again.email
    with pytest.raises(DecryptionError):
        _ = again.phone


def test_crypto_shredding_erases_one_debtor_and_spares_another(world):
    shredded = _create(world.a)
    spared = _create(
        world.a, full_name="Meera Iyer", email="meera@example.com", phone="+91 99000 11111", national_id="M1"
    )
    with workspace_context(world.a):
        assert subject_key_shred(world.a.pk, "debtor", str(shredded.pk)) is True
    gone = _reload(world.a, shredded.pk)
    with workspace_context(world.a):
        for name in ("full_name", "email", "phone", "national_id"):
            # A shredded value reads as a placeholder (never the data), and as missing.
            value = getattr(gone, name)
            assert value == "[erased]" and isinstance(value, Erased) and not value
    kept = _reload(world.a, spared.pk)
    with workspace_context(world.a):
        assert (kept.full_name, kept.email, kept.phone) == ("Meera Iyer", "meera@example.com", "+919900011111")
        # Shredding twice reports that there was nothing left to shred.
        assert subject_key_shred(world.a.pk, "debtor", str(shredded.pk)) is False
