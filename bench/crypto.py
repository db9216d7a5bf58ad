"""Field encryption: encrypt + blind-index throughput for a typical debtor row, per core.

Issue requirement: "encrypt + blind-index throughput per core for a typical debtor row,
beside a baseline of plain AES-GCM calls measured in the same run".

A typical debtor row is the six encrypted fields of ``debtors.Debtor`` (full_name,
email, phone, address, date_of_birth, national_id), four of which also get a blind
index (full_name, email, phone, national_id).

* Baseline: ``AESGCM.encrypt`` of the same six plaintexts (UTF-8 bytes) with one fixed
  key and a fresh 12-byte ``os.urandom`` nonce each, no associated data: the least
  any correct AES-GCM encryption of the row can cost.
* CollectPro: ``EncryptedField.pre_save(instance, add=True)`` for the six fields of an
  unsaved ``Debtor`` whose pk (a client-generated UUID) and workspace are set: exactly
  what ``save()`` does before the INSERT. That is: the subject-key lookup (cached after
  the first call), the associated data ``workspace|app.model|field|pk``, AES-GCM with a
  fresh nonce, base64 and the ``enc:v1:<key id>:`` prefix, plus the four blind indexes
  (normalisation, incl. ``phonenumbers`` parsing to E.164, then HMAC-SHA256).
  Two more rows split that cost into the blind indexes alone and the encryption alone,
  and one adds building the instance (``Debtor(**fields)``), as a create does.
* Decryption: reading all six attributes of a row loaded from the database (values are
  decrypted lazily, on first access) against ``AESGCM.decrypt`` of six ciphertexts.

Everything runs in one thread, so the rates are per core.
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench import Case, Row, Settings, bench_workspace, compare, rows_from

# A typical row: an Indian debtor (the default jurisdiction), realistic lengths.
TYPICAL_ROW: dict[str, str] = {
    "full_name": "Priya Venkataraman",
    "email": "priya.venkataraman@example.in",
    "phone": "+91 98123 45678",
    "address": "Flat 4B, Lakeview Apartments, 12 MG Road, Bengaluru 560001, Karnataka",
    "date_of_birth": "1986-03-14",
    "national_id": "ABCDE1234F",
}
NONCE_BYTES = 12


def _encrypted_fields(model: Any) -> list[Any]:
    from kernel.crypto.fields import EncryptedField

    fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedField)]
    names = [f.name for f in fields]
    if sorted(names) != sorted(TYPICAL_ROW):
        raise RuntimeError(f"Debtor's encrypted fields changed ({names}); update bench/crypto.py's TYPICAL_ROW")
    return fields


def run(quick: bool) -> list[Row]:
    from debtors.models import Debtor
    from kernel.tenancy import workspace_context

    settings = Settings.for_run(quick)
    workspace = bench_workspace("crypto")
    fields = _encrypted_fields(Debtor)
    indexed = [f for f in fields if f.blind_index]
    plaintexts = [TYPICAL_ROW[f.name].encode() for f in fields]

    key = os.urandom(32)
    aead = AESGCM(key)

    with workspace_context(workspace):
        instance = Debtor(workspace=workspace, **TYPICAL_ROW)
        pk = instance.pk
        if pk is None:
            raise RuntimeError("Debtor has no client-generated pk")
        for f in fields:  # first call: creates and caches the subject key (not timed)
            f.pre_save(instance, True)

        def baseline_encrypt(n: int) -> None:
            encrypt, urandom = aead.encrypt, os.urandom
            for _ in range(n):
                for pt in plaintexts:
                    encrypt(urandom(NONCE_BYTES), pt, None)

        def collectpro_pre_save(n: int) -> None:
            for _ in range(n):
                for f in fields:
                    f.pre_save(instance, True)

        def blind_indexes_only(n: int) -> None:
            values = [(f, TYPICAL_ROW[f.name]) for f in indexed]
            for _ in range(n):
                for f, value in values:
                    f.digest(instance, value)

        def encryption_only(n: int) -> None:
            values = [(f, TYPICAL_ROW[f.name]) for f in fields]
            for _ in range(n):
                for f, value in values:
                    f.encrypt_for(instance, value)

        def build_and_pre_save(n: int) -> None:
            # Same pk each time, so the subject key stays cached: this adds only the
            # cost of Model.__init__ (which already computes the blind indexes once
            # on assignment) to the pre_save path.
            for _ in range(n):
                row = Debtor(id=pk, workspace=workspace, **TYPICAL_ROW)
                for f in fields:
                    f.pre_save(row, True)

        n_fields, n_indexed = len(fields), len(indexed)
        encrypt_cases = [
            Case(
                f"baseline: AESGCM.encrypt ×{n_fields}", baseline_encrypt, notes="fixed key, os.urandom nonce, no AAD"
            ),
            Case(
                f"CollectPro: pre_save ×{n_fields} (encrypt + {n_indexed} blind indexes)",
                collectpro_pre_save,
                notes="what save() does before the INSERT",
            ),
            Case(f"part: {n_indexed} blind indexes only", blind_indexes_only, notes="normalise + HMAC-SHA256"),
            Case(f"part: encrypt_for ×{n_fields} only", encryption_only, notes="key lookup, AAD, AES-GCM, base64"),
            Case("Debtor(**row) + pre_save", build_and_pre_save, notes="a create minus the INSERT"),
        ]
        encrypt_rows = rows_from(compare(encrypt_cases, settings))

        # A row as it comes back from the database: ciphertexts, decrypted on access.
        saved = Debtor(workspace=workspace, **TYPICAL_ROW)
        saved.save(force_insert=True)
        loaded = Debtor.objects.get(pk=saved.pk)
        stored = {f.attname: loaded.__dict__[f.attname] for f in fields}
        attnames = list(stored)
        for name in attnames:
            if getattr(loaded, name) != TYPICAL_ROW[name]:
                raise RuntimeError(f"round trip of {name} failed")
        sealed = []
        for pt in plaintexts:
            nonce = os.urandom(NONCE_BYTES)
            sealed.append((nonce, aead.encrypt(nonce, pt, None)))

        def baseline_decrypt(n: int) -> None:
            decrypt = aead.decrypt
            for _ in range(n):
                for nonce, ct in sealed:
                    decrypt(nonce, ct, None)

        def collectpro_read(n: int) -> None:
            state = loaded.__dict__
            for _ in range(n):
                state.update(stored)  # back to ciphertext, as freshly loaded
                for name in attnames:
                    getattr(loaded, name)

        decrypt_cases = [
            Case(f"baseline: AESGCM.decrypt ×{n_fields}", baseline_decrypt, notes="fixed key, no AAD"),
            Case(
                f"CollectPro: read {n_fields} encrypted attributes of a loaded row",
                collectpro_read,
                notes="lazy decrypt: parse, base64, key lookup, AAD, AES-GCM",
            ),
        ]
        decrypt_rows = rows_from(compare(decrypt_cases, settings))

    return encrypt_rows + decrypt_rows
