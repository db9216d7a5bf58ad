"""Placement rows without the database: validation, normalisation and sealing.

Everything here is a pure function of the file's rows and a little context loaded
once per job, so it can run in worker processes (``RowPool``) while the importing
process plans and writes earlier chunks. On a big file this is most of the work:
checking each value, normalising phones, and encrypting a new debtor's details under
a fresh data key (six AES-GCM seals, four blind indexes, one wrapped key).

Sealing is speculative: a worker cannot know whether a row's debtor already exists
(that takes the database), so it seals the details of every debtor the chunk would
create, grouped as the planner groups them (by ``external_ref``; a row without one
is a debtor of its own). The planner uses a sealed debtor only when it creates that
debtor from exactly the same details; otherwise the details are sealed again in the
importing process (``imports.ChunkWriter``), so the outcome never depends on how the
work was split.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import re
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError

from accounts.models import Client, Workspace
from debtors.models import Debtor
from debtors.services.debtors import DebtorInput, clean_debtor_input
from debtors.services.money import MoneyError, exponent, to_minor
from kernel.crypto.fields import Ciphertext, EncryptedField, seal_new_row, sealed_columns
from kernel.crypto.keyring import SubjectKeyMaker
from kernel.models import uuid7
from placements import import_worker

logger = logging.getLogger(__name__)

MAX_AMOUNT_MINOR = 10**15
MAX_REF = 64
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Stored by a new debtor's row, after its plain columns (see imports.ChunkWriter).
SEALED_COLUMNS = sealed_columns(Debtor)
_CIPHERTEXT_COLUMNS = frozenset(f.attname for f in Debtor._meta.concrete_fields if isinstance(f, EncryptedField))

Record = tuple[int, list[str]]  # (line number, the row's values as read)


@dataclass
class ImportContext:
    """What row validation needs, loaded once per job (picklable: workers get a copy)."""

    workspace: Workspace
    positions: dict[str, int]
    width: int
    clients: dict[str, Any]  # reference → client id
    client: Client | None
    today: date
    default_timezone: str


@dataclass
class PlacementRow:
    """A row that passed validation, normalised."""

    line: int
    client_id: Any
    reference: str
    debtor: DebtorInput
    amount_minor: int
    currency: str
    due_date: date | None

    @property
    def key(self) -> str:
        return f"{self.client_id}|{self.reference}"

    def group(self) -> str:
        """The debtor this row names within a file: by external_ref, else its own."""
        return f"ref:{self.debtor.external_ref}" if self.debtor.external_ref else f"line:{self.line}"


def _parse_date(value: str, column: str, errors: list[str]) -> date | None:
    if not value:
        return None
    if ISO_DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(f"{column}: {value[:40]!r} is not a date in YYYY-MM-DD form")
    return None


def validate_row(ctx: ImportContext, line: int, values: list[str]) -> tuple[PlacementRow | None, str | None, list[str]]:
    """Check one row without touching the database: (row or None, its
    client|reference key when known, reasons it is rejected)."""
    if len(values) < ctx.width or any(v.strip() for v in values[ctx.width :]):
        return None, None, [f"the row has {len(values)} values; the header has {ctx.width} columns"]
    if any("\ufffd" in v for v in values):
        return None, None, ["the row is not valid UTF-8 text (save the file as UTF-8)"]

    def v(column: str) -> str:
        position = ctx.positions.get(column)
        return values[position].strip() if position is not None else ""

    errors: list[str] = []
    client_id = None
    client_ref = v("client_ref")
    if ctx.client is not None:
        if client_ref and client_ref != ctx.client.reference:
            errors.append(f"client_ref {client_ref[:64]!r} is not this import's client ({ctx.client.reference})")
        else:
            client_id = ctx.client.pk
    elif not client_ref:
        errors.append("client_ref is required")
    else:
        client_id = ctx.clients.get(client_ref)
        if client_id is None:
            errors.append(f"unknown client {client_ref[:64]!r}")
    reference = v("debt_reference")
    if not reference:
        errors.append("debt_reference is required")
    elif len(reference) > MAX_REF:
        errors.append(f"debt_reference is longer than {MAX_REF} characters")
    key = f"{client_id}|{reference}" if client_id is not None and reference and len(reference) <= MAX_REF else None

    currency = (v("currency") or ctx.workspace.currency).upper()
    amount_minor = 0
    try:
        exponent(currency)
    except MoneyError as exc:
        errors.append(f"currency: {exc}")
    else:
        raw = v("amount")
        if not raw:
            errors.append("amount is required")
        else:
            try:
                amount_minor = to_minor(raw, currency)
            except MoneyError as exc:
                errors.append(f"amount: {exc}")
            else:
                if amount_minor <= 0:
                    errors.append("amount must be more than zero")
                elif amount_minor > MAX_AMOUNT_MINOR:
                    errors.append("amount is too large")
    due_date = _parse_date(v("due_date"), "due_date", errors)
    dob = _parse_date(v("date_of_birth"), "date_of_birth", errors)
    external_ref = v("external_ref")
    if len(external_ref) > MAX_REF:
        errors.append(f"external_ref is longer than {MAX_REF} characters")
    data = DebtorInput(
        full_name=v("full_name"),
        email=v("email"),
        phone=v("phone"),
        address=v("address"),
        date_of_birth=dob,
        national_id=v("national_id"),
        external_ref=external_ref,
    )
    try:
        data = clean_debtor_input(ctx.workspace, data, today=ctx.today)
    except ValidationError as exc:
        errors.extend(f"{name}: {' '.join(messages)}" for name, messages in exc.message_dict.items())
    if errors:
        return None, key, errors
    row = PlacementRow(line, client_id, reference, data, amount_minor, currency, due_date)
    return row, key, []


def row_values(data: DebtorInput) -> dict[str, str]:
    """A debtor's details as the import stores them: non-empty text by field name."""
    values = {
        "full_name": data.full_name,
        "email": data.email,
        "phone": data.phone,
        "address": data.address,
        "date_of_birth": data.date_of_birth.isoformat() if data.date_of_birth else "",
        "national_id": data.national_id,
    }
    return {k: v for k, v in values.items() if v}


