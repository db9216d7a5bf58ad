"""The work queue: role-scoped, filtered, keyset-paginated (no COUNT(*), no OFFSET),
so page 1 and page 10,000 cost the same at a million debts."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F, Q, QuerySet

from accounts.models import Workspace
from debtors.models import Debt
from debtors.selectors import debt_search_filter, debts_visible_to
from debtors.services.money import from_minor

# order name → (fields, label). Each ends with "id" so the order is total.
ORDERINGS: dict[str, tuple[tuple[str, ...], str]] = {
    "priority": (("-priority_score", "-balance_minor", "-id"), "Priority"),
    "balance": (("-balance_minor", "-id"), "Balance (highest first)"),
    "days_past_due": (("due_date", "-id"), "Days past due (oldest first)"),
    "last_contact": (("last_contact_at", "-id"), "Last contact (longest ago first)"),
    "newest": (("-created_at", "-id"), "Newest placements"),
}


@dataclass
class QueueFilters:
    status: str = ""
    client: str = ""
    agent: str = ""
    due_from: date | None = None
    due_to: date | None = None
    q: str = ""
    order: str = "priority"


def _value(debt: Debt, field: str) -> Any:
    v = getattr(debt, field.lstrip("-"))
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if v is not None and not isinstance(v, int | str):
        return str(v)
    return v


def encode_cursor(debt: Debt, order: str) -> str:
    fields = ORDERINGS[order][0]
    raw = json.dumps([_value(debt, f) for f in fields]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list[Any] | None:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        return values if isinstance(values, list) else None
    except (ValueError, TypeError):
        return None


def _nullable(name: str) -> bool:
    return bool(getattr(Debt._meta.get_field(name), "null", False))


def _after(fields: tuple[str, ...], values: list[Any]) -> Q:
    """Rows strictly after ``values`` in the ordering (NULLs of nullable sort keys
    are placed last, as the ORDER BY does). The first key also gets a plain bound
    (``<=``/``>=``) so the database can start the index scan at the cursor."""
    q = Q()
    for i, field in enumerate(fields):
        name = field.lstrip("-")
        desc = field.startswith("-")
        value = values[i]
        eq = Q(**{f"{f.lstrip('-')}": values[j] for j, f in enumerate(fields[:i]) if values[j] is not None})
        for j, f in enumerate(fields[:i]):
            if values[j] is None:
                eq &= Q(**{f"{f.lstrip('-')}__isnull": True})
        if value is None:
            continue  # nothing sorts after NULL except later keys (handled by eq chain)
        step = Q(**{f"{name}__lt" if desc else f"{name}__gt": value})
        if _nullable(name):
            step |= Q(**{f"{name}__isnull": True})
        q |= eq & step
    first, first_value = fields[0].lstrip("-"), values[0]
    if first_value is not None and not _nullable(first):
        q &= Q(**{f"{first}__lte" if fields[0].startswith("-") else f"{first}__gte": first_value})
    return q


def queue(
    *, workspace: Workspace, membership: Any, filters: QueueFilters, cursor: str = "", page_size: int = 25
) -> tuple[list[Debt], str | None]:
    order = filters.order if filters.order in ORDERINGS else "priority"
    fields = ORDERINGS[order][0]
    qs: QuerySet[Debt] = debts_visible_to(workspace=workspace, membership=membership).select_related(
        "client", "assigned_agent"
    )
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.client:
        qs = qs.filter(client_id=filters.client)
    if filters.agent == "none":
        qs = qs.filter(assigned_agent__isnull=True)
    elif filters.agent:
        qs = qs.filter(assigned_agent_id=int(filters.agent))
    if filters.due_from:
        qs = qs.filter(due_date__gte=filters.due_from)
    if filters.due_to:
        qs = qs.filter(due_date__lte=filters.due_to)
    if filters.q:
        qs = qs.filter(debt_search_filter(workspace, filters.q))
    if cursor:
        values = _decode_cursor(cursor)
        if values is not None and len(values) == len(fields):
            qs = qs.filter(_after(fields, values))
    # NULLS LAST only where a column can be NULL, so the B-tree indexes serve the ORDER BY.
    ordering = [
        (
            F(f[1:]).desc(nulls_last=_nullable(f[1:]) or None)
            if f.startswith("-")
            else F(f).asc(nulls_last=_nullable(f) or None)
        )
        for f in fields
    ]
    rows = list(qs.order_by(*ordering)[: page_size + 1])
    next_cursor = encode_cursor(rows[page_size - 1], order) if len(rows) > page_size else None
    return rows[:page_size], next_cursor


# --- Export ---------------------------------------------------------------------------

EXPORT_MAX_ROWS = 100_000
EXPORT_PAGE_SIZE = 2000
# Debt data only: an export never holds a debtor's contact details.
EXPORT_HEADER = [
    "reference",
    "client",
    "status",
    "currency",
    "original_amount",
    "balance",
    "due_date",
    "assigned_agent",
    "last_contact_at",
    "last_payment_at",
]


def queue_export_rows(*, workspace: Workspace, membership: Any, filters: QueueFilters) -> list[Debt]:
    """The whole filtered queue (up to about ``EXPORT_MAX_ROWS``), read page by page
    through the same keyset pagination as the queue page."""
    rows: list[Debt] = []
    cursor: str | None = ""
    while cursor is not None and len(rows) < EXPORT_MAX_ROWS:
        page, cursor = queue(
            workspace=workspace, membership=membership, filters=filters, cursor=cursor, page_size=EXPORT_PAGE_SIZE
        )
        rows.extend(page)
    return rows


def queue_export_line(debt: Debt) -> list[Any]:
    """One CSV line, in ``EXPORT_HEADER`` order."""
    return [
        debt.reference,
        debt.client.reference,
        debt.status,
        debt.currency,
        from_minor(debt.original_amount_minor, debt.currency),
        from_minor(debt.balance_minor, debt.currency),
        debt.due_date or "",
        debt.assigned_agent.email if debt.assigned_agent else "",
        debt.last_contact_at or "",
        debt.last_payment_at or "",
    ]
