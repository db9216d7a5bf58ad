"""Audit records of bulk reads and exports of debtor and debt data.

A single debtor's details go through ``audit.services.record_personal_data_access``;
these cover a page of debtors or a whole export, which that helper (one subject per
event) cannot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import transaction

from accounts.models import Workspace
from audit import actions
from audit.models import AuditEvent
from audit.services import audit_record
from debtors.models import Debtor


def debtors_read_record(
    *, workspace: Workspace, debtors: Iterable[Debtor], fields: Sequence[str], purpose: str
) -> AuditEvent:
    """Record that a page of debtors was read: their ids and the field names shown,
    never the values."""
    return audit_record(
        action=actions.PERSONAL_DATA_READ,
        workspace=workspace,
        object_type="debtors.debtor",
        metadata={"ids": [str(d.pk) for d in debtors], "fields": list(fields), "purpose": purpose},
    )


# The debt columns the queue CSV holds (debtors.queue.EXPORT_HEADER), as registry names.
QUEUE_EXPORT_FIELDS = tuple(
    f"debtors.debt.{name}"
    for name in (
        "reference",
        "status",
        "currency",
        "original_amount_minor",
        "balance_minor",
        "due_date",
        "last_payment_at",
    )
)
# People per ``personal_data.export`` event of an export (about 40 kB of ids each).
EXPORT_IDS_PER_EVENT = 1000


def debts_export_record(
    *, workspace: Workspace, rows: int, filters: Iterable[str], debtor_ids: Iterable[Any] = ()
) -> AuditEvent:
    """Record a queue export: how many rows, the names of the filters applied (a
    search, ``q``, is left out, as the saved views leave it out) and **whose debts
    it held**: the distinct debtor ids, in ``personal_data.export`` events of at most
    ``EXPORT_IDS_PER_EVENT`` ids each, written right after the export's event in the
    same transaction (so they follow it in the chain: ``seq + 1 … seq + parts``).
    Ids and column names only, never values; the breach finder reads them to say
    who was in a lost or leaked file."""
    applied = sorted(name for name in filters if name != "q")
    people = sorted({str(pk) for pk in debtor_ids})
    parts = [people[i : i + EXPORT_IDS_PER_EVENT] for i in range(0, len(people), EXPORT_IDS_PER_EVENT)]
    with transaction.atomic():
        event = audit_record(
            action=actions.DEBTS_EXPORTED,
            workspace=workspace,
            metadata={"rows": rows, "filters": applied, "people": len(people), "parts": len(parts)},
        )
        for number, ids in enumerate(parts, start=1):
            audit_record(
                action=actions.PERSONAL_DATA_EXPORT,
                workspace=workspace,
                object_type="debtors.debtor",
                metadata={
                    "ids": ids,
                    "fields": list(QUEUE_EXPORT_FIELDS),
                    "purpose": "queue export",
                    "export": event.pk,
                    "part": number,
                },
            )
    return event