# --- Sealing --------------------------------------------------------------------------


@dataclass
class SealedDebtor:
    """A new debtor's details, encrypted under a new data key (not yet stored)."""

    id: uuid.UUID | str
    values: dict[str, str]
    key_id: uuid.UUID | str
    workspace_key_id: str
    wrapped_key: bytes
    sealed: tuple[str | None, ...]  # in SEALED_COLUMNS order


def seal_debtor(maker: SubjectKeyMaker, debtor_id: uuid.UUID | str, values: dict[str, str]) -> SealedDebtor:
    key_id = uuid7()
    material, wrapped = maker.make("debtor", str(debtor_id), key_id)
    sealed = seal_new_row(Debtor, maker.workspace_id, debtor_id, str(key_id), material, values)
    return SealedDebtor(
        debtor_id, dict(values), key_id, maker.workspace_key_id, wrapped, tuple(sealed[c] for c in SEALED_COLUMNS)
    )


# --- Preparing a chunk ------------------------------------------------------------------


class PreparedChunk:
    """A chunk's rows after validation, and the sealed details of the debtors it
    would create (by ``PlacementRow.group``).

    Held in a compact form — tuples of strings, numbers and bytes — because it
    crosses from a worker process to the importing one: pickling dataclasses, dates
    and UUIDs cost as much as validating the rows did. ``results`` and ``sealed``
    rebuild the objects the planner uses."""

    __slots__ = ("_checked", "_sealed")

    def __init__(self, checked: list[tuple[Any, ...]], sealed: dict[str, tuple[Any, ...]]):
        self._checked = checked
        self._sealed = sealed

    @classmethod
    def pack(
        cls, checked: list[tuple[PlacementRow | None, str | None, list[str]]], sealed: dict[str, SealedDebtor]
    ) -> PreparedChunk:
        return cls(
            [(key, errors) if row is None else (key, _pack_row(row)) for row, key, errors in checked],
            {
                # Ciphertexts as plain str: str subclasses pickle slowly.
                group: (
                    str(s.id),
                    s.values,
                    str(s.key_id),
                    s.workspace_key_id,
                    s.wrapped_key,
                    tuple(map(_plain, s.sealed)),
                )
                for group, s in sealed.items()
            },
        )

    def results(self) -> list[tuple[PlacementRow | None, str | None, list[str]]]:
        """Per record: (row or None, client|reference key when known, reasons)."""
        return [
            (None, key, packed) if isinstance(packed, list) else (_unpack_row(packed), key, [])
            for key, packed in self._checked
        ]

    def sealed(self, group: str) -> SealedDebtor | None:
        packed = self._sealed.get(group)
        if packed is None:
            return None
        debtor_id, values, key_id, workspace_key_id, wrapped, sealed = packed
        marked = tuple(
            Ciphertext(v) if v is not None and c in _CIPHERTEXT_COLUMNS else v
            for c, v in zip(SEALED_COLUMNS, sealed, strict=True)
        )
        return SealedDebtor(debtor_id, values, key_id, workspace_key_id, wrapped, marked)


def _plain(value: str | None) -> str | None:
    return None if value is None else str(value)


