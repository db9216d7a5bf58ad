"""The client portal's figures and the client's monthly statement.

A client (a creditor who places debts) sees its portfolio, what was collected, the
agency's commission and the net remittance. Money is in the workspace's currency
(a statement lists every currency, each line in its own); see ``reporting.dashboard``
for the rules every figure keeps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from accounts.models import Client, Membership, Workspace
from debtors.models import Debt, DebtStatus, LedgerEntry
from debtors.services.money import from_minor
from reporting.figure_cache import cached
from reporting.formatting import commission_minor
from reporting.queries import (
    COLLECTION,
    FINISHED,
    add_months,
    collected_sum,
    commission_sum,
    entries_of,
    entry_commission,
    midnight,
    month_start,
    negated,
    posted_between,
    visible_debts,
)

PORTAL_MONTHS = 12


def client_portal(*, workspace: Workspace, membership: Membership, client: Client, today: date) -> dict[str, Any]:
    """A client's portfolio by status, and its collections, commission and net
    remittance (collected − commission) this month, last month, to date and per
    month for the last ``PORTAL_MONTHS`` months. Three aggregate queries."""

    def compute() -> dict[str, Any]:
        tz = ZoneInfo(workspace.timezone)
        debts = visible_debts(workspace, membership, client)
        entries = entries_of(workspace, debts)
        statuses = _statuses(debts)
        this_start = month_start(today)
        last_start = add_months(this_start, -1)
        return {
            "currency": workspace.currency,
            "client": {
                "id": client.pk,
                "name": client.name,
                "reference": client.reference,
                "commission_rate_bps": client.commission_rate_bps,
            },
            "statuses": statuses,
            "debts": sum(s["count"] for s in statuses),
            "placed": sum(s["placed"] for s in statuses),
            "outstanding": sum(s["balance"] for s in statuses if s["status"] not in FINISHED),
            "totals": _totals(entries, client.commission_rate_bps, today, tz),
            "months": _months(entries, client.commission_rate_bps, today, tz),
            "this_month_label": this_start.strftime("%B %Y"),
            "last_month_label": last_start.strftime("%B %Y"),
        }

    return cached("portal", workspace, membership, today, compute, extra=f"client{client.pk}")


def _statuses(debts: QuerySet[Debt]) -> list[dict[str, Any]]:
    """Debts, balance and placed amount per status (one GROUP BY)."""
    labels = dict(DebtStatus.choices)
    rows = (
        debts.values("status")
        .annotate(count=Count("id"), balance=Sum("balance_minor"), placed=Sum("original_amount_minor"))
        .order_by("status")
    )
    return [
        {
            "status": row["status"],
            "label": labels.get(row["status"], row["status"]),
            "count": row["count"],
            "balance": row["balance"] or 0,
            "placed": row["placed"] or 0,
        }
        for row in rows
    ]


def _totals(entries: QuerySet[LedgerEntry], bps: int, today: date, tz: ZoneInfo) -> dict[str, dict[str, int]]:
    """Collected, commission and net this month, last month and to date (one aggregate)."""
    this_start = month_start(today)
    last_start = add_months(this_start, -1)
    tomorrow = midnight(today + timedelta(days=1), tz)
    periods = {
        "this_month": posted_between(midnight(this_start, tz), tomorrow),
        "last_month": posted_between(midnight(last_start, tz), midnight(this_start, tz)),
        "to_date": Q(posted_at__lt=tomorrow),
    }
    aggregates: dict[str, Any] = {}
    for name, period in periods.items():
        aggregates[f"{name}_collected"] = collected_sum(period)
        aggregates[f"{name}_commission"] = commission_sum(bps, period)
    sums = entries.aggregate(**aggregates)
    totals = {}
    for name in periods:
        collected, commission = negated(sums[f"{name}_collected"]), negated(sums[f"{name}_commission"])
        totals[name] = {"collected": collected, "commission": commission, "net": collected - commission}
    return totals


def _months(entries: QuerySet[LedgerEntry], bps: int, today: date, tz: ZoneInfo) -> list[dict[str, Any]]:
    """Collected, commission and net per month over the last ``PORTAL_MONTHS``
    months, oldest first; months without money are zeros (one GROUP BY)."""
    first_month = add_months(month_start(today), -(PORTAL_MONTHS - 1))
    rows = (
        entries.filter(COLLECTION, posted_between(midnight(first_month, tz), midnight(today + timedelta(days=1), tz)))
        .annotate(month=TruncMonth("posted_at", tzinfo=tz))
        .values("month")
        .annotate(total=Sum("amount_minor"), commission=Sum(entry_commission(bps)))
        .order_by("month")
    )
    by_month = {_as_date(row["month"]): row for row in rows}
    months = []
    for offset in range(PORTAL_MONTHS):
        month = add_months(first_month, offset)
        row = by_month.get(month, {})
        collected, commission = negated(row.get("total")), negated(row.get("commission"))
        months.append({"month": month, "collected": collected, "commission": commission, "net": collected - commission})
    return months


def _as_date(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


# --- Statement ----------------------------------------------------------------------


def statement_entries(
    *, workspace: Workspace, membership: Membership, client: Client, month: date
) -> QuerySet[LedgerEntry, tuple[Any, ...]]:
    """The collection entries of ``client``'s visible debts posted in ``month``
    (workspace timezone), oldest first, as ``(posted_at, debt reference, kind,
    amount_minor)`` tuples — no debtor names or contact details. Not cached: a
    statement is read from the ledger itself."""
    tz = ZoneInfo(workspace.timezone)
    start = midnight(month_start(month), tz)
    end = midnight(add_months(month_start(month), 1), tz)
    return (
        entries_of(workspace, visible_debts(workspace, membership, client, any_currency=True))
        .filter(COLLECTION, posted_between(start, end))
        .order_by("posted_at", "id")
        .values_list("posted_at", "debt__reference", "kind", "amount_minor", "currency")
    )


def statement_line(entry: tuple[Any, ...], *, bps: int, tz: ZoneInfo) -> list[str]:
    """One CSV line: posting date, debt reference, kind, collected, commission, net
    and the currency they are in (the debt's: a statement can hold several)."""
    posted_at, reference, kind, amount_minor, currency = entry
    collected = -amount_minor
    commission = commission_minor(collected, bps)
    return [
        posted_at.astimezone(tz).date().isoformat(),
        _csv_text(reference),
        kind,
        from_minor(collected, currency),
        from_minor(commission, currency),
        from_minor(collected - commission, currency),
        currency,
    ]


def _csv_text(value: str) -> str:
    """Neutralise spreadsheet formulas in free text (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
