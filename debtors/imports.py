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
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import IO, Any

from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connection, transaction
from django.db.models import Model, Q
from django.utils import timezone

from accounts.jurisdictions import profile_for
from accounts.models import Workspace
from audit.services import audit_record
from collectpro.crypto import keyring
from collectpro.crypto.fields import DecryptionError, EncryptedField
from collectpro.models import SubjectKey, uuid7
from collectpro.tenancy import workspace_context
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
from debtors.services.debtors import ADULT_AGE, DebtorInput, age_on, clean_debtor_input
from debtors.services.money import MoneyError, exponent, from_minor, to_minor

logger = logging.getLogger(__name__)

COLUMNS = (
    "external_ref",
    "full_name",
    "email",
    "phone",
    "address",
    "date_of_birth",
    "national_id",
    "debt_reference",
    "amount",
    "currency",
    "due_date",
    "client_ref",
)
REQUIRED = ("full_name", "debt_reference", "amount")
# Rows per transaction. PostgreSQL's COPY path likes bigger chunks.
CHUNK_ROWS = {"postgresql": 5000}
DEFAULT_CHUNK_ROWS = 2000
HEADER_MAX_BYTES = 64 * 1024
MAX_AMOUNT_MINOR = 10**15
MAX_REF = 64
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# pg_advisory_xact_lock namespace: chunks of concurrent imports into one workspace
# take turns, so two files naming the same new debtor cannot both create it.
ADVISORY_LOCK_NAMESPACE = 0x504C4331  # "PLC1"

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


# --- Rows --------------------------------------------------------------------------


@dataclass
class ImportContext:
    """What row validation needs, loaded once per job."""

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


# --- Planning a chunk ----------------------------------------------------------------

DIGESTED = ("full_name", "email", "phone", "national_id")  # compared through their blind indexes
PLAIN = ("address", "date_of_birth")  # compared after decryption


@dataclass
class DebtorState:
    """A debtor as the chunk sees it: new (values to insert) or existing (loaded row
    plus the changes rows of this chunk make to it)."""

    id: uuid.UUID
    external_ref: str
    is_minor: bool
    is_new: bool
    values: dict[str, str] = field(default_factory=dict)
    row: Debtor | None = None
    erased: bool = False
    changed: dict[str, str] = field(default_factory=dict)


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


