"""Audit records of bulk reads and exports of debtor and debt data.

A single debtor's details go through ``audit.services.record_personal_data_access``;
these cover a page of debtors or a whole export, which that helper (one subject per
event) cannot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

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


def debts_export_record(*, workspace: Workspace, rows: int, filters: Iterable[str]) -> AuditEvent:
    """Record a queue export: how many rows, and the names of the filters applied.
    A search (``q``) is left out, as the saved views leave it out."""
    applied = sorted(name for name in filters if name != "q")
    return audit_record(action=actions.DEBTS_EXPORTED, workspace=workspace, metadata={"rows": rows, "filters": applied})
