"""Placement imports: a creditor's CSV of debtors and debts, upserted in chunks.

Columns (names are matched case-insensitively; ``header_map`` = {our column: their
column} lets other names through): ``external_ref, full_name, email, phone,
address, date_of_birth, national_id, debt_reference, amount, currency, due_date,
client_ref``. ``full_name``, ``debt_reference`` and ``amount`` are required;
``client_ref`` too unless the import names a client; ``currency`` defaults to the
workspace's. Dates are ISO ``YYYY-MM-DD`` only (``01/02/2025`` means different days
in different jurisdictions). Amounts are decimal strings in major units.

The rules this module enforces:

* The file is streamed (``csv.reader`` over the stored upload) and processed in
  chunks; each chunk is one transaction, so a row is never half-written, and the
  job's counts are updated with it (that is the progress the UI polls). Memory
  stays flat: rows already seen are remembered in a temporary database table, and
  rejected rows go to a temporary file that becomes the rejects CSV.
* A row that fails validation is rejected with its line number and a reason (on
  the job, in the rejects CSV: ``line, reason, <original columns>``); valid rows
  are imported. With ``strict`` nothing is imported if any row is invalid.
* Upsert: a debt is matched by (client, debt_reference), a debtor by
  ``external_ref`` within the workspace (a row without one gets a new debtor unless
  its debt exists). Importing the same file again creates nothing: rows are
  ``unchanged``, or ``updated`` when a non-money field changed (a due date, a new
  phone). Money is never changed silently: a different amount for an existing
  debt is rejected ("post an adjustment instead").
* A new debt is written with its opening CHARGE entry and its balance in the same
  transaction (balance == sum of the ledger), as ``debt_create`` does; a debtor
  under 18 puts the debt ON_HOLD. One audit event per import, not per row.
* On PostgreSQL, rows are inserted through COPY into temporary staging tables and
  set-based ``INSERT … SELECT`` (``debtors.imports_pg``); elsewhere with
  ``bulk_create``. Everything before the insert is the same code.
"""

from __future__ import annotations

import csv
import io
import logging
import random
import re
import secrets
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, connections, transaction
from django.db.models import Model, Q
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Workspace
from audit.services import audit_record
from collectpro.crypto import keyring
from collectpro.crypto.fields import DecryptionError
from collectpro.crypto.keyring import SubjectKeyMaker
from collectpro.models import SubjectKey, uuid7
from collectpro.tenancy import workspace_context
from debtors.import_rows import (
    COLUMNS,
    REQUIRED,
    SEALED_COLUMNS,
    ImportContext,
    PlacementRow,
    PreparedChunk,
    Record,
    RowPool,
    SealedDebtor,
    default_workers,
    prepare_chunk,
    row_values,
    seal_debtor,
)
from debtors.models import (
    Client,
    Debt,
    DebtEvent,
    Debtor,
    DebtorKind,
    DebtStatus,
    EntryKind,
    ImportStatus,
    LedgerEntry,
    PlacementImport,
)
from debtors.services.debtors import ADULT_AGE, DebtorInput, age_on
from debtors.services.money import from_minor
from debtors.services.priority import score as priority_score

logger = logging.getLogger(__name__)

# Rows per transaction. PostgreSQL's COPY path likes bigger chunks.
CHUNK_ROWS = {"postgresql": 5000}
DEFAULT_CHUNK_ROWS = 2000
HEADER_MAX_BYTES = 64 * 1024
# pg_advisory_xact_lock namespace: chunks of concurrent imports into one workspace
# take turns, so two files naming the same new debtor cannot both create it.
ADVISORY_LOCK_NAMESPACE = 0x504C4331  # "PLC1"
WHOLE_IMPORT_LOCK_NAMESPACE = 0x504C4332  # "PLC2": see _one_import_at_a_time

Progress = Callable[[str, int, int], None]  # (phase: "validating" | "importing", rows done, total rows)


def _is_postgres() -> bool:
    return connection.vendor == "postgresql"


def chunk_rows() -> int:
    return CHUNK_ROWS.get(connection.vendor, DEFAULT_CHUNK_ROWS)


# --- Header ------------------------------------------------------------------


def clean_header_map(header_map: dict[str, Any] | None) -> dict[str, str]:
    """{our column: their column}, checked: unknown targets are an error, not ignored."""
    if not header_map:
        return {}
    if not isinstance(header_map, dict):
        raise ValidationError({"header_map": "Give the mapping as {our_column: your_column}."})
    unknown = sorted(str(k) for k in header_map if k not in COLUMNS)
    if unknown:
        raise ValidationError(
            {"header_map": f"Unknown column(s) {', '.join(unknown)}; the columns are: {', '.join(COLUMNS)}."}
        )
    cleaned: dict[str, str] = {}
    for ours, theirs in header_map.items():
        if not isinstance(theirs, str) or not theirs.strip():
            raise ValidationError({"header_map": f"Name the file's column for {ours}."})
        cleaned[ours] = theirs.strip()
    return cleaned


def parse_header_map(text: str | None, *, one_per_line: bool = False) -> dict[str, str]:
    """``external_ref=Customer No,amount=Balance`` (the command's ``--map``) or one
    pair per line (``one_per_line``: the upload page, where a column name may hold
    a comma) → {our column: their column}; a malformed pair is a ValidationError
    naming it."""
    mapping: dict[str, str] = {}
    for part in re.split(r"\n" if one_per_line else r"[,\n]", text or ""):
        if not part.strip():
            continue
        ours, sep, theirs = part.partition("=")
        if not sep or not ours.strip() or not theirs.strip():
            raise ValidationError({"header_map": f"Write our_column=your_column (got {part.strip()!r})."})
        mapping[ours.strip()] = theirs.strip()
    return mapping


