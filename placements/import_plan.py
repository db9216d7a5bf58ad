"""Placement imports, step 2: planning a chunk — which rows are rejected, which
debtors and debts are new, changed or unchanged (``placements.imports`` has the rules)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import Q

from debtors.models import (
    Debt,
    Debtor,
)
from debtors.services.debtors import ADULT_AGE, DebtorInput, age_on
from debtors.services.money import from_minor
from kernel.crypto import keyring
from kernel.crypto.fields import DecryptionError
from kernel.models import uuid7
from placements.import_rows import (
    ImportContext,
    PlacementRow,
    PreparedChunk,
    Record,
    SealedDebtor,
    on_postgres,
    prepare_chunk,
    row_values,
)
from placements.imports_pg import copy_rows

logger = logging.getLogger(__name__)

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
            if on_postgres():
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
        if on_postgres():
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