def _pack_row(row: PlacementRow) -> tuple[Any, ...]:
    d = row.debtor
    return (
        row.line,
        str(row.client_id),
        row.reference,
        row.amount_minor,
        row.currency,
        row.due_date.toordinal() if row.due_date else 0,
        d.full_name,
        d.email,
        d.phone,
        d.address,
        d.date_of_birth.toordinal() if d.date_of_birth else 0,
        d.national_id,
        d.external_ref,
    )


def _unpack_row(t: tuple[Any, ...]) -> PlacementRow:
    line, client_id, reference, amount, currency, due, name, email, phone, address, born, national_id, ext = t
    debtor = DebtorInput(
        full_name=name,
        email=email,
        phone=phone,
        address=address,
        date_of_birth=date.fromordinal(born) if born else None,
        national_id=national_id,
        external_ref=ext,
    )
    return PlacementRow(line, client_id, reference, debtor, amount, currency, date.fromordinal(due) if due else None)


def prepare_chunk(ctx: ImportContext, maker: SubjectKeyMaker | None, records: list[Record]) -> PreparedChunk:
    """Validate a chunk's rows and (given a key maker) seal the debtors they name."""
    checked = [validate_row(ctx, line, values) for line, values in records]
    if maker is None:
        return PreparedChunk.pack(checked, {})
    groups: dict[str, dict[str, str]] = {}
    for row, _, _ in checked:
        if row is not None:
            groups.setdefault(row.group(), {}).update(row_values(row.debtor))  # later rows fill in, as planned
    sealed = {group: seal_debtor(maker, uuid7(), values) for group, values in groups.items()}
    return PreparedChunk.pack(checked, sealed)


# --- Worker processes ---------------------------------------------------------------------


class RowPool:
    """Prepares chunks in worker processes, in order, a few chunks ahead of the
    caller, so memory stays bounded: at most ``ahead`` chunks are in flight.

    Workers are started with ``spawn`` (a fresh interpreter that sets Django up from
    ``DJANGO_SETTINGS_MODULE``): forking a process that holds database connections
    and threads is not safe. They never touch the database. With ``workers=0`` the
    chunks are prepared in this process, by the same function."""

    def __init__(self, ctx: ImportContext, maker: SubjectKeyMaker | None, workers: int):
        self.ctx, self.maker = ctx, maker
        self.executor: ProcessPoolExecutor | None = None
        if workers > 0 and not multiprocessing.current_process().daemon:  # daemons may not have children
            self.executor = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=import_worker.init,
                initargs=(pickle.dumps((ctx, maker)),),
            )
        self.ahead = workers + 1

    def prepared(self, chunks: Iterator[list[Record]], *, seal: bool) -> Iterator[tuple[list[Record], PreparedChunk]]:
        """(chunk, prepared chunk) in file order. If reading the file fails, the
        chunks read before the failure are still yielded, then the error is raised."""
        maker = self.maker if seal else None
        if self.executor is None:
            for chunk in chunks:
                yield chunk, prepare_chunk(self.ctx, maker, chunk)
            return
        pending: deque[tuple[list[Record], Future[PreparedChunk]]] = deque()
        chunks = iter(chunks)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            except Exception:
                while pending:  # what was read before the error still counts
                    yield self._result(*pending.popleft(), maker)
                raise
            if self.executor is None:  # the pool broke: go on in this process
                pending.append((chunk, None))
            else:
                pending.append((chunk, self.executor.submit(import_worker.prepare, chunk, seal)))
            if len(pending) > self.ahead:
                yield self._result(*pending.popleft(), maker)
        while pending:
            yield self._result(*pending.popleft(), maker)

    def _result(
        self, chunk: list[Record], future: Future[PreparedChunk] | None, maker: SubjectKeyMaker | None
    ) -> tuple[list[Record], PreparedChunk]:
        if future is not None:
            try:
                return chunk, future.result()
            except BrokenProcessPool as exc:
                # A worker died (killed, out of memory, or it could not start, e.g. a
                # __main__ module without a main guard). Preparing is pure: redo here.
                logger.warning("placement import: worker processes failed (%s); going on in-process", exc)
                self.close()
        return chunk, prepare_chunk(self.ctx, maker, chunk)

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None


def default_workers(total_rows: int) -> int:
    """Worker processes for a file of ``total_rows``: none for small files (starting a
    worker costs about a second), else ``PLACEMENT_IMPORT_WORKERS`` (default: one per CPU)."""
    from django.conf import settings

    if total_rows < settings.PLACEMENT_IMPORT_PARALLEL_MIN_ROWS:
        return 0
    configured = settings.PLACEMENT_IMPORT_WORKERS
    return max(0, int(configured if configured is not None else (os.cpu_count() or 1)))


def on_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"