def header_positions(header: list[str], header_map: dict[str, str], *, has_client: bool) -> dict[str, int]:
    """Our column → its position in the file, or a ValidationError naming every problem."""
    found: dict[str, int] = {}
    for position, name in enumerate(header):
        key = name.strip().casefold()
        if not key:
            continue
        if key in found:
            raise ValidationError({"file": f"The header names the column {name.strip()!r} twice."})
        found[key] = position
    positions: dict[str, int] = {}
    problems: list[str] = []
    for column in COLUMNS:
        theirs = header_map.get(column, column)
        at = found.get(theirs.casefold())
        if at is not None:
            positions[column] = at
        elif column in header_map:
            problems.append(f"the mapped column {theirs!r} (for {column}) is not in the file")
    missing = [c for c in REQUIRED if c not in positions]
    if not has_client and "client_ref" not in positions:
        missing.append("client_ref (or choose a client for the whole file)")
    if missing:
        problems.insert(0, "missing required column(s): " + ", ".join(missing))
    if problems:
        shown = ", ".join(h.strip() for h in header if h.strip())[:300]
        raise ValidationError(
            {"file": f"The header is not usable: {'; '.join(problems)}. Columns found: {shown or 'none'}."}
        )
    return positions


def _read_header(file_obj: IO[Any]) -> list[str]:
    file_obj.seek(0)
    head = file_obj.read(HEADER_MAX_BYTES)
    file_obj.seek(0)
    text = head.decode("utf-8-sig", errors="replace") if isinstance(head, bytes) else head.lstrip("\ufeff")
    if not text.strip():
        raise ValidationError({"file": "The file is empty."})
    if "\n" not in text and "\r" not in text and len(head) >= HEADER_MAX_BYTES:
        raise ValidationError({"file": "The first line is too long to be a header."})
    try:
        header = next(csv.reader(io.StringIO(text)), [])
    except csv.Error as exc:
        raise ValidationError({"file": f"The header is not valid CSV ({exc})."}) from None
    if not any(h.strip() for h in header):
        raise ValidationError({"file": "The first line must be the header (column names)."})
    return header


# --- Creating and queueing a job ---------------------------------------------------