def _row_values(data: DebtorInput) -> dict[str, str]:
    values = {
        "full_name": data.full_name,
        "email": data.email,
        "phone": data.phone,
        "address": data.address,
        "date_of_birth": data.date_of_birth.isoformat() if data.date_of_birth else "",
        "national_id": data.national_id,
    }
    return {k: v for k, v in values.items() if v}


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

    def digest(self, name: str, value: str) -> str:
        return Debtor._meta.get_field(name).digest(self._probe, value)  # type: ignore[union-attr]

    def plan(self, records: list[tuple[int, list[str]]]) -> ChunkPlan:
        plan = ChunkPlan()
        checked = [(line, values, *validate_row(self.ctx, line, values)) for line, values in records]
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
            debtor = DebtorState(
                id=uuid7(),
                external_ref=ext,
                is_new=True,
                values=_row_values(row.debtor),
                is_minor=bool(dob and age_on(dob, self.ctx.today) < ADULT_AGE),
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
        incoming = _row_values(data)
        if debtor.is_new:
            debtor.values.update(incoming)
            return []
        changed: list[str] = []
        for name, value in incoming.items():
            if name in debtor.changed:
                same = debtor.changed[name] == value
            elif name in DIGESTED:
                same = self.digest(name, value) == getattr(debtor.row, f"{name}_bidx")
            else:
                same = getattr(debtor.row, name) == value  # decrypts (keys were loaded in bulk)
            if not same:
                debtor.changed[name] = value
                changed.append(name)
        return changed


# --- Writing a chunk -----------------------------------------------------------------

ENCRYPTED = [f for f in Debtor._meta.concrete_fields if isinstance(f, EncryptedField)]


class _EncryptionTarget:
    """What ``EncryptedField.pre_save`` reads of a model instance (pk, workspace_id,
    _meta and the value in ``__dict__``), without building a whole ``Debtor``: the
    field code encrypts and blind-indexes exactly as for ``save()``, at a fraction
    of the cost of model instances (imports create a million of them)."""

    _meta = Debtor._meta

    def __init__(self, pk: uuid.UUID, workspace_id: int):
        self.pk = pk
        self.workspace_id = workspace_id


def _insert(model: type[Model], rows: list[dict[str, Any]]) -> None:
    """Insert rows given as {attname: value} (every row with its primary key)."""
    if not rows:
        return
    if _is_postgres():
        from debtors.imports_pg import copy_insert

        copy_insert(model, rows)
    else:
        model.objects.bulk_create([model(**row) for row in rows], batch_size=500)  # type: ignore[attr-defined]


class ChunkWriter:
    """Writes a plan: new debtors (with their data keys), new debts with their
    opening charge and balance, timeline events, and updates — all inside the
    caller's transaction."""

    def __init__(self, ctx: ImportContext, actor_id: int | None):
        self.ctx = ctx
        self.ws = ctx.workspace.pk
        self.actor_id = actor_id

    def write(self, plan: ChunkPlan) -> None:
        now = timezone.now()
        self._new_debtors(plan.new_debtors, now)
        self._new_debts(plan.new_debts, now)
        self._changes(plan, now)

    def _new_debtors(self, states: list[DebtorState], now: Any) -> None:
        if not states:
            return
        insert = None
        if _is_postgres():
            from debtors.imports_pg import copy_insert_instances as insert  # type: ignore[assignment]
        keyring.subject_keys_bulk_create(self.ws, "debtor", [str(s.id) for s in states], insert=insert)
        rows = []
        for s in states:
            row: dict[str, Any] = {
                "id": s.id,
                "workspace_id": self.ws,
                "kind": DebtorKind.PERSON.value,
                "external_ref": s.external_ref,
                "timezone": self.ctx.default_timezone,
                "is_minor": s.is_minor,
                "created_at": now,
            }
            target = _EncryptionTarget(s.id, self.ws)
            for f in ENCRYPTED:
                target.__dict__[f.attname] = s.values.get(f.name)
                row[f.attname] = f.pre_save(target, True)  # type: ignore[arg-type]
                if f.blind_index:
                    row[f.blind_index] = target.__dict__.get(f.blind_index, "")
            rows.append(row)
        _insert(Debtor, rows)

    def _new_debts(self, new_debts: list[NewDebt], now: Any) -> None:
        debts, entries, events = [], [], []
        ws, actor, today = self.ws, self.actor_id, self.ctx.today
        for nd in new_debts:
            hold = nd.debtor.is_minor
            debts.append(
                {
                    "id": nd.id,
                    "workspace_id": ws,
                    "client_id": nd.client_id,
                    "debtor_id": nd.debtor.id,
                    "reference": nd.reference,
                    "currency": nd.currency,
                    "original_amount_minor": nd.amount_minor,
                    "balance_minor": nd.amount_minor,
                    "due_date": nd.due_date,
                    "status": (DebtStatus.ON_HOLD if hold else DebtStatus.NEW).value,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            entry_id = uuid7()
            entries.append(
                {
                    "id": entry_id,
                    "workspace_id": ws,
                    "debt_id": nd.id,
                    "kind": EntryKind.CHARGE.value,
                    "amount_minor": nd.amount_minor,
                    "currency": nd.currency,
                    "effective_on": nd.due_date or today,
                    "posted_at": now,
                    "memo": "Placed balance",
                    "created_by_id": actor,
                }
            )
            events.append(
                {
                    "id": uuid7(),
                    "workspace_id": ws,
                    "debt_id": nd.id,
                    "kind": f"ledger.{EntryKind.CHARGE.value}",
                    "summary": f"Charge {from_minor(nd.amount_minor, nd.currency)} {nd.currency}",
                    "amount_minor": nd.amount_minor,
                    "object_type": "ledgerentry",
                    "object_id": str(entry_id),
                    "actor_id": actor,
                    "created_at": now,
                }
            )
            if hold:
                events.append(
                    {
                        "id": uuid7(),
                        "workspace_id": ws,
                        "debt_id": nd.id,
                        "kind": "status",
                        "actor_id": actor,
                        "summary": f"Status {DebtStatus.NEW.value} → {DebtStatus.ON_HOLD.value} (debtor under 18: held until reviewed)",
                        "created_at": now,
                    }
                )
        # The debt and its opening charge in one transaction: balance == sum(ledger).
        _insert(Debt, debts)
        _insert(LedgerEntry, entries)
        _insert(DebtEvent, events)

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
            [
                {
                    "id": uuid7(),
                    "workspace_id": self.ws,
                    "debt_id": c.debt_id,
                    "kind": "placement.updated",
                    "actor_id": self.actor_id,
                    "created_at": now,
                    "summary": f"Updated by a placement import: {', '.join(f.replace('_', ' ') for f in c.fields)}"[
                        :200
                    ],
                }
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


def _chunks(rows: Iterator[tuple[int, list[str]]], size: int) -> Iterator[list[tuple[int, list[str]]]]:
    chunk: list[tuple[int, list[str]]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


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
        _, rows, self.line = _open_rows(self.job.storage_name)
        self.total = sum(1 for _ in rows)  # a cheap first pass, for the progress bar
        header, rows, self.line = _open_rows(self.job.storage_name)
        self.rejects = _Rejects(header)
        with workspace_context(self.workspace):
            self.save_job(self.totals, 0, total_rows=self.total)
            self.seen.reset()
            ctx = self._context(header)
        planner = ChunkPlanner(ctx, self.seen)
        writer = ChunkWriter(ctx, self.job.created_by_id)
        if not self.job.strict:
            for chunk in _chunks(rows, chunk_rows()):
                self._chunk(planner, writer, chunk, phase="importing")
            return
        # Strict: validate every row first (writing nothing); import only if all are
        # good, and then in one transaction, so a row that turns bad meanwhile (a
        # concurrent change) still leaves nothing imported.
        for chunk in _chunks(rows, chunk_rows()):
            self._chunk(planner, None, chunk, phase="validating")
        if self.rejects.count:
            return
        validated, self.totals = self.totals, _Totals()
        _, rows, self.line = _open_rows(self.job.storage_name)
        try:
            with workspace_context(self.workspace):
                self.seen.reset()
                for chunk in _chunks(rows, chunk_rows()):
                    self._chunk(planner, writer, chunk, phase="importing", save=False)
                    if self.rejects.count:
                        raise _StrictAbort
        except _StrictAbort:
            self.totals = validated
        except BaseException:
            self.totals = validated  # the transaction rolled back: nothing was imported
            raise

    def _chunk(
        self,
        planner: ChunkPlanner,
        writer: ChunkWriter | None,
        chunk: list[tuple[int, list[str]]],
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
                    plan = planner.plan(chunk)
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

            drop_staging([SubjectKey, Debtor, Debt, LedgerEntry, DebtEvent])
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


def rejects_download(job: PlacementImport) -> Any:
    """The rejects CSV of a job as a download, audited (it holds rows as uploaded)."""
    from django.http import FileResponse, Http404

    from audit import actions
    from audit.services import record_personal_data_access

    if not job.rejects_storage_name:
        raise Http404("This import rejected no rows")
    record_personal_data_access(
        subject=job, fields=["rejected rows"], purpose="rejects download", kind=actions.PERSONAL_DATA_DOWNLOAD
    )
    return FileResponse(
        default_storage.open(job.rejects_storage_name, "rb"),
        content_type="text/csv",
        as_attachment=True,
        filename=f"rejects-{job.pk}.csv",
    )
