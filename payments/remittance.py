"""Remittance: what each client is owed for a period — collected minus commission.

Collected = payments posted in the period minus refunds and reversals of payments
posted in the period (money that came back out). Commission = collected ×
commission_rate_bps / 10,000, rounded half up to the minor unit, per client.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone

from debtors.models import Client, EntryKind, LedgerEntry
from debtors.services.money import from_minor


def parse_period(period: str) -> tuple[date, date]:
    today = timezone.localdate()
    if not period:
        start = today.replace(day=1)
    else:
        try:
            start = datetime.strptime(period, "%Y-%m").date()  # noqa: DTZ007 (a calendar month)
        except ValueError:
            raise ValueError("Use YYYY-MM.") from None
    end = date(start.year + (start.month // 12), start.month % 12 + 1, 1)
    return start, end


def commission_of(collected_minor: int, rate_bps: int) -> int:
    return (collected_minor * rate_bps + 5_000) // 10_000


def remittance_rows(*, workspace: Any, start: date, end: date, client: Client | None = None) -> list[dict[str, Any]]:
    tz = timezone.get_current_timezone()
    since, until = datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end, time.min, tzinfo=tz)
    money_in = Q(kind=EntryKind.PAYMENT) | Q(kind=EntryKind.REFUND) | Q(kind=EntryKind.REVERSAL, reverses__kind=EntryKind.PAYMENT)
    qs = LedgerEntry.objects.for_workspace(workspace).filter(money_in, posted_at__gte=since, posted_at__lt=until)
    if client is not None:
        qs = qs.filter(debt__client=client)
    totals = {r["debt__client_id"]: (r["total"], r["currency"]) for r in qs.values("debt__client_id", "currency").annotate(total=Sum("amount_minor"))}
    clients = Client.objects.for_workspace(workspace).filter(pk__in=totals.keys()) if client is None else [client]
    rows = []
    for c in sorted(clients, key=lambda c: c.reference):
        total, currency = totals.get(c.pk, (0, getattr(workspace, "currency", "")))
        collected = -total  # payments are negative entries
        commission = commission_of(collected, c.commission_rate_bps)
        rows.append({
            "client_id": str(c.pk), "client_ref": c.reference, "client": c.name, "currency": currency,
            "collected_minor": collected, "commission_minor": commission, "net_minor": collected - commission,
            "collected": from_minor(collected, currency), "commission": from_minor(commission, currency),
            "net": from_minor(collected - commission, currency), "commission_rate_bps": c.commission_rate_bps,
        })
    return rows


def remittance_statement(*, workspace: Any, period: str, client: Client | None = None) -> dict[str, Any]:
    start, end = parse_period(period)
    return {"period": start.strftime("%Y-%m"), "from": start.isoformat(), "to": end.isoformat(), "clients": remittance_rows(workspace=workspace, start=start, end=end, client=client)}