def placement_import_create(
    *,
    workspace: Workspace,
    file_obj: IO[Any],
    file_name: str,
    client: Client | None = None,
    strict: bool = False,
    header_map: dict[str, Any] | None = None,
    actor: Any = None,
) -> PlacementImport:
    """Store an uploaded placement file (private storage, random name) and create a
    pending job for it. The header is checked now, so a file missing required
    columns is refused at once and nothing is stored. Queue the job with
    ``placement_import_enqueue`` (or run it with ``placement_import_execute``)."""
    if client is not None and client.workspace_id != workspace.pk:
        raise ValidationError({"client": "No such client."})
    mapping = clean_header_map(header_map)
    header_positions(_read_header(file_obj), mapping, has_client=client is not None)
    storage_name = default_storage.save(f"imports/{workspace.pk}/{secrets.token_hex(16)}.csv", File(file_obj))
    try:
        with workspace_context(workspace):
            job = PlacementImport(
                workspace=workspace,
                client=client,
                file_name=(file_name or "placements.csv")[:200],
                storage_name=storage_name,
                strict=strict,
                header_map=mapping,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            job.save(force_insert=True)
            audit_record(
                action="placement.uploaded",
                workspace=workspace,
                obj=job,
                actor_user_id=getattr(actor, "pk", None),
                metadata={"strict": strict, "client_id": str(client.pk) if client else None},
            )
    except BaseException:
        default_storage.delete(storage_name)
        raise
    return job


def placement_import_enqueue(job: PlacementImport) -> None:
    """Run the job on a worker once the transaction that created it commits."""
    from debtors.tasks import placement_import_run

    workspace_id, import_id = job.workspace_id, str(job.pk)
    transaction.on_commit(lambda: placement_import_run.delay(workspace_id, import_id))


def placement_import_rejects(job: PlacementImport, *, limit: int | None = None) -> Iterator[tuple[int, str]]:
    """(line, reason) of the job's rejected rows, read back from its rejects CSV."""
    if not job.rejects_storage_name:
        return
    with default_storage.open(job.rejects_storage_name, "rb") as fh:
        reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8", newline=""))
        next(reader, None)
        for count, row in enumerate(reader):
            if limit is not None and count >= limit:
                return
            yield int(row[0]), row[1]


# --- Planning a chunk ----------------------------------------------------------------

DIGESTED = ("full_name", "email", "phone", "national_id")  # compared through their blind indexes
PLAIN = ("address", "date_of_birth")  # compared after decryption


@dataclass
class DebtorState:
    """A debtor as the chunk sees it: new (values to insert) or existing (loaded row
    plus the changes rows of this chunk make to it)."""

    id: uuid.UUID | str
    external_ref: str
    is_minor: bool
    is_new: bool
    values: dict[str, str] = field(default_factory=dict)
    row: Debtor | None = None
    erased: bool = False
    changed: dict[str, str] = field(default_factory=dict)
    sealed: SealedDebtor | None = None  # prepared by import_rows (new debtors only)


@dataclass
class NewDebt:
    id: uuid.UUID
    client_id: Any
    debtor: DebtorState
    reference: str
    currency: str
    amount_minor: int
    due_date: date | None


@dataclass
class DebtChange:
    debt_id: Any
    due_date: date | None
    fields: list[str]


@dataclass
class ChunkPlan:
    new_debtors: list[DebtorState] = field(default_factory=list)
    new_debts: list[NewDebt] = field(default_factory=list)
    changed_debtors: dict[Any, DebtorState] = field(default_factory=dict)
    debt_changes: list[DebtChange] = field(default_factory=list)
    rejects: list[tuple[int, str, list[str]]] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0


class SeenKeys:
    """The (client, reference) keys already met in this file, with their line, kept
    in a temporary table so memory stays flat however long the file is."""

    TABLE = "placement_import_seen"

    def reset(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {self.TABLE} (k varchar(200) PRIMARY KEY, line integer NOT NULL)"
            )
            cursor.execute(f"DELETE FROM {self.TABLE}")  # noqa: S608  (constant table name)

    def drop(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.TABLE}")

    def forget_from(self, line: int) -> None:
        """Forget the keys met on ``line`` and after (their chunks will be planned again)."""
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {self.TABLE} WHERE line >= %s", [line])  # noqa: S608

    def lookup(self, keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        with connection.cursor() as cursor:
            if _is_postgres():
                cursor.execute(f"SELECT k, line FROM {self.TABLE} WHERE k = ANY(%s)", [keys])  # noqa: S608
            else:
                found: dict[str, int] = {}
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    placeholders = ", ".join(["%s"] * len(part))
                    query = f"SELECT k, line FROM {self.TABLE} WHERE k IN ({placeholders})"  # noqa: S608  (no input in the SQL)
                    cursor.execute(query, part)
                    found.update(dict(cursor.fetchall()))
                return found
            return dict(cursor.fetchall())

    def add(self, keys: dict[str, int]) -> None:
        if not keys:
            return
        if _is_postgres():
            from debtors.imports_pg import copy_rows

            copy_rows(self.TABLE, ["k", "line"], keys.items())
            return
        with connection.cursor() as cursor:
            cursor.executemany(f"INSERT INTO {self.TABLE} (k, line) VALUES (%s, %s)", list(keys.items()))  # noqa: S608


class ChunkPlanner:
    """Turns a chunk of file rows into a plan: what to create, what to update and
    what to reject. Reads the database; writes nothing but the seen-keys table."""

    def __init__(self, ctx: ImportContext, seen: SeenKeys):
        self.ctx = ctx
        self.ws = ctx.workspace.pk
        self.seen = seen
        self._probe = Debtor(workspace_id=self.ws)
        self._prepared = PreparedChunk([], {})
        # New debtors of the chunk planned last, by external_ref, while it is being
        # written by another connection (see ImportRun._pass_pipelined).
        self.in_flight: dict[str, DebtorState] = {}

    def digest(self, name: str, value: str) -> str:
        return Debtor._meta.get_field(name).digest(self._probe, value)  # type: ignore[union-attr]

    def plan(self, records: list[Record], prepared: PreparedChunk | None = None) -> ChunkPlan:
        plan = ChunkPlan()
        if prepared is None:
            prepared = prepare_chunk(self.ctx, None, records)
        self._prepared = prepared
        checked = [(line, values, *result) for (line, values), result in zip(records, prepared.results(), strict=True)]
        keys = sorted({key for *_, key, _ in checked if key})
        earlier = self.seen.lookup(keys)
        first_seen: dict[str, int] = {}
        valid: list[tuple[PlacementRow, list[str]]] = []
        for line, values, row, key, errors in checked:
            if key is not None:
                first = earlier.get(key) or first_seen.get(key)
                if first is not None:
                    errors = [f"duplicate in file: the same client and debt_reference as line {first}", *errors]
                else:
                    first_seen[key] = line
            if errors or row is None:
                plan.rejects.append((line, "; ".join(errors), values))
            else:
                valid.append((row, values))
        self.seen.add(first_seen)
        if valid:
            self._decide(plan, valid)
        return plan

    def _load(self, rows: list[PlacementRow]) -> tuple[dict[str, Any], dict[Any, DebtorState], dict[str, DebtorState]]:
        ws = self.ws
        refs = sorted({r.reference for r in rows})
        debts = {
            f"{d['client_id']}|{d['reference']}": d
            for d in Debt.objects.for_workspace(ws)
            .filter(reference__in=refs)
            .values("id", "client_id", "reference", "debtor_id", "currency", "original_amount_minor", "due_date")
        }
        wanted_keys = {r.key for r in rows}
        debts = {k: d for k, d in debts.items() if k in wanted_keys}
        ext_refs = sorted({r.debtor.external_ref for r in rows if r.debtor.external_ref})
        debtor_ids = {d["debtor_id"] for d in debts.values()}
        found = (
            Debtor.objects.for_workspace(ws)
            .filter(Q(external_ref__in=ext_refs) | Q(pk__in=debtor_ids))
            .only(
                "id",
                "workspace",
                "external_ref",
                "is_minor",
                "address",
                "date_of_birth",
                *(f"{n}_bidx" for n in DIGESTED),
            )
            .order_by("id")
        )
        by_id: dict[Any, DebtorState] = {}
        by_ext: dict[str, DebtorState] = {}
        for debtor in found:
            state = DebtorState(
                id=debtor.pk, external_ref=debtor.external_ref, is_minor=debtor.is_minor, is_new=False, row=debtor
            )
            by_id[debtor.pk] = state
            if debtor.external_ref in ext_refs and debtor.external_ref not in by_ext:
                by_ext[debtor.external_ref] = state  # the oldest debtor with that reference
        shredded = keyring.subject_keys_load(ws, "debtor", [str(i) for i in by_id])
        for state in by_id.values():
            state.erased = str(state.id) in shredded
        for ref in ext_refs:
            written = self.in_flight.get(ref)
            if written is not None and ref not in by_ext:
                # Created by the previous chunk, whose transaction may not have
                # committed yet (pipelined writing): an existing debtor, known values.
                by_ext[ref] = DebtorState(
                    id=written.id, external_ref=ref, is_minor=written.is_minor, is_new=False, values=written.values
                )
        return debts, by_id, by_ext

    def _decide(self, plan: ChunkPlan, valid: list[tuple[PlacementRow, list[str]]]) -> None:
        debts, by_id, by_ext = self._load([row for row, _ in valid])
        for row, values in valid:
            existing = debts.get(row.key)
            if existing is not None:
                self._existing_debt(plan, row, values, existing, by_id[existing["debtor_id"]])
            else:
                self._new_debt(plan, row, values, by_ext)

    def _existing_debt(
        self, plan: ChunkPlan, row: PlacementRow, values: list[str], debt: dict[str, Any], debtor: DebtorState
    ) -> None:
        reason = None
        ext = row.debtor.external_ref
        if debtor.erased:
            reason = "the debtor of this debt was erased (data-subject request); their details cannot be imported again"
        elif ext and ext != debtor.external_ref:
            reason = f"the debt is already placed for another debtor (external_ref {debtor.external_ref or 'empty'!r}, not {ext!r})"
        elif row.currency != debt["currency"]:
            reason = f"currency differs from the placed currency ({debt['currency']})"
        elif row.amount_minor != debt["original_amount_minor"]:
            placed = f"{from_minor(debt['original_amount_minor'], debt['currency'])} {debt['currency']}"
            reason = f"amount differs from the placed amount ({placed}); post an adjustment instead"
        if reason is None:
            try:
                debtor_fields = self._apply(debtor, row.debtor)
            except (DecryptionError, keyring.SubjectKeyShredded):
                reason = "the debtor's stored details cannot be read; ask an administrator to check the keys"
        if reason is not None:
            plan.rejects.append((row.line, reason, values))
            return
        if debtor.changed:
            plan.changed_debtors[debtor.id] = debtor
        fields = list(debtor_fields)
        due = None
        if row.due_date is not None and row.due_date != debt["due_date"]:
            due = debt["due_date"] = row.due_date
            fields.insert(0, "due_date")
        if not fields:
            plan.unchanged += 1
            return
        plan.updated += 1
        plan.debt_changes.append(DebtChange(debt["id"], due, fields))

    def _new_debt(self, plan: ChunkPlan, row: PlacementRow, values: list[str], by_ext: dict[str, DebtorState]) -> None:
        ext = row.debtor.external_ref
        debtor = by_ext.get(ext) if ext else None
        if debtor is not None and debtor.erased:
            plan.rejects.append(
                (
                    row.line,
                    f"the debtor with external_ref {ext!r} was erased (data-subject request); their details cannot be imported again",
                    values,
                )
            )
            return
        if debtor is None:
            dob = row.debtor.date_of_birth
            sealed = self._prepared.sealed(row.group())
            debtor = DebtorState(
                id=sealed.id if sealed else uuid7(),
                external_ref=ext,
                is_new=True,
                values=row_values(row.debtor),
                is_minor=bool(dob and age_on(dob, self.ctx.today) < ADULT_AGE),
                sealed=sealed,
            )
            plan.new_debtors.append(debtor)
            if ext:
                by_ext[ext] = debtor
        else:
            try:
                self._apply(debtor, row.debtor)
            except (DecryptionError, keyring.SubjectKeyShredded):
                plan.rejects.append(
                    (
                        row.line,
                        "the debtor's stored details cannot be read; ask an administrator to check the keys",
                        values,
                    )
                )
                return
        plan.created += 1
        plan.new_debts.append(
            NewDebt(uuid7(), row.client_id, debtor, row.reference, row.currency, row.amount_minor, row.due_date)
        )
        if not debtor.is_new and debtor.changed:
            plan.changed_debtors[debtor.id] = debtor

    def _apply(self, debtor: DebtorState, data: DebtorInput) -> list[str]:
        """Fold a row's debtor details into the state; the names of fields it changes.
        An empty cell never erases what is held."""
        incoming = row_values(data)
        if debtor.is_new:
            debtor.values.update(incoming)
            return []
        changed: list[str] = []
        for name, value in incoming.items():
            if name in debtor.changed:
                same = debtor.changed[name] == value
            elif debtor.row is None:  # written by the chunk before: its values are known
                same = debtor.values.get(name) == value
            elif name in DIGESTED:
                same = self.digest(name, value) == getattr(debtor.row, f"{name}_bidx")
            else:
                same = getattr(debtor.row, name) == value  # decrypts (keys were loaded in bulk)
            if not same:
                debtor.changed[name] = value
                changed.append(name)
        return changed


# --- Writing a chunk -----------------------------------------------------------------

SUBJECT_KEY_COLUMNS = (
    "id",
    "workspace_id",
    "subject_type",
    "subject_id",
    "workspace_key_id",
    "wrapped_key",
    "created_at",
)
DEBTOR_COLUMNS = ("id", "workspace_id", "kind", "external_ref", "timezone", "is_minor", "created_at", *SEALED_COLUMNS)
DEBT_COLUMNS = (
    "id",
    "workspace_id",
    "client_id",
    "debtor_id",
    "reference",
    "currency",
    "original_amount_minor",
    "balance_minor",
    "due_date",
    "status",
    "priority_score",
    "created_at",
    "updated_at",
)
ENTRY_COLUMNS = (
    "id",
    "workspace_id",
    "debt_id",
    "kind",
    "amount_minor",
    "currency",
    "effective_on",
    "posted_at",
    "memo",
    "created_by_id",
)
EVENT_COLUMNS = (
    "id",
    "workspace_id",
    "debt_id",
    "kind",
    "summary",
    "amount_minor",
    "object_type",
    "object_id",
    "actor_id",
    "created_at",
)


def _insert(model: type[Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Insert rows given as tuples of values in ``columns`` order (attnames, the
    primary key among them); other fields get their defaults."""
    if not rows:
        return
    if _is_postgres():
        from debtors.imports_pg import copy_insert

        copy_insert(model, columns, rows)
    else:
        objs = [model(**dict(zip(columns, row, strict=True))) for row in rows]
        model.objects.bulk_create(objs, batch_size=500)  # type: ignore[attr-defined]


class ChunkWriter:
    """Writes a plan: new debtors (with their data keys), new debts with their
    opening charge and balance, timeline events, and updates — all inside the
    caller's transaction."""

    def __init__(self, ctx: ImportContext, actor_id: int | None, maker: SubjectKeyMaker | None = None):
        self.ctx = ctx
        self.ws = ctx.workspace.pk
        self.actor_id = actor_id
        self.maker = maker

    def key_maker(self) -> SubjectKeyMaker:
        """The active workspace key, asked of the database once per chunk: a
        ``rotate_keys`` run may have retired the one in hand (nothing may be wrapped
        under a retired key: its material is erased)."""
        active = keyring.active_workspace_key(self.ws, use_cache=False)
        if self.maker is None or self.maker.workspace_key_id != str(active.pk):
            self.maker = keyring.SubjectKeyMaker.for_workspace(self.ws)
        return self.maker

    def write(self, plan: ChunkPlan) -> None:
        now = timezone.now()
        self._new_debtors(plan.new_debtors, now)
        self._new_debts(plan.new_debts, now)
        self._changes(plan, now)

    def _new_debtors(self, states: list[DebtorState], now: Any) -> None:
        if not states:
            return
        maker = self.key_maker()
        ws, tz, person = self.ws, self.ctx.default_timezone, DebtorKind.PERSON.value
        keys, rows = [], []
        for s in states:
            sealed = s.sealed
            if sealed is None or sealed.values != s.values or sealed.workspace_key_id != maker.workspace_key_id:
                sealed = seal_debtor(maker, s.id, s.values)  # the chunk's rows changed what was sealed
            keys.append((sealed.key_id, ws, "debtor", str(s.id), maker.workspace_key_id, sealed.wrapped_key, now))
            rows.append((s.id, ws, person, s.external_ref, tz, s.is_minor, now, *sealed.sealed))
        _insert(SubjectKey, SUBJECT_KEY_COLUMNS, keys)
        _insert(Debtor, DEBTOR_COLUMNS, rows)

    def _new_debts(self, new_debts: list[NewDebt], now: Any) -> None:
        debts: list[tuple[Any, ...]] = []
        entries: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        ws, actor, today = self.ws, self.actor_id, self.ctx.today
        charge, placed, held = EntryKind.CHARGE.value, DebtStatus.NEW.value, DebtStatus.ON_HOLD.value
        hold_summary = f"Status {placed} → {held} (debtor under 18: held until reviewed)"
        for nd in new_debts:
            hold = nd.debtor.is_minor
            amount = nd.amount_minor
            debts.append(
                (
                    nd.id,
                    ws,
                    nd.client_id,
                    nd.debtor.id,
                    nd.reference,
                    nd.currency,
                    amount,
                    amount,
                    nd.due_date,
                    held if hold else placed,
                    0
                    if hold
                    else priority_score(
                        status=placed,
                        balance_minor=amount,
                        currency=nd.currency,
                        due_date=nd.due_date,
                        last_contact_at=None,
                        today=today,
                        now=now,
                    ),
                    now,
                    now,
                )
            )
            entry_id = uuid7()
            entries.append(
                (entry_id, ws, nd.id, charge, amount, nd.currency, nd.due_date or today, now, "Placed balance", actor)
            )
            summary = f"Charge {from_minor(amount, nd.currency)} {nd.currency}"
            events.append(
                (uuid7(), ws, nd.id, f"ledger.{charge}", summary, amount, "ledgerentry", str(entry_id), actor, now)
            )
            if hold:
                events.append((uuid7(), ws, nd.id, "status", hold_summary, None, "", "", actor, now))
        # The debt and its opening charge in one transaction: balance == sum(ledger).
        _insert(Debt, DEBT_COLUMNS, debts)
        _insert(LedgerEntry, ENTRY_COLUMNS, entries)
        _insert(DebtEvent, EVENT_COLUMNS, events)

    def _changes(self, plan: ChunkPlan, now: Any) -> None:
        for debtor in plan.changed_debtors.values():
            obj = Debtor(id=debtor.id, workspace_id=self.ws)
            obj._state.adding = False  # an UPDATE of the named fields, not an INSERT
            names = []
            for name, value in debtor.changed.items():
                setattr(obj, name, value)
                names.append(name)
                if name in DIGESTED:
                    names.append(f"{name}_bidx")
            obj.save(update_fields=names)  # encrypts and re-indexes the changed fields
        due = [
            Debt(id=c.debt_id, workspace_id=self.ws, due_date=c.due_date, updated_at=now)
            for c in plan.debt_changes
            if c.due_date
        ]
        if due:
            Debt.objects.for_workspace(self.ws).bulk_update(due, ["due_date", "updated_at"])
        _insert(
            DebtEvent,
            EVENT_COLUMNS,
            [
                (
                    uuid7(),
                    self.ws,
                    c.debt_id,
                    "placement.updated",
                    f"Updated by a placement import: {', '.join(f.replace('_', ' ') for f in c.fields)}"[:200],
                    None,
                    "",
                    "",
                    self.actor_id,
                    now,
                )
                for c in plan.debt_changes
            ],
        )


# --- Running a job -------------------------------------------------------------------


class _StrictAbort(Exception):
    """A strict import met an invalid row while writing: roll everything back."""


class _Rejects:
    """Rejected rows, spooled to a temporary file and stored as a CSV at the end."""

    def __init__(self, header: list[str]):
        self._raw = tempfile.TemporaryFile()  # noqa: SIM115  (closed in close())
        self._text = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")
        self._writer = csv.writer(self._text)
        self._writer.writerow(["line", "reason", *header])
        self.count = 0

    def add(self, rejects: Iterable[tuple[int, str, list[str]]]) -> None:
        for line, reason, values in rejects:
            self._writer.writerow([line, reason, *values])
            self.count += 1

    def store(self, workspace_id: int) -> str:
        if not self.count:
            return ""
        self._text.flush()
        self._raw.seek(0)
        return default_storage.save(
            f"imports/{workspace_id}/{secrets.token_hex(16)}-rejects.csv", File(self._raw, name="rejects.csv")
        )

    def close(self) -> None:
        self._text.close()


@dataclass
class _Totals:
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    def plus(self, plan: ChunkPlan, rows: int, *, validating: bool = False) -> _Totals:
        if validating:  # nothing is written while validating: only the rows count
            return _Totals(self.processed + rows, self.created, self.updated, self.unchanged)
        return _Totals(
            self.processed + rows,
            self.created + plan.created,
            self.updated + plan.updated,
            self.unchanged + plan.unchanged,
        )


def _open_rows(storage_name: str) -> tuple[list[str], Iterator[tuple[int, list[str]]], Callable[[], int]]:
    """(header, rows as (line number, values), current line) — blank lines skipped."""
    fh = default_storage.open(storage_name, "rb")
    reader = csv.reader(io.TextIOWrapper(fh, encoding="utf-8-sig", errors="replace", newline=""))
    header = next(reader, [])

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            last = reader.line_num
            for values in reader:
                line, last = last + 1, reader.line_num
                if any(v.strip() for v in values):
                    yield line, values
        finally:
            fh.close()

    return header, rows(), lambda: reader.line_num


def _chunks(rows: Iterator[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _one_import_at_a_time(workspace_id: int) -> Iterator[None]:
    """On PostgreSQL, imports into one workspace run one after another (a session
    advisory lock, held for the whole run): a pipelined import plans a chunk before
    it takes the chunk's lock, so another import must not create debtors meanwhile."""
    if not _is_postgres():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s, %s)", [WHOLE_IMPORT_LOCK_NAMESPACE, workspace_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [WHOLE_IMPORT_LOCK_NAMESPACE, workspace_id])


@dataclass
class _InFlight:
    """A chunk handed to the writer thread."""

    chunk: list[Record]
    prepared: PreparedChunk
    plan: ChunkPlan
    totals: _Totals
    future: Future[None]


class ImportRun:
    """One execution of a claimed job: counts the rows, then plans and writes chunk
    after chunk, each in its own transaction (strict: see ``run``)."""

    def __init__(self, workspace: Workspace, job: PlacementImport, progress: Progress | None):
        self.workspace = workspace
        self.job = job
        self.progress = progress
        self.seen = SeenKeys()
        self.totals = _Totals()
        self.total = 0
        self.rejects: _Rejects | None = None
        self.line: Callable[[], int] = lambda: 0

    def _context(self, header: list[str]) -> ImportContext:
        positions = header_positions(header, self.job.header_map or {}, has_client=self.job.client_id is not None)
        clients = Client.objects.for_workspace(self.workspace)
        return ImportContext(
            workspace=self.workspace,
            positions=positions,
            width=len(header),
            clients=dict(clients.values_list("reference", "id")),
            client=clients.filter(pk=self.job.client_id).first() if self.job.client_id else None,
            today=timezone.localdate(),
            default_timezone=profile_for(self.workspace.jurisdiction).default_timezone,
        )

    def save_job(self, totals: _Totals, rejected: int, **extra: Any) -> None:
        PlacementImport.objects.for_workspace(self.workspace).filter(pk=self.job.pk).update(
            processed_rows=totals.processed,
            created_count=totals.created,
            updated_count=totals.updated,
            unchanged_count=totals.unchanged,
            rejected_count=rejected,
            **extra,
        )

    def run(self) -> None:
        with _one_import_at_a_time(self.workspace.pk):
            self._run()

    def _run(self) -> None:
        _, rows, self.line = _open_rows(self.job.storage_name)
        self.total = sum(1 for _ in rows)  # a cheap first pass, for the progress bar
        header, rows, self.line = _open_rows(self.job.storage_name)
        self.rejects = _Rejects(header)
        with workspace_context(self.workspace):
            self.save_job(self.totals, 0, total_rows=self.total)
            self.seen.reset()
            ctx = self._context(header)
            maker = keyring.SubjectKeyMaker.for_workspace(self.workspace.pk)
        planner = ChunkPlanner(ctx, self.seen)
        writer = ChunkWriter(ctx, self.job.created_by_id, maker)
        pool = RowPool(ctx, maker, default_workers(self.total))
        try:
            if not self.job.strict:
                if self._can_pipeline():
                    self._pass_pipelined(pool, planner, writer, rows)
                else:
                    self._pass(pool, planner, writer, rows, phase="importing")
                return
            # Strict: validate every row first (writing nothing); import only if all
            # are good, and then in one transaction, so a row that turns bad meanwhile
            # (a concurrent change) still leaves nothing imported.
            self._pass(pool, planner, None, rows, phase="validating")
            if self.rejects.count:
                return
            validated, self.totals = self.totals, _Totals()
            _, rows, self.line = _open_rows(self.job.storage_name)
            try:
                with workspace_context(self.workspace):
                    self.seen.reset()
                    self._pass(pool, planner, writer, rows, phase="importing", save=False, abort_on_reject=True)
            except _StrictAbort:
                self.totals = validated
            except BaseException:
                self.totals = validated  # the transaction rolled back: nothing was imported
                raise
        finally:
            pool.close()

    def _pass(
        self,
        pool: RowPool,
        planner: ChunkPlanner,
        writer: ChunkWriter | None,
        rows: Iterator[Record],
        *,
        phase: str,
        save: bool = True,
        abort_on_reject: bool = False,
    ) -> None:
        """One pass over the file: rows are prepared (validated, and sealed when they
        will be written) ahead in the pool; chunks are planned and written in order."""
        for chunk, prepared in pool.prepared(_chunks(rows, chunk_rows()), seal=writer is not None):
            self._chunk(planner, writer, chunk, prepared, phase=phase, save=save)
            if abort_on_reject and self.rejects is not None and self.rejects.count:
                raise _StrictAbort

    def _can_pipeline(self) -> bool:
        """Write on a second connection while planning the next chunk? On PostgreSQL,
        for big files, outside a transaction (a caller's open transaction, e.g. a
        test's, would hide its rows from the writer's connection)."""
        minimum = settings.PLACEMENT_IMPORT_PIPELINE_MIN_ROWS
        return _is_postgres() and not connection.in_atomic_block and self.total >= minimum

    def _pass_pipelined(
        self, pool: RowPool, planner: ChunkPlanner, writer: ChunkWriter, rows: Iterator[Record]
    ) -> None:
        """The import pass with writing overlapped: chunk N is written (and committed)
        by a writer thread on its own connection while this thread plans chunk N+1, so
        the database's work and ours proceed side by side. One chunk is in flight at
        a time; the planner sees its new debtors through ``in_flight``. If a write
        fails on a unique constraint (something placed the same debt meanwhile), the
        rest of the file goes the serial way, which plans again and retries."""
        serial = False
        flying: _InFlight | None = None
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="placement-writer") as executor:
            try:
                for chunk, prepared in pool.prepared(_chunks(rows, chunk_rows()), seal=True):
                    if serial:
                        self._chunk(planner, writer, chunk, prepared, phase="importing")
                        continue
                    with workspace_context(self.workspace):
                        plan = planner.plan(chunk, prepared)
                    if flying is not None and not self._settle(flying):
                        serial = self._go_serial(planner, writer, flying)
                        self._chunk(planner, writer, chunk, prepared, phase="importing")
                        flying = None
                        continue
                    planner.in_flight = {d.external_ref: d for d in plan.new_debtors if d.external_ref}
                    totals = self.totals.plus(plan, len(chunk))
                    assert self.rejects is not None
                    rejected = self.rejects.count + len(plan.rejects)
                    future = executor.submit(self._write, writer, plan, totals, rejected)
                    flying = _InFlight(chunk, prepared, plan, totals, future)
                if flying is not None and not self._settle(flying):
                    self._go_serial(planner, writer, flying)
                flying = None
            except BaseException:
                if flying is not None:  # e.g. the file turned out to be bad CSV further on
                    with suppress(Exception):  # the first error is the one to report
                        self._settle(flying)  # count what was committed before it
                raise
            finally:
                planner.in_flight = {}
                executor.submit(connections.close_all).result()  # the writer thread's connection

    def _write(self, writer: ChunkWriter, plan: ChunkPlan, totals: _Totals, rejected: int) -> None:
        with workspace_context(self.workspace):
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, self.workspace.pk])
            writer.write(plan)
            self.save_job(totals, rejected)

    def _settle(self, flying: _InFlight) -> bool:
        """Wait for a chunk's write; count it. False if it hit a unique constraint."""
        try:
            flying.future.result()
        except IntegrityError:
            return False
        assert self.rejects is not None
        self.totals = flying.totals
        self.rejects.add(flying.plan.rejects)
        if self.progress is not None:
            self.progress("importing", self.totals.processed, self.total)
        return True

    def _go_serial(self, planner: ChunkPlanner, writer: ChunkWriter, failed: _InFlight) -> bool:
        planner.in_flight = {}
        self.seen.forget_from(failed.chunk[0][0])  # that chunk and the one planned after it
        self._chunk(planner, writer, failed.chunk, failed.prepared, phase="importing")
        return True

    def _chunk(
        self,
        planner: ChunkPlanner,
        writer: ChunkWriter | None,
        chunk: list[Record],
        prepared: PreparedChunk,
        *,
        phase: str,
        save: bool = True,
    ) -> None:
        assert self.rejects is not None
        for attempt in (1, 2):
            try:
                with workspace_context(self.workspace):
                    if writer is not None and _is_postgres():
                        with connection.cursor() as cursor:
                            cursor.execute(
                                "SELECT pg_advisory_xact_lock(%s, %s)", [ADVISORY_LOCK_NAMESPACE, self.workspace.pk]
                            )
                    plan = planner.plan(chunk, prepared)
                    if writer is not None:
                        writer.write(plan)
                    totals = self.totals.plus(plan, len(chunk), validating=writer is None)
                    if save:
                        self.save_job(totals, self.rejects.count + len(plan.rejects))
                break
            except IntegrityError:
                # Another writer placed one of these debts meanwhile: plan the chunk again.
                if attempt == 2:
                    raise
        self.totals = totals
        self.rejects.add(plan.rejects)
        if self.progress is not None:
            self.progress(phase, self.totals.processed, self.total)


def placement_import_execute(
    *, workspace: Workspace, import_id: Any, progress: Progress | None = None
) -> PlacementImport:
    """Run a pending import job to the end (safe to call twice: only a pending job is
    claimed, atomically; a running or finished one is returned as it is)."""
    with workspace_context(workspace):
        claimed = (
            PlacementImport.objects.for_workspace(workspace)
            .filter(pk=import_id, status=ImportStatus.PENDING)
            .update(status=ImportStatus.RUNNING, started_at=timezone.now())
        )
        job = PlacementImport.objects.for_workspace(workspace).get(pk=import_id)
    if not claimed:
        return job
    run = ImportRun(workspace, job, progress)
    status, error = ImportStatus.DONE, ""
    try:
        run.run()
    except csv.Error as exc:
        status, error = ImportStatus.FAILED, f"line {run.line()}: the file is not valid CSV ({exc})"
    except ValidationError as exc:
        status, error = ImportStatus.FAILED, " ".join(exc.messages)
    except Exception as exc:
        logger.exception("placement import %s failed", job.pk)
        kept = "nothing was imported" if job.strict else "rows before it were imported"
        status, error = ImportStatus.FAILED, f"Unexpected error near line {run.line()} ({type(exc).__name__}); {kept}."
    return _finish(run, status, error[:500])


def _finish(run: ImportRun, status: str, error: str) -> PlacementImport:
    workspace, job = run.workspace, run.job
    rejects_name = ""
    if run.rejects is not None:
        rejects_name = run.rejects.store(workspace.pk)
        run.rejects.close()
    t = run.totals
    with workspace_context(workspace):
        run.seen.drop()
        if _is_postgres():
            from debtors.imports_pg import drop_staging

            drop_staging()
        run.save_job(
            t,
            run.rejects.count if run.rejects else 0,
            status=status,
            error=error,
            finished_at=timezone.now(),
            rejects_storage_name=rejects_name,
        )
        job.refresh_from_db()
        audit_record(
            action="placement.imported",
            workspace=workspace,
            obj=job,
            actor_user_id=job.created_by_id,
            metadata={
                "status": status,
                "strict": job.strict,
                "rows": t.processed,
                "created": t.created,
                "updated": t.updated,
                "unchanged": t.unchanged,
                "rejected": job.rejected_count,
            },
        )
    # The upload holds every row in clear text; once imported it has no further use.
    default_storage.delete(job.storage_name)
    return job


# --- Test and benchmark data ---------------------------------------------------------

_FIRST = ("Asha", "Ravi", "Meera", "Arjun", "Priya", "Kiran", "Sunil", "Divya", "Rahul", "Neha", "Vikram", "Anita")
_LAST = ("Rao", "Sharma", "Iyer", "Patel", "Reddy", "Nair", "Gupta", "Das", "Singh", "Menon", "Joshi", "Kulkarni")


def generate_placements_csv(path: Any, rows: int, *, clients: list[str], seed: int = 0, currency: str = "INR") -> None:
    """Write a realistic placement file of ``rows`` rows (about one debtor in three
    has two debts). Deterministic for a given seed; every row is valid."""
    today = date(2026, 1, 1)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(rows):
            person = i - (1 if i % 3 == 2 else 0)  # rows 1 and 2 of each triple share a debtor
            rng = random.Random(seed * 1_000_003 + person)  # noqa: S311  (test data)
            first, last = rng.choice(_FIRST), rng.choice(_LAST)
            born = today - timedelta(days=rng.randint(20 * 365, 70 * 365))
            amount = rng.randint(1_000, 50_000_000)
            due = today + timedelta(days=(i * 7) % 365)
            writer.writerow(
                [
                    f"CUST-{seed}-{person}",
                    f"{first} {last}",
                    f"{first}.{last}.{person}@example.com".lower(),
                    f"+91 9{rng.randint(100_000_000, 999_999_999)}",
                    f"{rng.randint(1, 999)} MG Road, Pune",
                    born.isoformat(),
                    f"{rng.choice('ABCDE')}{rng.randint(10**8, 10**9 - 1)}",
                    f"LN-{seed}-{i}",
                    f"{amount // 100}.{amount % 100:02d}",
                    currency,
                    due.isoformat(),
                    clients[i % len(clients)],
                ]
            )


def placement_rejects_purge(*, workspace_id: int, now: Any = None) -> int:
    """Delete the rejects files of imports that finished more than
    ``PLACEMENT_REJECTS_RETENTION_DAYS`` ago (their rows are personal data as
    uploaded); the jobs keep their counts. One audit event per run that deleted
    any. Idempotent; returns how many files were deleted."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.PLACEMENT_REJECTS_RETENTION_DAYS)
    due = list(
        PlacementImport.objects.for_workspace(workspace_id)
        .filter(finished_at__lt=cutoff, rejects_purged_at__isnull=True)
        .exclude(rejects_storage_name="")
        .values_list("pk", "rejects_storage_name")
    )
    purged = []
    for pk, name in due:
        # The file first: if deleting fails the job keeps pointing at it and a later
        # run tries again (pages cope with a file that is already gone).
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("placement import %s: could not delete its rejects file; will retry", pk)
            continue
        purged.append(pk)
    if purged:
        with transaction.atomic():
            PlacementImport.objects.for_workspace(workspace_id).filter(pk__in=purged).update(
                rejects_storage_name="", rejects_purged_at=now
            )
            audit_record(
                action="placement.rejects_purged",
                workspace=workspace_id,
                object_type="debtors.placementimport",
                metadata={
                    "imports": [str(pk) for pk in purged],
                    "retention_days": settings.PLACEMENT_REJECTS_RETENTION_DAYS,
                },
            )
    return len(purged)


def rejects_download(job: PlacementImport) -> Any:
    """The rejects CSV of a job as a download, audited (it holds rows as uploaded);
    410 Gone once the retention rule has deleted it."""
    from django.http import FileResponse, Http404, HttpResponse

    from audit import actions
    from audit.services import record_personal_data_access

    if job.rejects_purged_at is not None:
        return HttpResponse(
            f"The rejects file was deleted on {job.rejects_purged_at:%Y-%m-%d}, "
            f"{settings.PLACEMENT_REJECTS_RETENTION_DAYS} days after the import (retention rule).",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    if not job.rejects_storage_name:
        raise Http404("This import rejected no rows")
    if not default_storage.exists(job.rejects_storage_name):
        raise Http404("The rejects file is missing from storage")
    record_personal_data_access(
        subject=job, fields=["rejected rows"], purpose="rejects download", kind=actions.PERSONAL_DATA_DOWNLOAD
    )
    return FileResponse(
        default_storage.open(job.rejects_storage_name, "rb"),
        content_type="text/csv",
        as_attachment=True,
        filename=f"rejects-{job.pk}.csv",
    )
