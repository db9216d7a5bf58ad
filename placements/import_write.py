"""Placement imports, step 3: writing a planned chunk in one transaction — COPY and
set-based SQL on PostgreSQL, ``bulk_create`` elsewhere."""

from __future__ import annotations

import logging
from typing import Any

from django.db.models import Model
from django.utils import timezone

from debtors.models import (
    Debt,
    DebtEvent,
    Debtor,
    DebtorKind,
    DebtStatus,
    EntryKind,
    LedgerEntry,
)
from debtors.services.money import from_minor
from debtors.services.priority import score as priority_score
from kernel.crypto import keyring
from kernel.crypto.keyring import SubjectKeyMaker
from kernel.models import SubjectKey, uuid7
from placements.import_plan import DIGESTED, ChunkPlan, DebtorState, NewDebt
from placements.import_rows import (
    SEALED_COLUMNS,
    ImportContext,
    on_postgres,
    seal_debtor,
)
from placements.imports_pg import copy_insert

logger = logging.getLogger(__name__)

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
    if on_postgres():
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
